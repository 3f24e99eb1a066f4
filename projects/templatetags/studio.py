"""Small display helpers for the studio pages: plain-words failures, percentages, status colours."""

from __future__ import annotations

from django import template

register = template.Library()

# Runway's failure codes in words a user can act on, for takes without a stored message. Runway's
# own `failure` text is diagnostic and not meant for users, so it is never shown. What Runway
# charged for a failed task (usually nothing: it refunds) is settled by the pipeline and said here.
_FAILURES: tuple[tuple[str, str], ...] = (
    ("SAFETY.INPUT.TEXT", "Runway's content moderation rejected the prompt. Reword it and retake the shot."),
    (
        "INPUT_PREPROCESSING.SAFETY.TEXT",
        "Runway's content moderation rejected the prompt. Reword it and retake the shot.",
    ),
    (
        "SAFETY.INPUT.IMAGE",
        "Runway's content moderation rejected an input image. Choose a different image and retake the shot.",
    ),
    (
        "SAFETY.INPUT",
        "Runway's content moderation rejected the input. Change the prompt or images and retake.",
    ),
    (
        "SAFETY.OUTPUT",
        "Runway blocked the generated video in moderation. Change the prompt and retake the shot.",
    ),
    (
        "INTERNAL.BAD_OUTPUT",
        "Runway could not make a usable video from this input (text in an image is a common cause). "
        "Retake the shot, or try another image.",
    ),
    ("ASSET.INVALID", "Runway could not use one of the input images. Try a different reference image."),
    ("THIRD_PARTY.UNAVAILABLE", "The model's provider was unavailable. Retake the shot a little later."),
    ("INPUT_PREPROCESSING", "Runway could not prepare the input. Retake the shot."),
    ("INTERNAL", "Runway had an internal problem with this take. Retake the shot."),
)


@register.filter
def failure_reason(take) -> str:
    """What went wrong with a failed take, in plain words, and that it cost nothing.

    The pipeline stores a message written for users; older or foreign rows fall back to the code.
    """
    message = (getattr(take, "failure_message", "") or "").strip()
    if not message:
        code = (getattr(take, "failure_code", "") or "").upper()
        message = next(
            (words for prefix, words in _FAILURES if code == prefix or code.startswith(prefix + ".")),
            "Runway could not generate this take. Retake the shot." if code else "This take did not finish.",
        )
    note = take.charge_note if hasattr(take, "charge_note") else "No credits were charged."
    return f"{message} {note}"


@register.filter
def percent(value, total=1) -> int:
    """0-100 for a progress bar; tolerant of None and of values outside the range."""
    try:
        ratio = float(value or 0) / float(total or 1)
    except (TypeError, ValueError):
        return 0
    return max(0, min(100, round(ratio * 100)))


_STATUS_BADGES = {
    "draft": "badge-muted",
    "running": "",
    "assembling": "",
    "done": "badge-ok",
    "succeeded": "badge-ok",
    "failed": "badge-danger",
    "cancelled": "badge-muted",
    "queued": "badge-muted",
    "submitting": "",
    "pending": "",
    "throttled": "badge-warn",
    "downloading": "",
    "unconfirmed": "badge-warn",
    "attention": "badge-warn",
}


@register.filter
def status_badge(status: str) -> str:
    return _STATUS_BADGES.get(status, "")
