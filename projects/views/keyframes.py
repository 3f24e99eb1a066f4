"""Keyframes made from reference images: a shot's first (or, on Veo, last) frame made by Runway's
text_to_image from up to three tagged images of the sequence's reference set. The images are made
("Make keyframes"), reviewed and one is chosen per keyframe before "Generate" spends on video."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from generation import catalog, estimates, pipeline
from generation.models import Take
from projects import services
from projects import usage as credit_usage
from projects.downloads import ranged_file_response
from projects.forms import KeyframeForm
from projects.models import Keyframe, Sequence, Shot
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
    _get_shot_for_user,
    _get_take_for_user,
    _pk_url,
)

# What saving a keyframe may be refused with; each carries a message for the user.
KEYFRAME_ERRORS = (catalog.UnsupportedRequest, services.SequenceIsGenerating)
SLOT_WORDS = {Keyframe.Slot.FIRST: "first", Keyframe.Slot.LAST: "last"}


def _get_keyframe_for_user(request: HttpRequest, pk: int, need: str = VIEW) -> Keyframe:
    queryset = Keyframe.objects.select_related("shot__sequence__project")
    return _get_for_user(request, queryset, pk, project_path="shot__sequence__project", need=need)


def _slot_of(shot: Shot, slot: str) -> str:
    """The slot named in a URL, if this shot's model can have a keyframe there; 404 otherwise."""
    if slot == Keyframe.Slot.FIRST:
        return Keyframe.Slot.FIRST
    if slot == Keyframe.Slot.LAST and shot.sequence.video_model.has_last_frame:
        return Keyframe.Slot.LAST
    raise Http404("No such keyframe.")


def _shot_number(shot: Shot) -> int:
    return list(shot.sequence.shots.values_list("pk", flat=True)).index(shot.pk) + 1


def _back(shot_id: int, sequence_id: int) -> str:
    return reverse("sequence_detail", args=[sequence_id]) + f"#shot-{shot_id}"


# --- what the sequence page shows ----------------------------------------------------------------

# The fields of a keyframe take the panel shows (its request and notices are never read there).
TAKE_FIELDS = (
    "kind",
    "sequence_id",
    "keyframe_id",
    "status",
    "failure_code",
    "failure_message",
    "output",
    "progress",
    "estimated_credits",
    "cost_credits",
)


def _charge_text(take: Take) -> str:
    if take.cost_credits is not None:
        return f"{take.cost_credits} credits charged"
    if take.status == Take.Status.UNCONFIRMED:
        return f"{take.estimated_credits} credits held"
    if take.is_final:
        return "nothing charged"
    return f"about {take.estimated_credits} credits"


def _take_rows(keyframe: Keyframe, takes: list[Take], *, can_change: bool, urls: dict) -> list[dict]:
    rows = []
    for number, take in enumerate(takes, start=1):
        is_chosen = take.pk == keyframe.chosen_take_id
        row = {
            "key": f"keyframe-take-{take.pk}",
            "number": number,
            "is_chosen": is_chosen,
            "badge": status_badge(take.status),
            "status": TAKE_STATUS_LABELS.get(take.status, take.status),
            "charge": _charge_text(take),
            "reason": "",
            "image_url": "",
            "percent": "",
            "choose_url": "",
        }
        if take.status in (Take.Status.FAILED, Take.Status.UNCONFIRMED):
            row["reason"] = failure_reason(take)
        elif take.status == Take.Status.CANCELLED:
            row["reason"] = take.charge_note
        elif take.output:
            row["image_url"] = urls["image"](take.pk)
        elif not take.is_final:
            row["percent"] = str(percent(take.progress))
        if can_change and not is_chosen and take.status == Take.Status.SUCCEEDED and take.output:
            row["choose_url"] = urls["choose"](take.pk)
        rows.append(row)
    return rows


