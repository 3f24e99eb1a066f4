"""Small display helpers for the studio pages: plain-words failures, percentages, status colours."""

from __future__ import annotations

from django import template

from generation import failures

register = template.Library()


@register.filter
def failure_reason(take) -> str:
    """What went wrong with a take that did not finish, in plain words, and what it cost.

    The pipeline stores a message written for users; rows without one fall back to the code.
    """
    message = (getattr(take, "failure_message", "") or "").strip()
    if not message:
        code = getattr(take, "failure_code", "")
        message = failures.user_message(code) if code else "This take did not finish."
    return f"{message} {take.charge_note}"


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
