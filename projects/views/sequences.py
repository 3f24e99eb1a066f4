"""Sequences, shots, takes, generation and the film."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import estimates, failures, pipeline, runway
from generation.models import Take
from projects import page_cache, review, services
from projects import usage as credit_usage
from projects.downloads import ranged_file_response
from projects.forms import (
    DirectionForm,
    NarrationForm,
    SequenceForm,
    ShareLinkForm,
    ShotForm,
)
from projects.models import (
    Sequence,
    Shot,
)
from projects.templatetags.studio import failure_reason, form_fields, percent, status_badge
from projects.views.common import (
    EDIT,
    SEQUENCE_STATUS_LABELS,
    SPEND_ERRORS,
    TAKE_STATUS_LABELS,
    _can_edit,
    _catalog_script,
    _confirm,
    _film_filename,
    _get_project_for_user,
    _get_sequence_for_user,
    _get_shot_for_user,
    _get_take_for_user,
    _pk_url,
    typed_text,
)
from projects.views.finishing import finishing_section
from projects.views.keyframes import keyframe_panels
from projects.views.projects import _project_context
from projects.views.sharing import versions_section

# --- sequences and shots -------------------------------------------------------------------------


@require_POST
@login_required
def create_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    project = _get_project_for_user(request, pk, EDIT)
    form = SequenceForm(request.POST, project=project)
    if not form.is_valid():
        context = _project_context(request, project, sequence_form=form)
        return render(request, "projects/project_detail.html", context)
    sequence = form.save(commit=False)
    sequence.project = project
    sequence.created_by = request.user
    sequence.save()
    messages.success(request, f"Sequence “{sequence.title}” created. Add its shots below.")
    return redirect("sequence_detail", pk=sequence.pk)


# The fields of a take that the storyboard shows; its request and notices (large JSON) and the rest
# are never read there.
TAKE_FIELDS = (
    "kind",
    "sequence_id",
    "shot_id",
    "status",
    "failure_code",
    "failure_message",
    "output",
    "last_frame",
    "input_first_frame",
    "duration",
    "progress",
    "estimated_credits",
    "cost_credits",
    "taken_over_at",
    "is_waiting_for_daily_limit",
    "created_at",
)


def _takes_of(shots: list[Shot]) -> dict[int, list[Take]]:
    """Each shot's takes, oldest first, by shot pk: one query for the whole sequence."""
    takes: dict[int, list[Take]] = {shot.pk: [] for shot in shots}
    # A shot's keyframe images are takes too; their panel is the keyframes' (projects.views.keyframes).
    rows = (
        Take.objects.filter(shot_id__in=list(takes), kind=Take.Kind.CLIP)
        .only(*TAKE_FIELDS)
        .order_by("created_at", "pk")
    )
    for take in rows:
        takes[take.shot_id].append(take)
    return takes


def _charge_text(take: Take) -> str:
    if take.cost_credits is not None:
        return f"{take.cost_credits} credits charged"
    if take.status == Take.Status.UNCONFIRMED:
        return f"{take.estimated_credits} credits held"
    if take.is_final:
        return "nothing charged"
    return f"about {take.estimated_credits} credits"


def _numbers(first: int, last: int) -> str:
    return f"shot {first}" if first == last else f"shots {first}–{last}"


def _retake_label(number: int, estimate: estimates.SequenceEstimate, numbers: dict[int, int]) -> str:
    """ "Retake shot 2 · 90 credits", naming the later shots a stitched retake makes too."""
    label = f"Retake shot {number}"
    later = sorted(numbers[item.shot.pk] for item in estimate.shots[1:])
    if later and later == list(range(later[0], later[-1] + 1)):
        label += f" and {_numbers(later[0], later[-1])}"
    elif later:
        label += " and shots " + ", ".join(map(str, later))
    return f"{label} · {estimate.total_credits} credits"


def _take_rows(takes: list[Take], shot: Shot, *, can_edit: bool, is_active: bool, urls: dict) -> list[dict]:
    """What a shot card shows of each take, worked out once here rather than per row in the template."""
    rows = []
    for number, take in enumerate(takes, start=1):
        status = take.status
        is_chosen = take.pk == shot.chosen_take_id
        row = {
            "pk": take.pk,
            "key": f"take-{take.pk}",
            "number": str(number),
            "is_chosen": is_chosen,
            "badge": status_badge(status),
            "status": TAKE_STATUS_LABELS.get(status, status),
            "charge": _charge_text(take),
            "reason": "",
            "fetch_url": "",
            "note": "",
            "video_url": "",
            "poster_url": urls["frame"](take.pk) + "?at=first" if take.input_first_frame else "",
            "thumb_url": urls["frame"](take.pk) + "?at=last" if take.last_frame else "",
            "percent": "",
            "choose_url": "",
            "takeover": take.takeover_note,
            "duration": take.duration,
        }
        if not row["poster_url"]:
            row["poster_url"] = row["thumb_url"]
        if status in (Take.Status.FAILED, Take.Status.UNCONFIRMED):
            row["reason"] = failure_reason(take)
            if can_edit and take.failure_code == failures.Code.DOWNLOAD:
                row["fetch_url"] = urls["fetch"](take.pk)
        elif status == Take.Status.CANCELLED and take.failure_message:
            row["note"] = f"{take.failure_message} {take.charge_note}"
        elif take.output:
            row["video_url"] = urls["video"](take.pk)
        elif take.is_waiting_for_daily_limit:
            row["status"], row["note"] = "Waiting for Runway's daily limit", take.failure_message
        elif not take.is_final:
            row["percent"] = str(percent(take.progress))
        if not is_chosen and can_edit and status == Take.Status.SUCCEEDED and not is_active:
            row["choose_url"] = urls["choose"](take.pk)
        rows.append(row)
    return rows