def keyframe_panels(sequence: Sequence, shots: list[Shot], *, can_edit: bool) -> dict:
    """Everything the sequence page shows of its keyframes, worked out here in three queries:
    `by_shot` (per shot pk: its panels and the links to add one) and a summary for the
    "Make keyframes" button. Rows are plain dicts, as the shot list's are."""
    is_editable = can_edit and not sequence.is_generating
    has_last_frame = sequence.video_model.has_last_frame
    keyframes = list(
        Keyframe.objects.filter(shot__sequence=sequence)
        .select_related("shot")
        .prefetch_related("references__image")
        .order_by("shot__position", "slot")
    )
    takes_of: dict[int, list[Take]] = {k.pk: [] for k in keyframes}
    if keyframes:
        rows = (
            Take.objects.filter(keyframe_id__in=list(takes_of))
            .only(*TAKE_FIELDS)
            .order_by("created_at", "pk")
        )
        for take in rows:
            takes_of[take.keyframe_id].append(take)
    urls = {
        "edit": lambda shot_pk, slot: reverse("edit_keyframe", args=[shot_pk, slot]),
        "retake": _pk_url("retake_keyframe"),
        "choose": _pk_url("choose_keyframe_take"),
        "image": _pk_url("keyframe_image"),
        "thumb": _pk_url("reference_image_file"),
    }
    numbers = {shot.pk: n for n, shot in enumerate(shots, start=1)}
    by_shot: dict[int, dict] = {
        shot.pk: {
            "panels": [],
            "add_first_url": urls["edit"](shot.pk, Keyframe.Slot.FIRST) if is_editable else "",
            "add_last_url": urls["edit"](shot.pk, Keyframe.Slot.LAST)
            if is_editable and has_last_frame
            else "",
        }
        for shot in shots
    }
    missing = active = unmade = 0
    for keyframe in keyframes:
        entry = by_shot.get(keyframe.shot_id)
        if entry is None:
            continue
        takes = takes_of[keyframe.pk]
        is_active = any(not take.is_final for take in takes)
        active += is_active
        # A keyframe the shot no longer starts (ends) on waits for nothing.
        shot = keyframe.shot
        if keyframe.slot == Keyframe.Slot.FIRST:
            is_used = shot.first_frame == Shot.FirstFrame.KEYFRAME
        else:
            is_used = shot.has_made_last_frame and has_last_frame
        missing += is_used and keyframe.chosen_take_id is None
        unmade += not is_active and not any(take.status == Take.Status.SUCCEEDED for take in takes)
        number = numbers[keyframe.shot_id]
        slot = SLOT_WORDS.get(keyframe.slot, keyframe.slot)
        panel = {
            "key": f"keyframe-{keyframe.pk}",
            "title": f"{slot.capitalize()} frame of shot {number}, made from reference images",
            "model": catalog.IMAGE_MODELS[keyframe.model].label
            if keyframe.model in catalog.IMAGE_MODELS
            else keyframe.model,
            "prompt": keyframe.prompt,
            "references": [
                {"tag": ref.tag, "thumb": urls["thumb"](ref.image_id) + "?size=thumb", "name": str(ref.image)}
                for ref in keyframe.references.all()
            ],
            "is_active": is_active,
            "unused_note": ""
            if is_used
            else (
                f"Not used: shot {number} no longer {'starts' if slot == 'first' else 'ends'} on it. "
                "Edit the shot to use it again, or remove it."
            ),
            "has_chosen": keyframe.chosen_take_id is not None,
            "edit_url": urls["edit"](keyframe.shot_id, keyframe.slot) if is_editable else "",
            "retake_url": urls["retake"](keyframe.pk) if is_editable and takes and not is_active else "",
            "takes": _take_rows(keyframe, takes, can_change=is_editable, urls=urls),
        }
        entry["panels"].append(panel)
        if keyframe.slot == Keyframe.Slot.FIRST:
            entry["add_first_url"] = ""
        else:
            entry["add_last_url"] = ""
    return {
        "by_shot": by_shot,
        "summary": {
            "count": sum(len(entry["panels"]) for entry in by_shot.values()),
            "missing": missing,
            # Keyframes with no image to choose from and none on its way: "Make keyframes" is for them.
            "unmade": unmade,
            "is_active": bool(active),
            "make_url": reverse("make_keyframes", args=[sequence.pk]) if is_editable else "",
            "cancel_url": reverse("cancel_keyframes", args=[sequence.pk]) if is_editable and active else "",
            "progress_url": reverse("keyframe_progress", args=[sequence.pk]),
        },
    }


@require_safe
@login_required
def keyframe_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The keyframe panels of a sequence, for the page's script to swap in while images are made."""
    sequence = _get_sequence_for_user(request, pk)
    shots = list(sequence.shots.order_by("position", "pk"))
    data = keyframe_panels(sequence, shots, can_edit=_can_edit(sequence.my_role))
    panels = [panel for shot in shots for panel in data["by_shot"][shot.pk]["panels"]]
    response = render(
        request,
        "projects/_keyframe_progress.html",
        {"panels": panels, "summary": data["summary"], "sequence": sequence},
    )
    response["Cache-Control"] = "no-store"
    return response


