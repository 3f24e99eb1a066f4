"""Finishing a sequence's film: its narration (a voice-over made by Runway's text_to_speech and mixed
over the film at assembly) and the 4K master of a film version (Runway's video_upscale, in parts of
at most 30 s). Both are estimated and confirmed before anything is held, as clips are."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import failures, finishing, pipeline
from generation.models import Take
from projects import services
from projects import usage as credit_usage
from projects.downloads import ranged_file_response
from projects.forms import NarrationForm
from projects.models import FilmVersion, Sequence
from projects.templatetags.studio import failure_reason, percent, status_badge
from projects.views.common import (
    EDIT,
    SPEND_ERRORS,
    TAKE_STATUS_LABELS,
    VIEW,
    _can_edit,
    _confirm,
    _get_for_user,
    _get_sequence_for_user,
    _pk_url,
)
from projects.views.sharing import _get_version_for_user


def _get_finishing_take_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Take:
    """A narration or master part, by its sequence's project (it has no shot)."""
    queryset = Take.objects.filter(kind__in=Take.FINISHING_KINDS).select_related("sequence__project")
    return _get_for_user(request, queryset, pk, project_path="sequence__project", need=need)


def _narration_url(sequence_id: int) -> str:
    return reverse("sequence_detail", args=[sequence_id]) + "#narration"


def _charge_text(take: Take) -> str:
    if take.cost_credits is not None:
        return f"Runway charged {take.cost_credits} credit{pluralize(take.cost_credits)}"
    if take.status == Take.Status.UNCONFIRMED:
        return f"{take.estimated_credits} credits held until an admin checks with Runway"
    if take.is_final:
        return "Nothing charged"
    return f"{take.estimated_credits} credit{pluralize(take.estimated_credits)} held; Runway's charge is settled when done"


def _take_row(take: Take, number: int, *, fetch_url: str = "") -> dict:
    row = {
        "key": f"finishing-take-{take.pk}",
        "number": number,
        "badge": status_badge(take.status),
        "status": TAKE_STATUS_LABELS.get(take.status, take.status),
        "charge": _charge_text(take),
        "reason": "",
        "percent": "",
        "fetch_url": "",
    }
    if take.status in (Take.Status.FAILED, Take.Status.UNCONFIRMED):
        row["reason"] = failure_reason(take)
        if take.failure_code == failures.Code.DOWNLOAD and take.runway_task_id:
            # Runway made and charged it; fetching it again is not charged twice.
            row["status"], row["badge"] = "Not saved yet", "badge-warn"
            row["fetch_url"] = fetch_url
    elif take.status == Take.Status.CANCELLED:
        row["reason"] = take.charge_note
    elif not take.is_final:
        row["percent"] = str(percent(take.progress))
    return row


def _master_rows(parts: list[Take], *, fetch) -> list[dict]:
    """A row per master part take, named by its part (its place in the film) and its try."""
    starts = sorted({t.part_start_frame for t in parts})
    tries: dict[int, int] = {}
    rows = []
    for n, take in enumerate(parts, start=1):
        tries[take.part_start_frame] = tries.get(take.part_start_frame, 0) + 1
        row = _take_row(take, n, fetch_url=fetch(take.pk) if fetch else "")
        row["part"] = starts.index(take.part_start_frame) + 1
        row["try"] = tries[take.part_start_frame]
        rows.append(row)
    return rows