def _takes_panel(
    sequence: Sequence,
    shots: list[Shot],
    takes_of: dict[int, list[Take]],
    *,
    can_edit: bool,
    estimate: estimates.SequenceEstimate | None = None,
) -> dict:
    """Each shot's takes, rendered for its storyboard card (by shot pk), and what the page around
    them needs to know of them. The retake buttons carry their price, worked out from the sequence's
    `estimate` by the code that holds it (`estimates.retake_from`); without an estimate (the live
    progress of a generating sequence, where nothing may be retaken) there are none."""
    is_active = sequence.is_generating
    urls = {
        "retake": _pk_url("retake_shot"),
        "fetch": _pk_url("fetch_take_again"),
        "video": _pk_url("take_video"),
        "choose": _pk_url("choose_take"),
        "frame": _pk_url("take_frame"),
    }
    compare_url = reverse("sequence_compare", args=[sequence.pk])
    numbers = {shot.pk: n for n, shot in enumerate(shots, start=1)}
    active = {pk for pk, takes in takes_of.items() if any(not take.is_final for take in takes)}
    strips: dict[int, str] = {}
    has_actions = False
    spent = 0
    for shot in shots:
        takes = takes_of[shot.pk]
        spent += sum(take.cost_credits or 0 for take in takes)
        retake_url = retake_label = ""
        if takes and can_edit and not is_active and estimate is not None:
            retake = estimates.retake_from(estimate, shot.pk, active=active)
            if not any(item.error for item in retake.shots):
                retake_url = urls["retake"](shot.pk)
                retake_label = _retake_label(numbers[shot.pk], retake, numbers)
        rows = _take_rows(takes, shot, can_edit=can_edit, is_active=is_active, urls=urls)
        finished = [row for row in rows if row["video_url"]]
        chosen = next((row for row in rows if row["is_chosen"]), None)
        compare_href = ""
        if len(finished) >= 2:
            first = chosen if chosen and chosen["video_url"] else finished[-2]
            other = finished[-1] if finished[-1] is not first else finished[-2]
            compare_href = f"{compare_url}?a={first['pk']}&b={other['pk']}"
        has_actions = has_actions or bool(retake_url) or any(r["fetch_url"] or r["choose_url"] for r in rows)
        strips[shot.pk] = render_to_string(
            "projects/_take_list.html",
            {
                "shot": shot,
                "number": numbers[shot.pk],
                "takes": rows,
                "chosen": chosen,
                "others": [row for row in rows if row is not chosen],
                "retake_url": retake_url,
                "retake_label": retake_label,
                "compare_href": compare_href,
            },
        )
    return {
        "take_strips": strips,
        "has_progress_actions": has_actions,
        "has_stale": any(shot.is_stale for shot in shots),
        "spent_credits": spent,
    }


def _progress_context(
    sequence: Sequence, shots: list[Shot], takes_of: dict[int, list[Take]] | None, panel: dict | None = None
) -> dict:
    """The generation status: status, attention, film and the takes (`panel`, when already made)."""
    can_edit = _can_edit(sequence.my_role)
    if panel is None:
        estimate = None if sequence.is_generating else estimates.estimate_sequence(sequence)
        panel = _takes_panel(sequence, shots, takes_of, can_edit=can_edit, estimate=estimate)
        panel.update(_stale_offer(sequence, estimate, takes_of, can_edit=can_edit))
    attention = []
    if sequence.status == Sequence.Status.NEEDS_ATTENTION:
        numbers = {shot.pk: n for n, shot in enumerate(shots, start=1)}
        for shot in pipeline.stuck_shots(sequence, [(shot, takes_of[shot.pk]) for shot in shots]):
            takes = takes_of[shot.pk]
            attention.append({"number": numbers[shot.pk], "shot": shot, "take": takes[-1] if takes else None})
    return {
        "sequence": sequence,
        "sequence_status": SEQUENCE_STATUS_LABELS.get(sequence.status, sequence.status),
        "can_edit": can_edit,
        **panel,
        "is_active": sequence.is_generating,
        "attention": attention,
        "other_runway": _other_runway(sequence),
        # The latest run's charges, in the words of the usage page and the command line.
        "run_charges": pipeline.run_charges(sequence).words if sequence.started_at else "",
        "has_versions": bool(sequence.film) and sequence.versions.exists(),
    }


def _stale_offer(
    sequence: Sequence,
    estimate: estimates.SequenceEstimate | None,
    takes_of: dict[int, list[Take]] | None,
    *,
    can_edit: bool,
) -> dict:
    """The priced offer to make the stale shots (and the chains they start) again, from the same
    estimate the pipeline holds (`estimates.stale_from`), and which shots are stale in the film."""
    if estimate is None:
        return {"stale_label": "", "stale_numbers": "", "stale_count": 0}
    numbers = {item.shot.pk: n for n, item in enumerate(estimate.shots, start=1)}
    stale = [numbers[item.shot.pk] for item in estimate.shots if item.shot.is_stale]
    label = ""
    if stale and can_edit:
        active = {pk for pk, takes in (takes_of or {}).items() if any(not t.is_final for t in takes)}
        offer = estimates.stale_from(estimate, active=active)
        if offer.shots and not any(item.error for item in offer.shots):
            made = [numbers[item.shot.pk] for item in offer.shots]
            which = ", ".join(map(str, made))
            label = f"Regenerate shot{'s' if len(made) > 1 else ''} {which} · {offer.total_credits} credits"
    return {"stale_label": label, "stale_numbers": ", ".join(map(str, stale)), "stale_count": len(stale)}


def _other_runway(sequence: Sequence) -> str:
    """The API base of the Runway a generating sequence runs on, when it is not this site's own
    (a command line with a simulator of its own started it): this site cannot follow those takes."""
    if not sequence.is_generating or not sequence.runway_origin:
        return ""
    if sequence.runway_origin == pipeline.current_origin():
        return ""
    return runway.origin_base(sequence.runway_origin)


