"""The client's review of a storyboard before any video is paid for: staff share the shots (prompts,
first frames, durations) and the estimate of what Generate spends through a storyboard share link;
the client comments per shot and approves. An approval records the estimate it covered and a digest
of the storyboard as shown; it stands while both are unchanged. A project can require a standing
approval before Generate spends on video (`require_approval`, which the Generate view calls before
the pipeline holds anything)."""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from generation import estimates, pipeline
from generation.models import Take
from projects import review
from projects.models import (
    Project,
    ReferenceImage,
    Sequence,
    ShareLink,
    Shot,
    StoryboardApproval,
    StoryboardComment,
)


class StoryboardNotApproved(pipeline.PipelineError):
    """Generate is refused: the project requires the client's approval of the storyboard, and there
    is none that covers the storyboard and the estimate as they are now. The message says which."""


class StoryboardChanged(review.ReviewRefused):
    def __init__(self) -> None:
        super().__init__(
            "The storyboard or its estimate changed since this page was opened: look at it again, then approve."
        )


class NotAStoryboardLink(review.ReviewRefused):
    def __init__(self) -> None:
        super().__init__("This link does not show a storyboard.")


def digest(sequence: Sequence, estimate: estimates.SequenceEstimate) -> str:
    """What an approval covers, as a digest: the sequence's model and format, each shot in order
    with its prompt, duration, first and last frames (the reference images and chosen keyframe
    images) and price, and the total Generate would hold now."""
    parts: list = [sequence.model, sequence.ratio, sequence.is_stitched, sequence.has_audio]
    for item in estimate.shots:
        plan = item.plan
        parts.append(
            (
                item.shot.pk,
                item.shot.prompt,
                item.shot.duration,
                plan.first if plan else "",
                plan.first_image.pk if plan and plan.first_image else None,
                plan.last_image.pk if plan and plan.last_image else None,
                plan.first_keyframe.chosen_take_id if plan and plan.first_keyframe else None,
                plan.last_keyframe.chosen_take_id if plan and plan.last_keyframe else None,
                item.credits,
                item.error,
            )
        )
    parts.append(estimate.to_generate().total_credits)
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _frame(item: estimates.ShotEstimate) -> tuple[str, int | None]:
    """Which image the shot starts on, as ("keyframe", take pk) or ("reference", image pk)."""
    plan = item.plan
    if plan is None:
        return "", None
    if plan.first == "keyframe" and plan.first_keyframe and plan.first_keyframe.chosen_take_id:
        return "keyframe", plan.first_keyframe.chosen_take_id
    if plan.first == "reference" and plan.first_image:
        return "reference", plan.first_image.pk
    return "", None


FIRST_FRAME_WORDS = {
    "previous": "Continues from the last frame of the shot before",
    "reference": "Starts on a reference image",
    "keyframe": "Starts on an image made for it",
    "none": "Made from the prompt alone",
}


def storyboard(sequence: Sequence) -> dict:
    """The storyboard as the client sees it: a row per shot (number, prompt, duration, its first
    frame, its price, its comments), the estimate of what Generate holds now, and its digest."""
    estimate = estimates.estimate_sequence(sequence)
    comments: dict[int | None, list] = {}
    for c in StoryboardComment.objects.filter(sequence=sequence).order_by("created_at", "pk"):
        comments.setdefault(c.shot_id, []).append(c)
    to_generate = {item.shot.pk for item in estimate.to_generate().shots}
    rows = []
    for number, item in enumerate(estimate.shots, start=1):
        kind, pk = _frame(item)
        rows.append(
            {
                "pk": item.shot.pk,
                "number": number,
                "prompt": item.shot.prompt,
                "duration": item.shot.duration,
                "frame_kind": kind,
                "frame_pk": pk,
                "first_frame": FIRST_FRAME_WORDS.get(item.plan.first if item.plan else "", ""),
                "credits": item.credits if item.shot.pk in to_generate else 0,
                "is_made": item.shot.pk not in to_generate,
                "error": item.error,
                "comments": comments.get(item.shot.pk, []),
            }
        )
    return {
        "rows": rows,
        "estimate_credits": estimate.to_generate().total_credits,
        "runtime": sum(item.shot.duration for item in estimate.shots),
        "digest": digest(sequence, estimate),
        "has_errors": any(item.error for item in estimate.shots),
    }


def approval_state(sequence: Sequence, *, estimate: estimates.SequenceEstimate | None = None) -> dict:
    """The latest approval and whether it still covers the storyboard ("standing"), or why not:
    "none", "changed" (the storyboard changed) or "estimate" (the estimate changed)."""
    latest = StoryboardApproval.objects.filter(sequence=sequence).first()
    if latest is None:
        return {"approval": None, "state": "none", "estimate_credits": None}
    estimate = estimate if estimate is not None else estimates.estimate_sequence(sequence)
    now = estimate.to_generate().total_credits
    if latest.storyboard_digest == digest(sequence, estimate) and latest.estimate_credits == now:
        state = "standing"
    elif latest.estimate_credits != now:
        state = "estimate"
    else:
        state = "changed"
    return {"approval": latest, "state": state, "estimate_credits": now}