def finishing_section(sequence: Sequence, *, form: NarrationForm | None = None) -> dict:
    """What the sequence page shows of the narration and the 4K master: a few queries, no ffmpeg
    (the master's price is exact on its confirmation page). `is_on_its_way` says whether the page's
    script should keep asking for the section (`narration_progress`)."""
    can_edit = _can_edit(sequence.my_role)
    estimate = finishing.estimate_narration(sequence)
    urls = {
        "audio": _pk_url("narration_audio"),
        "choose": _pk_url("choose_narration_take"),
        "fetch": _pk_url("fetch_finishing_take_again"),
    }
    fetch = urls["fetch"] if can_edit else None
    takes = list(finishing.narration_takes(sequence))
    is_making = any(not t.is_final for t in takes)
    rows = []
    for number, take in enumerate(takes, start=1):
        row = _take_row(take, number, fetch_url=fetch(take.pk) if fetch else "")
        row["is_chosen"] = take.pk == sequence.narration_take_id
        row["audio_url"] = urls["audio"](take.pk) if take.output else ""
        row["duration"] = take.duration
        can_choose = can_edit and take.status == Take.Status.SUCCEEDED and take.output
        row["choose_url"] = urls["choose"](take.pk) if can_choose and not row["is_chosen"] else ""
        rows.append(row)
    latest = sequence.versions.order_by("-number").first()
    master = None
    if latest is not None:
        parts = list(finishing.master_takes(latest))
        is_making_master = any(not t.is_final for t in parts)
        is_joining = bool(parts) and not is_making_master and finishing.is_joining(latest)
        can_make = can_edit and not latest.master and not is_making_master and not is_joining
        master = {
            "version": latest,
            "download_url": reverse("version_master", args=[latest.pk]) + "?download=1"
            if latest.master
            else "",
            "make_url": reverse("make_master", args=[latest.pk]) if can_make else "",
            "price": finishing.master_price(latest, parts) if can_make else None,
            "is_making": is_making_master,
            "is_joining": is_joining,
            "stop_url": reverse("stop_master", args=[latest.pk]) if can_edit else "",
            "parts": _master_rows(parts, fetch=fetch),
            "part_count": len({t.part_start_frame for t in parts}),
            "has_made_parts": any(t.status == Take.Status.SUCCEEDED for t in parts),
        }
    is_on_its_way = is_making or bool(master and (master["is_making"] or master["is_joining"]))
    return {
        "can_edit": can_edit,
        "form": (form or NarrationForm(instance=sequence)) if can_edit else None,
        "estimate": estimate,
        "takes": rows,
        "is_making": is_making,
        "chosen": sequence.narration_take_id,
        "needs_assembly": sequence.status == Sequence.Status.DONE
        and finishing.needs_assembly_for_narration(sequence),
        "latest": latest,
        "next_version": latest.number + 1 if latest else 1,
        "master": master,
        "is_on_its_way": is_on_its_way,
        "progress_url": reverse("narration_progress", args=[sequence.pk]),
    }