def _frame(source: estimates.FrameSource, *, take_frame: str, keyframe: str, urls: dict) -> dict:
    """One end of a shot card: where it comes from in words, and its picture when there is one."""
    url = ""
    if source.image is not None:
        url = urls["thumb"](source.image.pk) + "?size=thumb"
    elif source.kind == "keyframe" and keyframe:
        url = keyframe
    elif source.kind in ("previous", "open") and take_frame:
        url = take_frame
    return {"kind": source.kind, "label": source.label, "url": url}


def _shot_row(
    shot: Shot, index: int, item, first, last, form: ShotForm | None, *, urls: dict, previous
) -> dict:
    """One card of the storyboard, its words and links worked out here rather than per card in the
    template (the storyboard is the longest part of the page)."""
    meta = f"{shot.duration} s"
    if shot.seed is not None:
        meta += f" · seed {shot.seed}"
    if item:
        meta += f" · {item.credits} credits"
    classes = "card shot"
    if item and item.error:
        classes += " has-error"
    if shot.is_stale:
        classes += " is-stale"
    chosen = shot.chosen_take
    plan = item.plan if item else None

    def keyframe_url(keyframe) -> str:
        return urls["keyframe"](keyframe.chosen_take_id) if keyframe and keyframe.chosen_take_id else ""

    def last_frame_of(take) -> str:
        return urls["frame"](take.pk) + "?at=last" if take is not None and take.last_frame else ""

    return {
        "number": index + 1,
        "label": str(index + 1),
        "shot": shot,
        "anchor": f"shot-{shot.pk}",
        "edit_href": f"?edit={shot.pk}#shot-{shot.pk}",
        "classes": classes,
        "meta": meta,
        "prompt": shot.prompt or "(no prompt)",
        "first": first,
        "last": last,
        "first_frame": _frame(
            first,
            take_frame=last_frame_of(previous.chosen_take if previous else None),
            keyframe=keyframe_url(plan.first_keyframe if plan else None),
            urls=urls,
        ),
        "last_frame": _frame(
            last,
            take_frame=last_frame_of(chosen),
            keyframe=keyframe_url(plan.last_keyframe if plan else None),
            urls=urls,
        ),
        "estimate": item,
        "notices": item.notices if item else (),
        "error": item.error if item else "",
        "move_url": urls["move"](shot.pk),
        "delete_url": urls["delete"](shot.pk),
        "edit_url": urls["edit"](shot.pk),
        "form": form,
    }


def _runtime(shots: list[Shot]) -> float:
    """The film's length as planned: each shot's chosen clip as long as it came out, or as asked."""
    total = 0.0
    for shot in shots:
        take = shot.chosen_take
        total += take.duration if take is not None and take.duration else shot.duration
    return total


def _timeline(shots: list[Shot], rows: list[dict], film_duration: float | None) -> list[dict]:
    """Where each shot starts in the film, for the marks on its timeline (a click jumps to the card).
    Only when every shot has a chosen clip: the film is those clips one after the other."""
    if not shots or not film_duration or any(shot.chosen_take is None for shot in shots):
        return []
    marks, start = [], 0.0
    total = _runtime(shots)
    for shot, row in zip(shots, rows, strict=True):
        length = shot.chosen_take.duration or shot.duration
        marks.append(
            {
                "number": row["number"],
                "anchor": row["anchor"],
                "start": f"{start:.2f}",
                "at": f"{start:.1f}",
                "width": f"{100 * length / total:.2f}",
            }
        )
        start += length
    return marks


