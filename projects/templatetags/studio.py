"""Small display helpers for the studio pages: plain-words failures, percentages, status colours."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from django import template
from django.template.loader import render_to_string

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


# Rendering a form field by field through Django's form templates is the slowest part of the
# builder pages. An unbound form renders the same HTML whenever its fields, values and choices are
# the same, so that HTML is kept per process, keyed by all of them; a bound form (with the user's
# input and errors) is always rendered afresh.
_FORM_HTML: OrderedDict[str, str] = OrderedDict()
_FORM_HTML_SIZE = 256


def _form_key(template_name: str, form) -> str:
    parts: list[object] = [
        template_name,
        type(form).__module__,
        type(form).__qualname__,
        form.auto_id,
        form.prefix,
    ]
    for name, field in form.fields.items():
        widget = field.widget
        choices = getattr(widget, "choices", None)
        if choices is not None:
            # Read a model field's choices once, for the key and for rendering.
            choices = widget.choices = list(iter(choices))  # iter(): list() would ask for a COUNT first
        parts.append(
            (
                name,
                repr(form[name].value()),
                type(widget).__name__,
                sorted(widget.attrs.items()),
                [(str(value), str(label)) for value, label in choices] if choices is not None else None,
                str(field.label),
                str(field.help_text),
                field.required,
                field.disabled,
                field.show_hidden_initial,
            )
        )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@register.simple_tag
def form_fields(template_name: str, form) -> str:
    """`template_name` rendered with only `form`, as `{% include ... with form=... only %}` would
    (a rendered template is already safe HTML)."""
    if form.is_bound:
        return render_to_string(template_name, {"form": form})
    key = _form_key(template_name, form)
    html = _FORM_HTML.get(key)
    if html is None:
        html = render_to_string(template_name, {"form": form})
        _FORM_HTML[key] = html
        while len(_FORM_HTML) > _FORM_HTML_SIZE:
            _FORM_HTML.popitem(last=False)
    else:
        _FORM_HTML.move_to_end(key)
    return html
