"""Credit budgets and the append-only ledger: reserve (hold), settle, release, grant.

Available this month = monthly limit + grants this month - settled this month - open holds.
A hold stays open until it is settled or released, whatever month that happens in; settled credits
count in the month they were settled. The month is the calendar month in UTC and is computed,
so a new month needs no job.

Every operation that reads the balance and then writes locks the user's CreditBudget row first
(SELECT ... FOR UPDATE on PostgreSQL; on SQLite every transaction begins IMMEDIATE, which takes
the database write lock), so concurrent reservations are serialised and can never spend past the
limit. Closing a hold twice is prevented twice over: the check under the lock, and a unique
constraint on (hold, kind).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from generation.models import CreditBudget, LedgerEntry

Kind = LedgerEntry.Kind


class InsufficientCredits(Exception):
    """Raised when a reservation does not fit; the message says what is needed and what is left."""

    def __init__(self, *, needed: int, available: int) -> None:
        self.needed = needed
        self.available = available
        super().__init__(
            f"This needs {needed} credits but only {max(available, 0)} are left this month. "
            "Shorten or remove shots, choose a cheaper model, or ask an admin for more credits."
        )


@dataclass(frozen=True)
class MonthSummary:
    period_start: dt.datetime
    limit: int
    granted: int
    used: int
    held: int

    @property
    def available(self) -> int:
        return self.limit + self.granted - self.used - self.held

    @property
    def total(self) -> int:
        return self.limit + self.granted


def month_start(at: dt.datetime | None = None) -> dt.datetime:
    at = (at or timezone.now()).astimezone(dt.UTC)
    return at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(at: dt.datetime | None = None) -> dt.datetime:
    start = month_start(at)
    return (start + dt.timedelta(days=32)).replace(day=1)


def open_holds():
    """Hold entries that have been neither settled nor released."""
    closures = LedgerEntry.objects.filter(hold=OuterRef("pk"))
    return LedgerEntry.objects.filter(kind=Kind.HOLD).filter(~Exists(closures))


def month_summary(user, *, at: dt.datetime | None = None) -> MonthSummary:
    """The user's credits for the month containing `at` (default: now). Reads only."""
    start = month_start(at)
    end = next_month_start(at)
    this_month = Q(created_at__gte=start, created_at__lt=end)
    totals = LedgerEntry.objects.filter(user=user).aggregate(
        granted=Coalesce(Sum("credits", filter=this_month & Q(kind=Kind.GRANT)), 0),
        used=Coalesce(Sum("credits", filter=this_month & Q(kind=Kind.SETTLE)), 0),
    )
    held = open_holds().filter(user=user).aggregate(total=Coalesce(Sum("credits"), 0))["total"]
    limit = CreditBudget.objects.filter(user=user).values_list("monthly_limit", flat=True).first() or 0
    return MonthSummary(
        period_start=start, limit=limit, granted=totals["granted"], used=totals["used"], held=held
    )


def _lock_budget(user) -> CreditBudget:
    CreditBudget.objects.get_or_create(user=user)
    return CreditBudget.objects.select_for_update().get(user=user)


def reserve_many(user, *, holds: list[dict], reason: str) -> list[LedgerEntry]:
    """Hold credits for several items at once, all or nothing.

    `holds` is a list of dicts with `credits` and optionally `project` and `take`. Raises
    InsufficientCredits (writing nothing) when their sum does not fit in what is available.
    Must be called inside no other transaction that outlives a Runway call.
    """
    needed = sum(h["credits"] for h in holds)
    if needed < 0 or any(h["credits"] < 0 for h in holds):
        raise ValueError("Cannot hold a negative amount.")
    with transaction.atomic():
        _lock_budget(user)
        available = month_summary(user).available
        if needed > available:
            raise InsufficientCredits(needed=needed, available=available)
        return [
            LedgerEntry.objects.create(
                user=user,
                kind=Kind.HOLD,
                credits=h["credits"],
                project=h.get("project"),
                take=h.get("take"),
                reason=reason,
            )
            for h in holds
        ]


def reserve(user, *, credits: int, reason: str, project=None, take=None) -> LedgerEntry:
    """Hold `credits` for the user. Raises InsufficientCredits and writes nothing when short."""
    return reserve_many(user, holds=[{"credits": credits, "project": project, "take": take}], reason=reason)[
        0
    ]


def _close(hold: LedgerEntry, *, settle: int | None, reason: str) -> bool:
    with transaction.atomic():
        _lock_budget(hold.user)
        if hold.closures.exists():
            return False
        common = {
            "user_id": hold.user_id,
            "project_id": hold.project_id,
            "take_id": hold.take_id,
            "hold": hold,
        }
        try:
            with transaction.atomic():
                if settle is not None:
                    LedgerEntry.objects.create(kind=Kind.SETTLE, credits=settle, reason=reason, **common)
                rest = hold.credits - (settle or 0)
                if rest > 0 or settle is None:
                    LedgerEntry.objects.create(
                        kind=Kind.RELEASE, credits=max(rest, 0), reason=reason, **common
                    )
        except IntegrityError:
            # Another process closed this hold between our check and our write.
            return False
    return True


def settle(hold: LedgerEntry, *, credits: int, reason: str = "Runway task succeeded") -> bool:
    """Charge `credits` (Runway's reported cost) against the hold and release the rest of it.

    Idempotent: a hold already settled or released is left as it is (returns False).
    A cost above the hold is charged in full: Runway's cost is the authority.
    """
    if credits < 0:
        raise ValueError("Cannot settle a negative amount.")
    return _close(hold, settle=credits, reason=reason)


def release(hold: LedgerEntry, *, reason: str) -> bool:
    """Give back the whole hold (a failed or cancelled take). Idempotent: returns False if already closed."""
    return _close(hold, settle=None, reason=reason)


def transfer_hold(hold: LedgerEntry, *, take, reason: str) -> LedgerEntry | None:
    """Release `hold` and hold the same credits for `take`, in one transaction.

    Used for an automatic retake after a Runway-side failure, so that a running sequence never
    stalls half-way for lack of budget. Returns None if the hold was already closed.
    """
    with transaction.atomic():
        if not release(hold, reason=reason):
            return None
        return LedgerEntry.objects.create(
            user_id=hold.user_id,
            kind=Kind.HOLD,
            credits=hold.credits,
            project_id=hold.project_id,
            take=take,
            reason=reason,
        )


def grant(user, *, credits: int, reason: str, by=None) -> LedgerEntry:
    """Add (or, with a negative amount, take away) credits for the current month."""
    if not reason.strip():
        raise ValueError("A grant needs a reason.")
    with transaction.atomic():
        _lock_budget(user)
        return LedgerEntry.objects.create(
            user=user, kind=Kind.GRANT, credits=credits, reason=reason, created_by=by
        )


def set_monthly_limit(user, *, credits: int) -> CreditBudget:
    if credits < 0:
        raise ValueError("A monthly limit cannot be negative.")
    with transaction.atomic():
        budget = _lock_budget(user)
        budget.monthly_limit = credits
        budget.save(update_fields=["monthly_limit", "updated_at"])
    return budget


def hold_for_take(take) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(take=take, kind=Kind.HOLD).order_by("pk").last()