def require_approval(sequence: Sequence) -> None:
    """Refuse Generate (StoryboardNotApproved) when the project requires the client's approval of
    the storyboard and no approval covers it as it is now. Reads only; call it before the pipeline
    holds anything. A project that does not require approval passes."""
    project = Project.objects.only("requires_storyboard_approval").get(pk=sequence.project_id)
    if not project.requires_storyboard_approval:
        return
    state = approval_state(sequence, estimate=estimates.estimate_sequence(sequence))
    approval = state["approval"]
    if state["state"] == "none":
        raise StoryboardNotApproved(
            "This project needs the client's approval of the storyboard before Generate spends on "
            "video. Share the storyboard from the sequence page and ask the client to approve it."
        )
    if state["state"] == "estimate":
        raise StoryboardNotApproved(
            f"The client approved the storyboard at {approval.estimate_credits} credits; the estimate "
            f"is now {state['estimate_credits']} credits. Ask the client to approve it again."
        )
    if state["state"] == "changed":
        raise StoryboardNotApproved(
            "The storyboard changed since the client approved it. Ask the client to approve it again."
        )


def set_required(project: Project, *, required: bool) -> None:
    """Owners switch the approval requirement of a project on or off."""
    project.requires_storyboard_approval = required
    project.save(update_fields=["requires_storyboard_approval"])


# --- the client's side ---------------------------------------------------------------------------


def issue_link(
    sequence: Sequence,
    *,
    created_by,
    recipient_name: str = "",
    recipient_email: str = "",
    expires_in_days: int | None = None,
    password: str = "",
) -> tuple[ShareLink, str]:
    """A storyboard share link and its token (stored nowhere). The client may comment and approve;
    there is nothing to download."""
    expires_at = timezone.now() + dt.timedelta(days=expires_in_days) if expires_in_days else None
    return ShareLink.issue(
        sequence,
        created_by=created_by,
        expires_at=expires_at,
        kind=ShareLink.Kind.STORYBOARD,
        recipient_name=recipient_name,
        recipient_email=recipient_email,
        can_comment=True,
        can_approve=True,
        can_download=False,
        can_download_master=False,
        password_hash=ShareLink.hash_password(password),
    )


def _storyboard_link(link: ShareLink) -> None:
    if link.kind != ShareLink.Kind.STORYBOARD:
        raise NotAStoryboardLink()


def add_comment(link: ShareLink, *, shot_pk: int, author_name: str, body: str) -> StoryboardComment:
    """The client's comment on one shot of the storyboard. Raises ReviewRefused for a shot not in
    the link's sequence."""
    _storyboard_link(link)
    shot = Shot.objects.filter(pk=shot_pk, sequence_id=link.sequence_id).first()
    if shot is None:
        raise review.ReviewRefused("That shot is not in this storyboard.")
    return StoryboardComment.objects.create(
        sequence_id=link.sequence_id, shot=shot, share_link=link, author_name=author_name, body=body
    )


def approve(
    link: ShareLink, *, author_name: str, credits: int, shown_digest: str, note: str = ""
) -> StoryboardApproval:
    """The client approves the storyboard they were shown (its `shown_digest`, at `credits`).
    Raises StoryboardChanged when it or its estimate is not what they saw any more: an approval
    never covers something the client did not see."""
    _storyboard_link(link)
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=link.sequence_id)
        estimate = estimates.estimate_sequence(sequence)
        now = estimate.to_generate().total_credits
        current = digest(sequence, estimate)
        if credits != now or shown_digest != current:
            raise StoryboardChanged()
        return StoryboardApproval.objects.create(
            sequence=sequence,
            share_link=link,
            author_name=author_name,
            estimate_credits=now,
            storyboard_digest=current,
            note=note,
        )


def image_file(link: ShareLink, *, kind: str, pk: int):
    """The file of a first frame the storyboard shows (a chosen keyframe image, or a reference image
    of the sequence's set), or None when the link's storyboard shows no such image."""
    _storyboard_link(link)
    sequence = link.sequence
    if kind == "keyframe":
        take = Take.objects.filter(
            pk=pk, sequence_id=sequence.pk, kind=Take.Kind.KEYFRAME_IMAGE, keyframe__chosen_take_id=pk
        ).first()
        return take.output if take and take.output else None
    if kind == "reference" and sequence.reference_set_id:
        image = ReferenceImage.objects.filter(pk=pk, reference_set_id=sequence.reference_set_id).first()
        return (image.thumbnail or image.image) if image else None
    return None