@require_safe
@login_required
def narration_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The narration and master part of the sequence page, for its script to swap in while a
    narration or master part is being made."""
    sequence = _get_sequence_for_user(request, pk)
    response = render(
        request,
        "projects/_narration_progress.html",
        {"sequence": sequence, "finishing": finishing_section(sequence)},
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def fetch_finishing_take_again(request: HttpRequest, pk: int) -> HttpResponse:
    """Download again a narration or master part Runway made and charged but that could not be
    saved. Not charged twice."""
    take = _get_finishing_take_for_user(request, pk, EDIT)
    what = "narration" if take.is_narration else "master part"
    try:
        pipeline.fetch_take_again(take)
    except pipeline.PipelineError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Fetching the {what} again from Runway. It is not charged twice.")
    return redirect(_narration_url(take.sequence_id))


# --- narration -------------------------------------------------------------------------------------


@require_POST
@login_required
def save_narration(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    form = NarrationForm(request.POST, instance=sequence)
    status = 200
    if form.is_valid():
        try:
            services.save_narration(
                sequence, seen_version=form.cleaned_data["edit_version"], **form.edited_data()
            )
        except services.EditConflict as conflict:
            form.reopen(conflict.current)
            status = 409
        else:
            messages.success(request, "Narration script saved.")
            return redirect(_narration_url(sequence.pk))
    from projects.views.sequences import _sequence_context

    # The form's instance has taken the posted values; the page shows the stored sequence.
    stored = _get_sequence_for_user(request, pk, EDIT)
    context = _sequence_context(request, stored)
    context["finishing"] = finishing_section(stored, form=form)
    return render(request, "projects/sequence_detail.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def make_narration(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page with the amount and what remains; POST: make the narration."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    estimate = finishing.estimate_narration(sequence)
    if request.method == "POST":
        if request.POST.get("credits") != str(estimate.total_credits):
            messages.warning(request, str(pipeline.EstimateChanged(estimate.total_credits)))
            return redirect("make_narration", pk=sequence.pk)
        try:
            finishing.make_narration(sequence, user=request.user, expected_credits=estimate.total_credits)
        except SPEND_ERRORS as error:
            messages.error(request, str(error))
            return redirect("make_narration", pk=sequence.pk)
        messages.success(request, f"Making the narration: {estimate.total_credits} credits reserved.")
        return redirect(_narration_url(sequence.pk))
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
    }
    return render(request, "projects/make_narration.html", context)


@require_POST
@login_required
def choose_narration_take(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_finishing_take_for_user(request, pk, EDIT)
    try:
        finishing.choose_narration_take(take)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Narration chosen. Assemble the film again to hear it in a new version.")
    return redirect(_narration_url(take.sequence_id))


@require_POST
@login_required
def drop_narration(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    finishing.drop_narration(sequence)
    messages.success(request, "The film is assembled without a narration from now on.")
    return redirect(_narration_url(sequence.pk))


@require_POST
@login_required
def stop_narration(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = _narration_url(sequence.pk)
    confirmation = _confirm(
        request,
        title="Stop the narration",
        question=f"Stop making the narration of “{sequence.title}”?",
        details=[
            "If it has not reached Runway yet, its held credits are returned.",
            "If Runway is already making it, it is stopped but Runway keeps the charge.",
            "If it is waiting at Runway, Runway may start it just as it is stopped and does not say "
            "whether it did: its credits may stay held until an admin confirms Runway's charge.",
        ],
        button="Stop the narration",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    messages.success(request, str(finishing.stop_narration(sequence)))
    return redirect(back)


@require_POST
@login_required
def assemble_again(request: HttpRequest, pk: int) -> HttpResponse:
    sequence = _get_sequence_for_user(request, pk, EDIT)
    try:
        finishing.assemble_again(sequence, user=request.user)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Assembling the film again as a new version. No clip is made again.")
    return redirect("sequence_detail", pk=sequence.pk)


@require_safe
@login_required
def narration_audio(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_finishing_take_for_user(request, pk)
    if not take.is_narration or not take.output:
        raise Http404("This narration has no audio yet.")
    filename = f"{slugify(take.sequence.title) or 'film'}-narration{take.pk}.mp3"
    return ranged_file_response(
        request, take.output, filename=filename, as_attachment=request.GET.get("download") == "1"
    )


# --- the 4K master -----------------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def make_master(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page with each part's price and the total; POST: make the master."""
    version = _get_version_for_user(request, pk, EDIT)
    sequence = version.sequence
    back = reverse("sequence_detail", args=[sequence.pk]) + "#narration"
    if version.master:
        messages.info(request, f"Version {version.number} already has a 4K master.")
        return redirect(back)
    estimate = finishing.estimate_master(version)
    if request.method == "POST":
        if request.POST.get("credits") != str(estimate.total_credits):
            messages.warning(request, str(pipeline.EstimateChanged(estimate.total_credits)))
            return redirect("make_master", pk=version.pk)
        try:
            takes = finishing.make_master(version, user=request.user, expected_credits=estimate.total_credits)
        except SPEND_ERRORS as error:
            messages.error(request, str(error))
            return redirect("make_master", pk=version.pk)
        if takes:
            messages.success(
                request,
                f"Making the 4K master of version {version.number} in {len(takes)} part(s): "
                f"{estimate.total_credits} credits reserved.",
            )
        else:
            messages.success(request, f"Joining the finished parts of version {version.number}'s master.")
        return redirect(back)
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "version": version,
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
        "back": back,
    }
    return render(request, "projects/make_master.html", context)


@require_POST
@login_required
def stop_master(request: HttpRequest, pk: int) -> HttpResponse:
    version: FilmVersion = _get_version_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[version.sequence_id]) + "#narration"
    confirmation = _confirm(
        request,
        title="Stop the 4K master",
        question=f"Stop making the 4K master of version {version.number}?",
        details=[
            "Parts not yet sent to Runway are cancelled and their held credits returned.",
            "Parts Runway is already upscaling are stopped, but Runway keeps their charge.",
            "Parts waiting at Runway may stay held until an admin confirms Runway's charge.",
            "Finished parts are kept: asking for the master again makes only the missing ones.",
        ],
        button="Stop the master",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    messages.success(request, str(finishing.stop_master(version)))
    return redirect(back)