def _shot_parts(
    request: HttpRequest,
    sequence: Sequence,
    *,
    can_edit: bool,
    is_editable: bool,
    shot_form: tuple[int, ShotForm] | None,
    add_shot_form: ShotForm | None,
) -> dict:
    """The storyboard (a card per shot with its frames, prompt, estimate, keyframes and takes), the
    estimate and the film's timeline: everything the page makes from the rows of the sequence (kept
    by `page_cache` when no form is open)."""
    images = estimates.references_of(sequence)
    estimate = estimates.estimate_sequence(sequence, references=images)
    # The estimate has loaded the shots in order, with their frames and chosen takes: reuse them.
    shots = [item.shot for item in estimate.shots]
    to_generate = estimate.to_generate()
    by_shot = {item.shot.pk: item for item in estimate.shots}
    frames = estimates.frame_sources(sequence, estimate=estimate, references=images)

    urls = {
        "move": _pk_url("move_shot"),
        "delete": _pk_url("delete_shot"),
        "edit": _pk_url("edit_shot"),
        "thumb": _pk_url("reference_image_file"),
        "frame": _pk_url("take_frame"),
        "keyframe": _pk_url("keyframe_image"),
    }
    shot_rows = []
    for index, shot in enumerate(shots):
        item = by_shot.get(shot.pk)
        first, last = frames.get(shot.pk, estimates.UNKNOWN_FRAMES)
        # Only the shot being edited gets its form: rendering a form per shot dominated the page.
        form = None
        if is_editable and shot_form and shot_form[0] == shot.pk:
            form = shot_form[1]
        elif is_editable and request.GET.get("edit") == str(shot.pk):
            form = ShotForm(instance=shot, sequence=sequence, images=images, auto_id=f"shot{shot.pk}_%s")
        previous = shots[index - 1] if index else None
        shot_rows.append(_shot_row(shot, index, item, first, last, form, urls=urls, previous=previous))
    keyframe_data = keyframe_panels(sequence, shots, can_edit=can_edit)
    panel = {"take_strips": {}, "has_progress_actions": False, "has_stale": False, "spent_credits": 0}
    takes_of = None
    if sequence.status != Sequence.Status.DRAFT:
        takes_of = _takes_of(shots)
        panel = _takes_panel(sequence, shots, takes_of, can_edit=can_edit, estimate=estimate)
    panel.update(_stale_offer(sequence, estimate, takes_of, can_edit=can_edit))
    for row in shot_rows:
        row["keyframes"] = keyframe_data["by_shot"][row["shot"].pk]
        row["takes"] = panel["take_strips"].get(row["shot"].pk, "")

    if add_shot_form is None and is_editable:
        initial = services.new_shot_initial(sequence, shot_count=len(shots), references=images)
        add_shot_form = ShotForm(initial=initial, sequence=sequence, images=images, auto_id="new_%s")

    sequence_url = reverse("sequence_detail", args=[sequence.pk])
    shot_list = render_to_string(
        "projects/_shot_list.html",
        {
            "shot_rows": shot_rows,
            "is_editable": is_editable,
            "sequence_url": sequence_url,
            # The order the user sees, sent with a drop so that it never lands in another order.
            "order": ",".join(str(shot.pk) for shot in shots),
        },
        request=request,  # for the CSRF token of an open shot form (never kept: see below)
    )
    versions = versions_section(sequence)
    latest = versions["latest"]
    # Without a request, so without CSRF tokens: its forms are markers that `_with_version_forms`
    # fills for each page, and its per-comment buttons use those page forms through `form=`.
    versions_html = render_to_string(
        "projects/_film_versions.html", {"versions": versions, "can_edit": can_edit, "sequence": sequence}
    )
    parts = {
        "shot_list": shot_list,
        "order": ",".join(str(shot.pk) for shot in shots),
        "shot_count": len(shots),
        "runtime": _runtime(shots),
        "timeline": _timeline(shots, shot_rows, latest.get("duration") if latest else sequence.film_duration),
        "add_shot_fields": form_fields("projects/_shot_fields.html", add_shot_form) if add_shot_form else "",
        "estimate_credits": to_generate.total_credits,
        "to_generate_count": len(to_generate.shots),
        "kept_count": len(shots) - len(to_generate.shots),
        "has_errors": any(item.error for item in to_generate.shots),
        "keyframe_summary": keyframe_data["summary"],
        "versions": versions,
        "versions_html": versions_html,
        # Without its form, which is made for each page (a form is not something to keep).
        "finishing": {k: v for k, v in finishing_section(sequence).items() if k != "form"},
        **{key: value for key, value in panel.items() if key != "take_strips"},
    }
    return parts


def _with_version_forms(request: HttpRequest, html: str, versions: dict, *, can_edit: bool) -> str:
    """The kept versions section with this visitor's forms (each holds a CSRF token) put in at its
    markers: a version's send form, its comment form and the one reply form of its comments, and
    the section's forms that the per-comment "resolved" and "retake" buttons submit."""
    if not versions["rows"]:
        return html
    for row in versions["rows"]:
        # What the forms read of a row, and nothing else, makes their key.
        mark = {"pk": row["pk"], "number": row["number"], "is_sent": row["is_sent"]}
        context = {"row": mark, "can_edit": can_edit}
        forms = page_cache.kept_markup(
            ("version-forms", *mark.values(), can_edit),
            "projects/_version_forms.html",
            context,
            request=request,
        )
        send, comment = forms.split("<!--split-->")
        html = html.replace(f"<!--send-version-form:{row['pk']}-->", send, 1)
        html = html.replace(f"<!--staff-comment-form:{row['pk']}-->", comment, 1)
    token = get_token(request)
    section_forms = (
        f'<form id="version-actions" method="post" action="" data-review-ajax hidden>'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}"></form>'
        f'<form id="version-posts" method="post" action="" hidden>'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}"></form>'
    )
    return mark_safe(html.replace("<!--version-forms-->", section_forms, 1))  # noqa: S308 (markup made here and by templates)


def _sequence_context(
    request: HttpRequest,
    sequence: Sequence,
    *,
    sequence_form: SequenceForm | None = None,
    shot_form: tuple[int, ShotForm] | None = None,
    add_shot_form: ShotForm | None = None,
) -> dict:
    can_edit = _can_edit(sequence.my_role)
    is_editable = can_edit and not sequence.is_generating

    def make_parts() -> dict:
        return _shot_parts(
            request,
            sequence,
            can_edit=can_edit,
            is_editable=is_editable,
            shot_form=shot_form,
            add_shot_form=add_shot_form,
        )

    # An open form (a shot being edited, a rejected new shot) is the user's own: made afresh.
    if shot_form or add_shot_form or "edit" in request.GET:
        parts = make_parts()
    else:
        parts = page_cache.kept((page_cache.sequence_digest(sequence), can_edit, is_editable), make_parts)
    meter = credit_usage.month_meter(request.user)

    # Who has a link, and how it is used, is for the people who may make and revoke links.
    share_links = []
    if can_edit and sequence.status == Sequence.Status.DONE:
        share_links = list(sequence.share_links.select_related("version"))

    context = {
        "project": sequence.project,
        "sequence": sequence,
        "video_model": sequence.video_model,
        "can_edit": can_edit,
        "is_editable": is_editable,
        **parts,
        "meter": meter,
        "remaining_after": meter["summary"].available - parts["estimate_credits"],
        "shortfall": max(parts["estimate_credits"] - meter["summary"].available, 0),
        "is_startable": sequence.is_startable,
        "can_start": can_edit and sequence.is_startable and parts["shot_count"] and not parts["has_errors"],
        "sequence_form": sequence_form
        or (SequenceForm(instance=sequence, project=sequence.project) if is_editable else None),
        "is_sequence_form_open": sequence_form is not None,
        "share_links": share_links,
        "share_form": ShareLinkForm(sequence=sequence)
        if can_edit and sequence.status == Sequence.Status.DONE
        else None,
        "finishing": {
            **parts["finishing"],
            "form": NarrationForm(instance=sequence) if parts["finishing"]["can_edit"] else None,
        },
        "catalog_script": _catalog_script(),
        "sequence_url": reverse("sequence_detail", args=[sequence.pk]),
        "versions_html": _with_version_forms(
            request, parts["versions_html"], parts["versions"], can_edit=can_edit
        ),
    }
    if sequence.status != Sequence.Status.DRAFT:
        shots = takes_of = None
        if sequence.status == Sequence.Status.NEEDS_ATTENTION:
            shots = list(sequence.shots.order_by("position", "pk"))
            takes_of = _takes_of(shots)
        panel = {
            key: parts[key]
            for key in (
                "has_progress_actions",
                "has_stale",
                "spent_credits",
                "stale_label",
                "stale_numbers",
                "stale_count",
            )
        }
        context.update(_progress_context(sequence, shots, takes_of, panel))
    return context


