"""Reconciliation of the ledger with Runway's own usage report, per UTC day and model.

What is compared. For each UTC day and model: the credits the ledger SETTLED against what Runway
reports as used (`POST /v1/organization/usage`, net of refunds). A settle entry counts on the UTC
day its take was created at Runway (`Take.submitted_at`; an entry without one falls back to its own
`created_at`) and for the take's `request["model"]`. Runway books a task's charge on the day it
creates it, so both sides count the same task on the same day. Failures and cancels before RUNNING
are settled at nothing here and refunded at Runway; a refund that happens after UTC midnight lands
on the next day at Runway, which then shows as a pair of opposite differences on adjacent days.

Which days. The `days` most recent UTC days, today included, so that a run right after some work
checks it. Work still in progress is not a mismatch: takes whose hold is still open and that may
have reached Runway (submitting, in flight, downloading, unconfirmed) are summed per day and model
as `held`, and a row whose Runway figure lies between the ledger's settled figure and that plus the
held credits is "open" rather than "differs". Unconfirmed takes (nobody knows whether Runway made
them; their credits are held, not settled) are listed separately for an admin to resolve.

Runway's report covers the whole organisation: work done with the same account by anything other
than this app shows up as a difference, which is what an admin needs to know.

Mail. A run mails the admins only about differences above RECONCILE_ALERT_CREDITS that are new or
have changed since they were last mailed (`UsageReconciliation.mailed_difference`), so a difference
that stays in the window is mailed once, not every day; the mail says which rows are new. A row
that agrees again forgets what was mailed, so a later difference on it is new.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import CharField, Count, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from generation import credits, runway
from generation.models import LedgerEntry, Take, UsageReconciliation

log = logging.getLogger(__name__)

AGREES, OPEN, DIFFERS = "agrees", "open", "differs"
# Settle entries whose take is gone (deleted) no longer say which model they paid for.
UNKNOWN_MODEL = "(unknown)"
# Takes that hold credits and may already be charged at Runway.
MAYBE_CHARGED = (
    Take.Status.SUBMITTING,
    Take.Status.PENDING,
    Take.Status.THROTTLED,
    Take.Status.RUNNING,
    Take.Status.DOWNLOADING,
    Take.Status.UNCONFIRMED,
)

Key = tuple[dt.date, str]


def utc_today() -> dt.date:
    return timezone.now().astimezone(dt.UTC).date()


def window(days: int, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """[start, before) covering the `days` most recent UTC days, today included."""
    if not 1 <= days <= runway.USAGE_MAX_DAYS:
        raise ValueError(f"Reconcile 1 to {runway.USAGE_MAX_DAYS} days at a time, not {days}.")
    today = today or utc_today()
    return today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _by_day_and_model(queryset, *, at: Coalesce, model_path: str, start: dt.date, before: dt.date):
    return (
        queryset.annotate(at=at)
        .filter(at__gte=_midnight(start), at__lt=_midnight(before))
        .annotate(
            day=TruncDate("at", tzinfo=dt.UTC),
            model_name=Coalesce(
                KeyTextTransform("model", model_path), Value(UNKNOWN_MODEL), output_field=CharField()
            ),
        )
    )


def settled_usage(*, start: dt.date, before: dt.date) -> dict[Key, int]:
    """Credits the ledger settled per (UTC day the take was created at Runway, model)."""
    rows = (
        _by_day_and_model(
            LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SETTLE),
            at=Coalesce("take__submitted_at", "created_at"),
            model_path="take__request",
            start=start,
            before=before,
        )
        .values("day", "model_name")
        .annotate(total=Sum("credits"))
    )
    return {(r["day"], r["model_name"]): r["total"] for r in rows}


def held_usage(*, start: dt.date, before: dt.date) -> dict[Key, dict[str, int]]:
    """Open holds of takes that may be charged at Runway, per (UTC day, model):
    {"held": credits, "unconfirmed": credits, "unconfirmed_takes": count}."""
    rows = (
        _by_day_and_model(
            credits.open_holds().filter(take__status__in=MAYBE_CHARGED),
            at=Coalesce("take__submitted_at", "take__create_sent_at", "take__created_at"),
            model_path="take__request",
            start=start,
            before=before,
        )
        .values("day", "model_name")
        .annotate(
            held=Sum("credits"),
            unconfirmed=Coalesce(Sum("credits", filter=Q(take__status=Take.Status.UNCONFIRMED)), 0),
            unconfirmed_takes=Count("pk", filter=Q(take__status=Take.Status.UNCONFIRMED)),
        )
    )
    return {
        (r["day"], r["model_name"]): {
            "held": r["held"],
            "unconfirmed": r["unconfirmed"],
            "unconfirmed_takes": r["unconfirmed_takes"],
        }
        for r in rows
    }


def state_of(*, ledger: int, runway_credits: int, held: int) -> str:
    difference = runway_credits - ledger
    if difference == 0:
        return AGREES
    if 0 < difference <= held:
        return OPEN  # Runway charged for work whose hold the ledger has not closed yet
    return DIFFERS


def reconcile_usage(
    *, days: int | None = None, client: runway.RunwayClient | None = None, notify: bool = True
) -> list[UsageReconciliation]:
    """Compare the ledger's settled credits with Runway's usage report for the last `days` UTC
    days (today included; default RECONCILE_DAYS), store one UsageReconciliation per day and
    model, and email the admins about differences above RECONCILE_ALERT_CREDITS.

    Returns the rows in day and model order, each annotated (not stored) with `held` (open holds
    that may be charged at Runway), `unconfirmed`, `unconfirmed_takes` and `state` (AGREES, OPEN
    or DIFFERS). A stored row of the window that no side mentions any more is set to 0/0.
    Calls Runway once, outside any transaction; raises runway.RunwayError when it cannot.
    Running it twice stores the same rows again and mails nothing new (`alert_admins`).
    """
    days = settings.RECONCILE_DAYS if days is None else days
    start, before = window(days)
    report = (client or runway.client_from_settings()).organization_usage(
        start_date=start, before_date=before
    )
    reported = report.by_day_and_model()
    settled = settled_usage(start=start, before=before)
    held = held_usage(start=start, before=before)
    now = timezone.now()
    rows: list[UsageReconciliation] = []
    with transaction.atomic():
        for day, model in sorted(reported.keys() | settled.keys() | held.keys()):
            row, _ = UsageReconciliation.objects.update_or_create(
                day=day,
                model=model,
                defaults={
                    "ledger_credits": settled.get((day, model), 0),
                    "runway_credits": reported.get((day, model), 0),
                    "checked_at": now,
                },
            )
            holds = held.get((day, model), {})
            row.held = holds.get("held", 0)
            row.unconfirmed = holds.get("unconfirmed", 0)
            row.unconfirmed_takes = holds.get("unconfirmed_takes", 0)
            row.state = state_of(ledger=row.ledger_credits, runway_credits=row.runway_credits, held=row.held)
            rows.append(row)
        UsageReconciliation.objects.filter(day__gte=start, day__lt=before).exclude(
            pk__in=[r.pk for r in rows]
        ).update(ledger_credits=0, runway_credits=0, checked_at=now, mailed_difference=None, mailed_at=None)
        # A row that agrees again forgets its mail: a later difference on it is a new one.
        agreeing = [r for r in rows if r.difference == 0 and r.mailed_difference is not None]
        UsageReconciliation.objects.filter(pk__in=[r.pk for r in agreeing]).update(
            mailed_difference=None, mailed_at=None
        )
        for row in agreeing:
            row.mailed_difference = row.mailed_at = None
    if notify:
        alert_admins(rows, days=days)
    return rows


def differing(rows: Iterable[UsageReconciliation]) -> list[UsageReconciliation]:
    return [r for r in rows if getattr(r, "state", DIFFERS) == DIFFERS and r.difference != 0]


def summary(rows: list[UsageReconciliation], *, days: int) -> str:
    """One line: agreement, or which day/model pairs differ and by how much."""
    wrong = differing(rows)
    if not wrong:
        return f"The ledger and Runway agree for the last {days} days."
    pairs = ", ".join(f"{r.day} {r.model} ({r.difference:+d})" for r in wrong)
    return f"{len(wrong)} day/model pairs differ: {pairs}."


def notes(rows: list[UsageReconciliation]) -> list[str]:
    """What the rows cannot say alone: unconfirmed takes, and work still open."""
    lines = []
    unconfirmed = [r for r in rows if r.unconfirmed_takes]
    if unconfirmed:
        takes = sum(r.unconfirmed_takes for r in unconfirmed)
        held = sum(r.unconfirmed for r in unconfirmed)
        where = ", ".join(f"{r.day} {r.model}: {r.unconfirmed_takes}" for r in unconfirmed)
        lines.append(
            f"{takes} unconfirmed takes hold {held} credits ({where}). Runway may or may not have "
            "charged them; they are not in the ledger column. Resolve them in the admin."
        )
    opened = [r for r in rows if r.state == OPEN]
    if opened:
        where = ", ".join(f"{r.day} {r.model} ({r.difference:+d})" for r in opened)
        lines.append(
            f"Still open, not counted as differences: {where}. Runway has charged work whose "
            "credits the ledger still holds; it settles them when the takes finish."
        )
    return lines


def format_report(rows: list[UsageReconciliation], *, days: int) -> str:
    """The table (day, model, ledger, Runway, difference, held), the summary line and the notes."""
    header = (
        f"{'day':<10}  {'model':<14}  {'ledger':>8}  {'Runway':>8}  {'difference':>10}  {'held':>6}  state"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"{r.day.isoformat():<10}  {r.model:<14}  {r.ledger_credits:>8}  {r.runway_credits:>8}  "
            f"{r.difference:>+10d}  {r.held:>6}  {r.state}"
        )
    if not rows:
        lines.append("(no credits used or held in these days)")
    return "\n".join([*lines, "", summary(rows, days=days), *notes(rows)])


def admin_emails() -> list[str]:
    """Superusers with an email address, and settings.ADMINS, without repeats."""
    emails = list(
        get_user_model()
        .objects.filter(is_superuser=True, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
    )
    for admin in getattr(settings, "ADMINS", None) or []:
        emails.append(admin[1] if isinstance(admin, list | tuple) else str(admin))
    return list(dict.fromkeys(e for e in emails if e))


def alert_admins(rows: list[UsageReconciliation], *, days: int) -> bool:
    """Mail the admins about differences above RECONCILE_ALERT_CREDITS that are new or changed
    since they were last mailed; True if mail was sent.

    Each such row is claimed by compare-and-set on its `mailed_difference` before the mail goes
    out, so two runs at once mail a difference once; if sending fails, the claims are undone and the
    next run tries again. The mail shows the whole report and names the new and changed rows.
    """
    threshold = settings.RECONCILE_ALERT_CREDITS
    fresh = [
        r for r in differing(rows) if abs(r.difference) > threshold and r.mailed_difference != r.difference
    ]
    if not fresh:
        return False
    recipients = admin_emails()
    if not recipients:
        log.warning(
            "The ledger and Runway differ, but no admin has an email address: %s", summary(rows, days=days)
        )
        return False
    now = timezone.now()
    claimed = [(r, r.mailed_difference) for r in fresh if _claim_mail(r, mailed=r.mailed_difference, now=now)]
    if not claimed:
        return False  # another run mailed them meanwhile
    try:
        send_mail(
            subject=f"Credits: the ledger and Runway's usage differ ({_count(len(claimed), 'new difference')})",
            message=(
                f"{_what_is_new(claimed)}\n\n"
                "Runway's usage report and the ledger's settled credits differ, per UTC day and model "
                f"(difference = Runway - ledger):\n\n{format_report(rows, days=days)}\n"
            ),
            from_email=None,
            recipient_list=recipients,
        )
    except Exception:
        for row, before in claimed:
            UsageReconciliation.objects.filter(pk=row.pk, mailed_difference=row.difference).update(
                mailed_difference=before, mailed_at=None if before is None else row.mailed_at
            )
        raise
    for row, _ in claimed:
        row.mailed_difference, row.mailed_at = row.difference, now
    return True


def _claim_mail(row: UsageReconciliation, *, mailed: int | None, now: dt.datetime) -> bool:
    unchanged = Q(mailed_difference__isnull=True) if mailed is None else Q(mailed_difference=mailed)
    return bool(
        UsageReconciliation.objects.filter(unchanged, pk=row.pk).update(
            mailed_difference=row.difference, mailed_at=now
        )
    )


def _what_is_new(claimed: list[tuple[UsageReconciliation, int | None]]) -> str:
    """The lines naming the rows this mail is about: new ones, and those whose difference changed."""
    new = [r for r, before in claimed if before is None]
    changed = [(r, before) for r, before in claimed if before is not None]
    lines = []
    if new:
        lines.append(
            "New since the last mail: "
            + ", ".join(f"{r.day} {r.model} ({r.difference:+d})" for r in new)
            + "."
        )
    if changed:
        lines.append(
            "Changed since the last mail: "
            + ", ".join(
                f"{r.day} {r.model} ({r.difference:+d}, mailed as {before:+d})" for r, before in changed
            )
            + "."
        )
    lines.append("Differences already mailed and unchanged are in the table below but are not mailed again.")
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
