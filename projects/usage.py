"""What the pages show about credits: the meters of a user's month and a project's cap, and the
ledger sums behind the usage page. Everything here only reads; `generation.credits` writes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from generation import credits
from generation.models import LedgerEntry
from projects.models import Project

SETTLED = Q(kind=LedgerEntry.Kind.SETTLE)
RELEASED = Q(kind=LedgerEntry.Kind.RELEASE)
GRANTED = Q(kind=LedgerEntry.Kind.GRANT)


def meter_of(
    summary: credits.MonthSummary | credits.ProjectSummary, *, now: dt.datetime | None = None
) -> dict:
    """A summary as the bar of `projects/_credits_meter.html` draws it: used, then held, within the
    total, each clamped so that an overspent month still draws a full bar; and the month's end at
    the pace so far."""
    is_project = isinstance(summary, credits.ProjectSummary)
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
        "is_project": is_project,
        "forecast": forecast_words(forecast_of(summary, now=now), is_project=is_project),
    }


def month_meter(user, *, now: dt.datetime | None = None) -> dict:
    """The meter of the user's credits this month."""
    return meter_of(credits.month_summary(user, at=now), now=now)


def project_meter(project: Project, *, now: dt.datetime | None = None) -> dict | None:
    """The meter of the project's monthly cap; None when the project has no cap."""
    summary = credits.project_summary(project, at=now)
    return None if summary.limit is None else meter_of(summary, now=now)


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


def recent_runs(user, *, limit: int = 10) -> list[dict]:
    """The user's latest runs (the sequences they last started), newest first, each with what it
    charged, holds and returned in the words of the sequence page and the command line."""
    from generation import pipeline
    from projects.models import Sequence

    runs = (
        Sequence.objects.filter(started_by=user, started_at__isnull=False)
        .select_related("project")
        .order_by("-started_at", "-pk")[:limit]
    )
    return [{"sequence": s, "charges": pipeline.run_charges(s).words} for s in runs]


# --- forecast -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    spent: int  # used and held so far this month
    total: int  # the limit (with grants) or the cap
    month_end: dt.date  # the last day of the month
    projected: int  # at this pace, what the month will have spent by its end
    runs_out_on: dt.date | None  # the day the total runs out at this pace; None if it lasts the month


def forecast(*, spent: int, total: int | None, now: dt.datetime | None = None) -> Forecast | None:
    """The month's end at the pace of the month so far: `spent` credits since the 1st (UTC), as
    credits per elapsed second, carried on to the end of the month. None without a total to run
    out of, or with nothing spent yet (no pace)."""
    if not total or total <= 0 or spent <= 0:
        return None
    now = (now or timezone.now()).astimezone(dt.UTC)
    start, end = credits.month_start(now), credits.next_month_start(now)
    elapsed = max((now - start).total_seconds(), 1.0)
    pace = spent / elapsed  # credits per second
    projected = round(pace * (end - start).total_seconds())
    runs_out_on = None
    if spent >= total:
        runs_out_on = now.date()
    elif projected > total:
        runs_out_on = (start + dt.timedelta(seconds=total / pace)).date()
    return Forecast(
        spent=spent,
        total=total,
        month_end=(end - dt.timedelta(days=1)).date(),
        projected=projected,
        runs_out_on=runs_out_on,
    )


def forecast_of(summary: credits.MonthSummary | credits.ProjectSummary, *, now: dt.datetime | None = None):
    """The forecast of a user's month or a project's cap, from its summary."""
    return forecast(spent=summary.used + summary.held, total=summary.total, now=now)


def forecast_words(result: Forecast | None, *, is_project: bool) -> str:
    """ "At this pace the project's cap runs out on the 19th.", or what the month ends at; "" with
    no forecast."""
    if result is None:
        return ""
    what, verb = ("the project's cap", "runs") if is_project else ("your credits", "run")
    if result.spent >= result.total:
        return f"{what[0].upper()}{what[1:]} {'has' if is_project else 'have'} run out this month."
    if result.runs_out_on is not None:
        return f"At this pace {what} {verb} out on the {_ordinal(result.runs_out_on.day)}."
    return f"At this pace the month ends at about {result.projected} of {result.total} credits."


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"