@login_required
def sequence_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    return render(request, "projects/sequence_detail.html", _sequence_context(request, sequence))


def _refuse_while_generating(request: HttpRequest, sequence: Sequence) -> HttpResponse | None:
    """The early answer to a change of a generating sequence; the services check again under a lock."""
    if sequence.is_generating:
        messages.error(request, str(services.SequenceIsGenerating()))
        return redirect("sequence_detail", pk=sequence.pk)
    return None


def _kept_while_generating(request: HttpRequest, sequence: Sequence, form) -> HttpResponse:
    """A form refused because the sequence is generating: the page (409) with what was typed, so
    that nothing typed is lost; it can be saved again once generation has finished."""
    stored = _get_sequence_for_user(request, sequence.pk, EDIT)
    context = _sequence_context(request, stored)
    context["unsaved"] = {
        "reason": str(services.SequenceIsGenerating()),
        "fields": typed_text(form, request.POST),
    }
    return render(request, "projects/sequence_detail.html", context, status=409)


@require_POST
@login_required
def edit_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    form = SequenceForm(request.POST, instance=sequence, project=sequence.project)
    if sequence.is_generating:
        return _kept_while_generating(request, sequence, form)
    if not form.is_valid():
        # The instance has taken the invalid values; show the page for the stored sequence.
        stored = _get_sequence_for_user(request, pk, EDIT)
        context = _sequence_context(request, stored, sequence_form=form)
        return render(request, "projects/sequence_detail.html", context)
    try:
        services.save_sequence(sequence, seen_version=form.cleaned_data["edit_version"], **form.edited_data())
    except services.SequenceIsGenerating:
        return _kept_while_generating(request, sequence, form)
    except services.EditConflict as conflict:
        stored = _get_sequence_for_user(request, pk, EDIT)
        form.reopen(conflict.current)
        context = _sequence_context(request, stored, sequence_form=form)
        return render(request, "projects/sequence_detail.html", context, status=409)
    messages.success(request, "Sequence settings saved.")
    return redirect("sequence_detail", pk=sequence.pk)