# --- making a keyframe ---------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def edit_keyframe(request: HttpRequest, pk: int, slot: str) -> HttpResponse:
    """GET: the form that makes a shot's first (or last) frame from reference images; POST: save it."""
    shot = _get_shot_for_user(request, pk, EDIT)
    slot = _slot_of(shot, slot)
    sequence = shot.sequence
    back = _back(shot.pk, sequence.pk)
    # A POST goes on to the service, which refuses under the sequence's lock and keeps the typed
    # prompt in the form; only opening the form is turned away here.
    if sequence.is_generating and request.method != "POST":
        messages.error(request, str(services.SequenceIsGenerating()))
        return redirect(back)
    keyframe = shot.keyframes.filter(slot=slot).prefetch_related("references").first()
    images = estimates.references_of(sequence)
    status = 200
    if request.method == "POST":
        form = KeyframeForm(request.POST, images=images, keyframe=keyframe)
        if form.is_valid():
            try:
                services.set_keyframe(
                    shot,
                    slot=slot,
                    model=form.cleaned_data["model"],
                    prompt=form.cleaned_data["prompt"],
                    references=form.cleaned_data["references"],
                    seen_version=form.cleaned_data["edit_version"],
                )
            except services.EditConflict as conflict:
                current = conflict.current
                if current is not None:
                    current = Keyframe.objects.prefetch_related("references__image").get(pk=current.pk)
                form.reopen(current)
                keyframe, status = current, 409
            except KEYFRAME_ERRORS as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request,
                    f"Shot {_shot_number(shot)}'s {SLOT_WORDS[slot]} frame will be made from reference "
                    "images. Make the keyframes, then choose an image for each before generating.",
                )
                return redirect(back)
    else:
        form = KeyframeForm(images=images, keyframe=keyframe)
    context = {
        "project": sequence.project,
        "sequence": sequence,
        "shot": shot,
        "number": _shot_number(shot),
        "slot": slot,
        "slot_words": SLOT_WORDS[slot],
        "keyframe": keyframe,
        "form": form,
        "rows": [
            {**row, "thumb": reverse("reference_image_file", args=[row["image"].pk]) + "?size=thumb"}
            for row in form.reference_rows()
        ],
        "max_references": max(m.max_references for m in catalog.IMAGE_MODELS.values()),
        "back": back,
    }
    return render(request, "projects/edit_keyframe.html", context, status=400 if form.errors else status)


@require_POST
@login_required
def remove_keyframe(request: HttpRequest, pk: int, slot: str) -> HttpResponse:
    shot = _get_shot_for_user(request, pk, EDIT)
    slot = _slot_of(shot, slot)
    try:
        services.remove_keyframe(shot, slot=slot)
    except KEYFRAME_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Shot {_shot_number(shot)}'s {SLOT_WORDS[slot]} frame is no longer made from references.",
        )
    return redirect(_back(shot.pk, shot.sequence_id))


# --- making, retaking and choosing the images ----------------------------------------------------


