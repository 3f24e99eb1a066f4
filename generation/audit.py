"""The audit log: who changed a budget, a grant, a member's role, a share link or a project cap,
when, from where, and what it was before and after.

Each service that makes such a change calls `record(...)` inside its own transaction, so the entry
commits with the change or not at all. Where a change came from is the request's client address
(set for each request by `AuditSourceMiddleware`, through `projects.throttle.client_ip`) or the
command line (`source("command line: budget")` around a command's work); a change made from
neither (a worker, a shell) says "system".
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from django.conf import settings
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

_source: contextvars.ContextVar[str] = contextvars.ContextVar("audit_source", default="system")


class AuditEntry(models.Model):
    """One change to money or access, written in the transaction of the change. Rows are never
    changed or deleted by the app; admin shows them read-only."""

    class Action(models.TextChoices):
        MONTHLY_LIMIT = "monthly_limit", "Monthly limit set"
        GRANT = "grant", "Credits granted"
        PROJECT_CAP = "project_cap", "Project cap set"
        MEMBER_ADDED = "member_added", "Member added"
        MEMBER_ROLE = "member_role", "Member's role changed"
        MEMBER_REMOVED = "member_removed", "Member removed"
        LINK_CREATED = "link_created", "Share link created"
        LINK_REVOKED = "link_revoked", "Share link revoked"
        LINK_CHANGED = "link_changed", "Share link changed"
        MARKUP = "markup", "Project markup set"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Kept as text too: the entry still says who when the user is deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=60)  # "user", "project", "membership", "share link"
    object_id = models.CharField(max_length=40)
    description = models.CharField(max_length=500)  # what it was -> what it is
    source = models.CharField(max_length=100)  # a client address, "command line: budget", "system"
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "generation"
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_name or 'system'}: {self.description}"


def record(*, actor, action: str, obj: models.Model, description: str) -> AuditEntry:
    """Write one audit entry for a change to `obj` made by `actor` (a user, or None for the system).

    Call it inside the transaction that makes the change. `description` says what the value was
    and what it is now ("500 -> 800 credits"); it is cut to fit its column.
    """
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=actor.get_username() if getattr(actor, "pk", None) else "",
        action=action,
        object_type=obj._meta.verbose_name,
        object_id=str(obj.pk),
        description=description[:500],
        source=_source.get()[:100],
    )


def current_source() -> str:
    return _source.get()


@contextlib.contextmanager
def source(where: str) -> Iterator[None]:
    """Changes recorded inside the block say they came from `where`."""
    token = _source.set(where)
    try:
        yield
    finally:
        _source.reset(token)


class AuditSourceMiddleware:
    """Records that the changes made while handling a request come from its client's address."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from projects.throttle import client_ip

        with source(client_ip(request)):
            return self.get_response(request)