@require_POST
@login_required
def add_shot(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    images = estimates.references_of(sequence)
    form = ShotForm(request.POST, sequence=sequence, images=images, auto_id="new_%s")
    if sequence.is_generating:
        return _kept_while_generating(request, sequence, form)
    if not form.is_valid():
        context = _sequence_context(request, sequence, add_shot_form=form)
        return render(request, "projects/sequence_detail.html", context)
    try:
        shot = services.add_shot(sequence, **form.edited_data())
    except services.SequenceIsGenerating:
        return _kept_while_generating(request, sequence, form)
    messages.success(request, f"Shot {sequence.shots.count()} added.")
    return redirect(reverse("sequence_detail", args=[sequence.pk]) + f"#shot-{shot.pk}")


@require_POST
@login_required
def edit_shot(request: HttpRequest, pk: int) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    sequence = shot.sequence
    sequence.my_role = shot.my_role
    images = estimates.references_of(sequence)
    form = ShotForm(
        request.POST, instance=shot, sequence=sequence, images=images, auto_id=f"shot{shot.pk}_%s"
    )
    if sequence.is_generating:
        return _kept_while_generating(request, sequence, form)
    if not form.is_valid():
        context = _sequence_context(request, sequence, shot_form=(shot.pk, form))
        return render(request, "projects/sequence_detail.html", context)
    try:
        services.save_shot(shot, seen_version=form.cleaned_data["edit_version"], **form.edited_data())
    except services.SequenceIsGenerating:
        return _kept_while_generating(request, sequence, form)
    except services.EditConflict as conflict:
        if conflict.current is None:
            messages.error(request, "Someone deleted this shot while you were editing it.")
            return redirect("sequence_detail", pk=sequence.pk)
        form.reopen(conflict.current)
        stored = _get_sequence_for_user(request, sequence.pk, EDIT)
        context = _sequence_context(request, stored, shot_form=(shot.pk, form))
        return render(request, "projects/sequence_detail.html", context, status=409)
    messages.success(request, "Shot saved.")
    return redirect(reverse("sequence_detail", args=[sequence.pk]) + f"#shot-{shot.pk}")


class PlaceShotForm(forms.Form):
    """A drop on the storyboard: the shot's new place (1 is first) and the order of shot pks the
    user dropped it in, so that a drop never lands in an order the user did not see."""

    position = forms.IntegerField(min_value=1)
    order = forms.RegexField(regex=r"^\d+(,\d+)*$")

    def seen_order(self) -> list[int]:
        return [int(pk) for pk in self.cleaned_data["order"].split(",")]


@require_POST
@login_required
def move_shot(request: HttpRequest, pk: int) -> HttpResponse:
    """One place earlier or later (the arrow buttons), or to a place (a drop on the storyboard)."""
    shot = _get_shot_for_user(request, pk, EDIT)
    sequence = shot.sequence
    back = reverse("sequence_detail", args=[shot.sequence_id]) + f"#shot-{shot.pk}"
    if refusal := _refuse_while_generating(request, sequence):
        return refusal
    try:
        if "position" in request.POST:
            form = PlaceShotForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Drop the shot on a place in the storyboard.")
                return redirect(back)
            moved = services.place_shot(
                shot, position=form.cleaned_data["position"] - 1, seen_order=form.seen_order()
            )
            if moved:
                messages.success(request, f"Shot moved to place {form.cleaned_data['position']}.")
        else:
            form = DirectionForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Move the shot up or down.")
            else:
                services.move_shot(shot, direction=form.cleaned_data["direction"])
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
    except services.OrderChanged as changed:
        return _order_conflict(request, sequence, changed)
    return redirect(back)


def _order_conflict(request: HttpRequest, sequence: Sequence, changed: services.OrderChanged) -> HttpResponse:
    """A drop made on an older order of the shots: nothing moved; the page (409) shows the order
    the user saw and the order now, so that they can drop it again where they mean."""
    stored = _get_sequence_for_user(request, sequence.pk, EDIT)
    prompts = dict(stored.shots.values_list("pk", "prompt"))

    def describe(order: list[int]) -> str:
        return "\n".join(
            f"{n}. {prompts[pk][:40]}" if pk in prompts else f"{n}. (deleted)"
            for n, pk in enumerate(order, 1)
        )

    context = _sequence_context(request, stored)
    context["order_conflict"] = {
        "changes": [
            {
                "label": "Order of the shots",
                "seen": describe(changed.seen),
                "theirs": describe(changed.current),
            }
        ],
        "is_gone": False,
    }
    return render(request, "projects/sequence_detail.html", context, status=409)


@require_POST
@login_required
def delete_shot(request: HttpRequest, pk: int) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    if refusal := _refuse_while_generating(request, shot.sequence):
        return refusal
    back = reverse("sequence_detail", args=[shot.sequence_id])
    confirmation = _confirm(
        request,
        title="Delete shot",
        question=f"Delete {shot}?",
        details=["Its takes and their clips are deleted with it."],
        button="Delete shot",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    try:
        services.delete_shot(shot)
    except services.SequenceIsGenerating as refusal:
        messages.error(request, str(refusal))
        return redirect(back)
    messages.success(request, "Shot deleted.")
    return redirect(back)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def start_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page with the amount and what remains; POST: start generating."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    if not sequence.is_startable:
        messages.info(request, "This sequence is generating or finished. Retake single shots instead.")
        return redirect("sequence_detail", pk=sequence.pk)
    # Only the shots without a valid take are made; the same estimate is held by the pipeline.
    estimate = estimates.estimate_generation(sequence)
    daily_limit = None  # Runway's daily limit would stop this run: the page offers the choices
    if request.method == "POST":
        if request.POST.get("credits") != str(estimate.total_credits):
            messages.warning(
                request,
                str(pipeline.EstimateChanged(estimate.total_credits)),
            )
            return redirect("start_sequence", pk=sequence.pk)
        try:
            takes = pipeline.start_sequence(
                sequence,
                user=request.user,
                expected_credits=estimate.total_credits,
                daily_limit=request.POST.get("daily_limit") or None,
            )
        except pipeline.DailyLimitReached as refusal:
            daily_limit = refusal
        except SPEND_ERRORS as error:
            messages.error(request, str(error))
            return redirect("start_sequence", pk=sequence.pk)
        else:
            held = sum(t.estimated_credits for t in takes)
            if estimate.shots:
                messages.success(request, f"Generating “{sequence.title}”: {held} credits reserved.")
            else:
                messages.success(request, f"Assembling “{sequence.title}” from the chosen takes.")
            return redirect("sequence_detail", pk=sequence.pk)

    shots = list(sequence.shots.order_by("position", "pk"))
    by_shot = {item.shot.pk: item for item in estimate.shots}
    meter = credit_usage.month_meter(request.user)
    has_errors = any(item.error for item in estimate.shots)
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "rows": [(n, by_shot[shot.pk]) for n, shot in enumerate(shots, start=1) if shot.pk in by_shot],
        "kept": [n for n, shot in enumerate(shots, start=1) if shot.pk not in by_shot],
        "estimate": estimate,
        "meter": meter,
        "remaining_after": meter["summary"].available - estimate.total_credits,
        "can_afford": estimate.total_credits <= meter["summary"].available,
        "has_errors": has_errors,
        "has_shots": bool(shots),
        "daily_limit": daily_limit,
    }
    return render(request, "projects/start_sequence.html", context)


@require_safe
@login_required
def sequence_progress(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    shots = list(sequence.shots.order_by("position", "pk"))
    context = _progress_context(sequence, shots, _takes_of(shots))
    response = render(request, "projects/_sequence_progress.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def cancel_sequence(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk])
    if not sequence.is_unfinished:
        messages.info(request, "This sequence is not generating.")
        return redirect(back)
    if sequence.status == Sequence.Status.ASSEMBLING:
        # Only ffmpeg runs: nothing at Runway to stop or pay for.
        title, question = "Cancel assembly", f"Stop assembling the film of “{sequence.title}”?"
        details = ["Nothing is charged: the clips are kept, and the film can be assembled again later."]
    else:
        title, question = "Cancel generation", f"Stop generating “{sequence.title}”?"
        details = [
            "Takes Runway has not started yet are cancelled and their held credits returned.",
            "Takes Runway is already generating are stopped, but Runway keeps their charge.",
            "Clips Runway has finished are saved and kept: they were paid for.",
        ]
    confirmation = _confirm(
        request, title=title, question=question, details=details, button=title, cancel_url=back
    )
    if confirmation:
        return confirmation
    result = pipeline.cancel_sequence(sequence)
    messages.success(request, str(result))
    return redirect(back)


@require_POST
@login_required
def retake_shot(request: HttpRequest, pk: int) -> HttpResponse:
    """A retake is confirmed first with its whole cost, which in a stitched sequence covers the
    shots made from the retaken shot's last frame; the amount confirmed is the amount held."""
    shot = _get_shot_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[shot.sequence_id]) + f"#progress-shot-{shot.pk}"
    estimate = estimates.estimate_retake(shot)
    expected = estimate.total_credits
    if request.POST.get("confirm") != "yes" or request.POST.get("credits") != str(expected):
        if request.POST.get("confirm") == "yes":
            messages.warning(request, str(pipeline.EstimateChanged(expected)))
        return _retake_confirmation(request, shot, estimate, back=back)
    try:
        pipeline.retake_shot(shot, user=request.user, expected_credits=expected)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        if len(estimate.shots) > 1:
            messages.success(
                request,
                f"A new take of shot {shot.position + 1} is on its way, then the {len(estimate.shots) - 1} "
                f"shot(s) after it: {estimate.total_credits} credits reserved.",
            )
        else:
            messages.success(
                request,
                f"A new take of shot {shot.position + 1} is on its way: {estimate.total_credits} credits reserved.",
            )
    return redirect(back)


def _approval_refusal(sequence: Sequence) -> str:
    """Why the pipeline would refuse this spend on video for want of the client's approval of the
    storyboard (`pipeline.require_storyboard_approval`), for the confirmation; "" when it would not."""
    try:
        pipeline.require_storyboard_approval(sequence, retake=True)
    except pipeline.StoryboardNotApproved as refusal:
        return str(refusal)
    return ""


def _retake_confirmation(request: HttpRequest, shot: Shot, estimate, *, back: str) -> HttpResponse:
    numbers = {pk: n for n, pk in enumerate(shot.sequence.shots.values_list("pk", flat=True), start=1)}
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    context = {
        "project": shot.sequence.project,
        "sequence": shot.sequence,
        "shot": shot,
        "number": numbers[shot.pk],
        "rows": [(numbers[item.shot.pk], item) for item in estimate.shots],
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
        "has_errors": any(item.error for item in estimate.shots),
        "back": back,
        # "Retake with this note" from a client's comment: the note shown beside the prompt.
        "note": review.note_for_retake(shot.pk, request.POST.get("comment", "")),
        "not_approved": _approval_refusal(shot.sequence),
    }
    return render(request, "projects/retake_shot.html", context)


@require_POST
@login_required
def choose_take(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk, EDIT)
    try:
        pipeline.choose_take(take)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, "Take chosen. Later stitched shots that started from the old one are marked stale."
        )
    return redirect(
        reverse("sequence_detail", args=[take.shot.sequence_id]) + f"#progress-shot-{take.shot_id}"
    )


@require_POST
@login_required
def fetch_take_again(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk, EDIT)
    try:
        pipeline.fetch_take_again(take)
    except pipeline.PipelineError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Fetching the clip again from Runway. It is not charged twice.")
    return redirect(
        reverse("sequence_detail", args=[take.shot.sequence_id]) + f"#progress-shot-{take.shot_id}"
    )


@require_POST
@login_required
def regenerate_stale_shots(request: HttpRequest, pk: int) -> HttpResponse:
    """Make every stale shot again, with in a stitched sequence the shots made from it: one priced
    confirmation (`estimates.estimate_stale`, which `pipeline.regenerate_stale_shots` holds)."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk])
    estimate = estimates.estimate_stale(sequence)
    if not estimate.shots:
        messages.info(
            request,
            "No shot is stale."
            if not sequence.shots.filter(is_stale=True).exists()
            else "The stale shots are already being made.",
        )
        return redirect(back)
    expected = estimate.total_credits
    if request.POST.get("confirm") != "yes" or request.POST.get("credits") != str(expected):
        if request.POST.get("confirm") == "yes":
            messages.warning(request, str(pipeline.EstimateChanged(expected)))
        return _regenerate_confirmation(request, sequence, estimate, back=back)
    try:
        pipeline.regenerate_stale_shots(sequence, user=request.user, expected_credits=expected)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"Regenerating {len(estimate.shots)} shot(s): {estimate.total_credits} credits reserved."
        )
    return redirect(back)


def _regenerate_confirmation(
    request: HttpRequest, sequence: Sequence, estimate: estimates.SequenceEstimate, *, back: str
) -> HttpResponse:
    numbers = {pk: n for n, pk in enumerate(sequence.shots.values_list("pk", flat=True), start=1)}
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    made = [numbers[item.shot.pk] for item in estimate.shots]
    stale = [numbers[item.shot.pk] for item in estimate.shots if item.shot.is_stale]
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "title": f"Regenerate shot{'s' if len(made) > 1 else ''} {', '.join(map(str, made))}",
        "chain_note": "The shots after a stale one start on its last frame, so they are made again too, "
        "each from the new last frame of the shot before it, before the film is assembled."
        if len(made) > len(stale)
        else "",
        "rows": [(numbers[item.shot.pk], item) for item in estimate.shots],
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
        "has_errors": any(item.error for item in estimate.shots),
        "back": back,
        "button": f"Regenerate for {estimate.total_credits} credits",
        "not_approved": _approval_refusal(sequence),
    }
    return render(request, "projects/retake_shot.html", context)


@require_safe
@login_required
def take_frame(request: HttpRequest, pk: int) -> HttpResponse:
    """A still of a clip: the frame it started on (`?at=first`) or the frame it ended on."""
    take = _get_take_for_user(request, pk)
    file = take.input_first_frame if request.GET.get("at") == "first" else take.last_frame
    if not take.is_clip or not file:
        raise Http404("This take has no such frame.")
    extension = file.name.rsplit(".", 1)[-1].lower()
    response = ranged_file_response(
        request, file, filename=f"take{take.pk}-frame.{extension}", as_attachment=False
    )
    # A take's frames never change once saved.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_safe
@login_required
def sequence_compare(request: HttpRequest, pk: int) -> HttpResponse:
    """Two takes of a shot (`?a=&b=`, take pks), or two film versions (`?va=&vb=`, numbers), side by
    side with what each was made from; the players play together (static/js/compare.js)."""
    sequence = _get_sequence_for_user(request, pk)
    back = reverse("sequence_detail", args=[sequence.pk])
    if "va" in request.GET or "vb" in request.GET:
        selected = [request.GET.get("va", ""), request.GET.get("vb", "")]
        sides = _compared_versions(sequence, selected)
        choices, kind = [(v.number, f"Version {v.number}") for v in sequence.versions.all()], "version"
    else:
        selected = [request.GET.get("a", ""), request.GET.get("b", "")]
        sides, choices = _compared_takes(sequence, selected)
        kind = "take"
    if len(sides) != 2:
        raise Http404("Choose two takes of one shot, or two versions, to compare.")
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "sides": sides,
        "choices": choices,
        "selected": selected,
        "kind": kind,
        "back": back,
    }
    return render(request, "projects/sequence_compare.html", context)


def _compared_takes(sequence: Sequence, pks: list[str]) -> tuple[list[dict], list[tuple[int, str]]]:
    """The two finished clips of one shot of `sequence` (none when they are not)."""
    if not all(pk.isdigit() for pk in pks):
        return [], []
    takes = {
        take.pk: take
        for take in Take.objects.filter(
            pk__in=[int(pk) for pk in pks], sequence=sequence, kind=Take.Kind.CLIP
        ).select_related("shot", "first_frame_image", "last_frame_image", "user")
    }
    chosen = [takes.get(int(pk)) for pk in pks]
    if any(take is None or not take.output for take in chosen) or chosen[0].shot_id != chosen[1].shot_id:
        return [], []
    shot = chosen[0].shot
    siblings = list(
        shot.takes.filter(kind=Take.Kind.CLIP).order_by("created_at", "pk").values_list("pk", "output")
    )
    numbers = {pk: n for n, (pk, _) in enumerate(siblings, start=1)}
    shot_number = sequence.shots.filter(position__lt=shot.position).count() + 1
    video, frame = _pk_url("take_video"), _pk_url("take_frame")
    sides = []
    for take in chosen:
        body = take.request or {}
        sources = {
            "previous": "the last frame of the shot before",
            "reference": "a reference image",
            "keyframe": "an image made from reference images",
            "none": "the prompt alone",
        }
        first = sources.get(take.first_frame_from, take.first_frame_from)
        if take.first_frame_image:
            first += f" ({take.first_frame_image})"
        sides.append(
            {
                "title": f"Shot {shot_number}, take {numbers[take.pk]}",
                "video_url": video(take.pk),
                "poster_url": frame(take.pk) + "?at=first" if take.input_first_frame else "",
                "is_chosen": take.pk == shot.chosen_take_id,
                "facts": [
                    ("Model", body.get("model", sequence.model)),
                    ("Seed", body.get("seed", "random") if body.get("seed") is not None else "random"),
                    ("Starts on", first),
                    (
                        "Ends on",
                        str(take.last_frame_image) if take.last_frame_image else "wherever the model ends",
                    ),
                    ("Prompt", body.get("promptText", shot.prompt)),
                    (
                        "Length",
                        f"{take.duration:.1f} s"
                        if take.duration
                        else f"{body.get('duration', shot.duration)} s",
                    ),
                    (
                        "Made",
                        timezone.localtime(take.finished_at or take.created_at).strftime("%-d %b %Y %H:%M"),
                    ),
                    ("Cost", _charge_text(take)),
                ],
            }
        )
    return sides, [(pk, f"Take {numbers[pk]}") for pk, output in siblings if output]


def _compared_versions(sequence: Sequence, numbers: list[str]) -> list[dict]:
    if not all(n.isdigit() for n in numbers):
        return []
    versions = {v.number: v for v in sequence.versions.filter(number__in=[int(n) for n in numbers])}
    film, poster = _pk_url("version_film"), _pk_url("version_poster")
    sides = []
    for number in numbers:
        version = versions.get(int(number))
        if version is None:
            return []
        sides.append(
            {
                "title": f"Version {version.number}",
                "video_url": film(version.pk),
                "poster_url": poster(version.pk) if version.poster else "",
                "is_chosen": False,
                "facts": [
                    ("Made", timezone.localtime(version.created_at).strftime("%-d %b %Y %H:%M")),
                    ("Length", f"{version.duration:.1f} s" if version.duration else "unknown"),
                    ("Narration", "yes" if version.narration_id else "no"),
                ],
            }
        )
    return sides


@require_safe
@login_required
def take_video(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk)
    if not take.output:
        raise Http404("This take has no video yet.")
    filename = f"{slugify(take.shot.sequence.title) or 'take'}-shot{take.shot.position + 1}-take{take.pk}.mp4"
    return ranged_file_response(request, take.output, filename=filename, as_attachment=False)


@require_safe
@login_required
def sequence_film(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    if not sequence.film:
        raise Http404("This sequence has no film yet.")
    as_attachment = request.GET.get("download") == "1"
    return ranged_file_response(
        request, sequence.film, filename=_film_filename(sequence), as_attachment=as_attachment
    )


@require_safe
@login_required
def sequence_poster(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk)
    if not sequence.poster:
        raise Http404("This sequence has no poster yet.")
    extension = sequence.poster.name.rsplit(".", 1)[-1]
    return ranged_file_response(
        request, sequence.poster, filename=_film_filename(sequence, extension), as_attachment=False
    )
