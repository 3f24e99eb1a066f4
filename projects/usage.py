"""What the pages show about credits: the meters of a user's month and a project's cap, and the
ledger sums behind the usage page. Everything here only reads; `generation.credits` writes."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from generation import credits
from generation.models import LedgerEntry
from projects.models import Project

SETTLED = Q(kind=LedgerEntry.Kind.SETTLE)
RELEASED = Q(kind=LedgerEntry.Kind.RELEASE)
GRANTED = Q(kind=LedgerEntry.Kind.GRANT)


def meter_of(summary: credits.MonthSummary | credits.ProjectSummary) -> dict:
    """A summary as the bar of `projects/_credits_meter.html` draws it: used, then held, within the
    total, each clamped so that an overspent month still draws a full bar."""
    total = max(summary.total or 0, 0)
    used = min(summary.used, total) if total else 0
    held = min(summary.held, max(total - used, 0)) if total else 0
    return {
        "summary": summary,
        "used_percent": round(used * 100 / total, 1) if total else 0,
        "held_percent": round(held * 100 / total, 1) if total else 0,
        "available": max(summary.available, 0),
        "is_over": summary.available < 0,
        "over_by": max(-summary.available, 0),
        "is_project": isinstance(summary, credits.ProjectSummary),
    }


def month_meter(user) -> dict:
    """The meter of the user's credits this month."""
    return meter_of(credits.month_summary(user))


def project_meter(project: Project) -> dict | None:
    """The meter of the project's monthly cap; None when the project has no cap."""
    summary = credits.project_summary(project)
    return None if summary.limit is None else meter_of(summary)


@dataclass(frozen=True)
class Usage:
    entries: QuerySet  # every ledger entry of the user, newest first
    per_project: QuerySet  # project_id, project__name, used, released; most used first
    per_month: list[dict]  # month, used, released, granted; the last 12 months with entries, oldest first
    totals: dict  # used, released


def usage_of(user) -> Usage:
    """The user's ledger, and the credits they used (settled) and got back (released), per project,
    per month and in all."""
    mine = LedgerEntry.objects.filter(user=user)
    sums = {
        "used": Sum("credits", filter=SETTLED, default=0),
        "released": Sum("credits", filter=RELEASED, default=0),
    }
    per_month = (
        mine.annotate(month=TruncMonth("created_at"))
        .values("month")
        .annotate(**sums, granted=Sum("credits", filter=GRANTED, default=0))
        .order_by("month")
    )
    return Usage(
        entries=mine.select_related("project", "take__shot__sequence", "take__sequence").order_by(
            "-created_at", "-pk"
        ),
        per_project=mine.filter(SETTLED | RELEASED)
        .values("project_id", "project__name")
        .annotate(**sums)
        .order_by("-used", "project__name"),
        per_month=list(per_month)[-12:],
        totals=mine.aggregate(**sums),
    )