def _confirmation_context(request: HttpRequest, sequence: Sequence, estimate) -> dict:
    """What a confirmation shows of a keyframes estimate: a row per image, the total and what remains."""
    numbers = {pk: n for n, pk in enumerate(sequence.shots.values_list("pk", flat=True), start=1)}
    meter = credit_usage.month_meter(request.user)
    available = meter["summary"].available
    rows = [
        (f"Shot {numbers.get(item.keyframe.shot_id, '?')}, {SLOT_WORDS.get(item.keyframe.slot)} frame", item)
        for item in estimate.keyframes
    ]
    return {
        "project": sequence.project,
        "sequence": sequence,
        "rows": rows,
        "estimate": estimate,
        "meter": meter,
        "remaining_after": available - estimate.total_credits,
        "can_afford": estimate.total_credits <= available,
        "has_errors": any(item.error for item in estimate.keyframes),
    }


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def make_keyframes(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what making the sequence's keyframe images holds, and what remains; POST: make them."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk])
    estimate = estimates.estimate_keyframes(sequence)
    if request.method == "POST":
        if request.POST.get("credits") != str(estimate.total_credits):
            messages.warning(request, str(pipeline.EstimateChanged(estimate.total_credits)))
            return redirect("make_keyframes", pk=sequence.pk)
        try:
            takes = pipeline.make_keyframes(
                sequence, user=request.user, expected_credits=estimate.total_credits
            )
        except SPEND_ERRORS as error:
            messages.error(request, str(error))
            return redirect("make_keyframes", pk=sequence.pk)
        messages.success(
            request,
            f"Making {len(takes)} keyframe image{'s' if len(takes) != 1 else ''}: "
            f"{estimate.total_credits} credits reserved. Choose one for each keyframe when they are ready.",
        )
        return redirect(back + "#keyframes")
    context = _confirmation_context(request, sequence, estimate)
    return render(request, "projects/make_keyframes.html", context)


@require_POST
@login_required
def cancel_keyframes(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the keyframe images on their way, after a confirmation. While the sequence itself is
    generating, its own cancel stops everything."""
    sequence = _get_sequence_for_user(request, pk, EDIT)
    back = reverse("sequence_detail", args=[sequence.pk]) + "#keyframes"
    if sequence.is_unfinished:
        messages.info(
            request, "This sequence is generating: “Cancel generation” stops its keyframe images too."
        )
        return redirect(back)
    confirmation = _confirm(
        request,
        title="Stop making keyframe images",
        question=f"Stop the keyframe images of “{sequence.title}” that are on their way?",
        details=[
            "Images Runway has not started yet are cancelled and their held credits returned.",
            "Images Runway is already making are stopped, but Runway keeps their charge.",
            "Finished images are kept.",
        ],
        button="Stop making them",
        cancel_url=back,
    )
    if confirmation:
        return confirmation
    # With the sequence not generating, the only takes on their way are its keyframe images.
    result = pipeline.cancel_sequence(sequence)
    messages.success(
        request,
        f"Stopped {result.cancelled} keyframe image{'s' if result.cancelled != 1 else ''}. "
        "What each one cost is shown beside it.",
    )
    return redirect(back)


@require_POST
@login_required
def retake_keyframe(request: HttpRequest, pk: int) -> HttpResponse:
    """Another image of one keyframe, confirmed first with its cost."""
    keyframe = _get_keyframe_for_user(request, pk, EDIT)
    shot = keyframe.shot
    back = reverse("sequence_detail", args=[shot.sequence_id]) + f"#keyframe-{keyframe.pk}"
    estimate = estimates.estimate_keyframe_retake(keyframe)
    expected = estimate.total_credits
    if request.POST.get("confirm") != "yes" or request.POST.get("credits") != str(expected):
        if request.POST.get("confirm") == "yes":
            messages.warning(request, str(pipeline.EstimateChanged(expected)))
        context = _confirmation_context(request, shot.sequence, estimate)
        context.update(
            {
                "keyframe": keyframe,
                "number": _shot_number(shot),
                "slot_words": SLOT_WORDS[keyframe.slot],
                "back": back,
            }
        )
        return render(request, "projects/retake_keyframe.html", context)
    try:
        pipeline.retake_keyframe(keyframe, user=request.user, expected_credits=expected)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Another image for shot {_shot_number(shot)} is on its way: {expected} credits reserved.",
        )
    return redirect(back)


@require_POST
@login_required
def choose_keyframe_take(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk, EDIT)
    if not take.is_keyframe_image:
        raise Http404("This take is not a keyframe image.")
    try:
        pipeline.choose_keyframe_take(take)
    except SPEND_ERRORS as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Image chosen: shot {_shot_number(take.shot)} is made from it.")
    return redirect(
        reverse("sequence_detail", args=[take.shot.sequence_id]) + f"#keyframe-{take.keyframe_id}"
    )


@require_safe
@login_required
def keyframe_image(request: HttpRequest, pk: int) -> HttpResponse:
    take = _get_take_for_user(request, pk)
    if not take.is_keyframe_image or not take.output:
        raise Http404("This take has no keyframe image.")
    extension = take.output.name.rsplit(".", 1)[-1].lower()
    filename = f"{slugify(take.shot.sequence.title) or 'keyframe'}-shot{take.shot.position + 1}-image{take.pk}.{extension}"
    return ranged_file_response(request, take.output, filename=filename, as_attachment=False)
