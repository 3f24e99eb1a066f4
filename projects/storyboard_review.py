"""The client's review of a storyboard before any video is paid for: staff share the shots (prompts,
first frames, durations) and the estimate of what Generate spends through a storyboard share link;
the client comments per shot and approves. An approval records the estimate it covered and a digest
of the storyboard as shown; it stands while both are unchanged. A project can require it before
anything spends on video (`pipeline.require_storyboard_approval`, which Generate, retakes and the
command line pass before they hold anything)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from generation import estimates
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


class StoryboardChanged(review.ReviewRefused):
    def __init__(self) -> None:
        super().__init__(
            "The storyboard or its estimate changed since this page was opened: look at it again, then approve."
        )


class NotAStoryboardLink(review.ReviewRefused):
    def __init__(self) -> None:
        super().__init__("This link does not show a storyboard.")


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
        "digest": estimates.storyboard_digest(sequence, estimate),
        "has_errors": any(item.error for item in estimate.shots),
    }


def approval_state(sequence: Sequence, *, estimate: estimates.SequenceEstimate | None = None) -> dict:
    """The latest approval and whether it still stands (`estimates.storyboard_approval`); what
    spends on video checks it in `pipeline.require_storyboard_approval`."""
    return estimates.storyboard_approval(sequence, estimate=estimate)


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
        current = estimates.storyboard_digest(sequence, estimate)
        if credits != now or shown_digest != current:
            raise StoryboardChanged()
        return StoryboardApproval.objects.create(
            sequence=sequence,
            share_link=link,
            author_name=author_name,
            estimate_credits=now,
            storyboard_digest=current,
            content_digest=estimates.storyboard_content_digest(sequence, estimate),
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
