"""Credit budgets and the append-only ledger: reserve (hold), settle, release, grant.

Available this month = monthly limit + grants this month - settled this month - open holds.
A hold stays open until it is settled or released, whatever month that happens in; settled credits
count in the month they were settled. The month is the calendar month in UTC.

A project may also have a monthly cap (`ProjectBudget.monthly_limit`): a hold must then fit both
the user's and the project's remaining credits.

The balance check never reads the ledger's history: each budget row keeps its open holds (`held`)
and each `CreditMonth` row the month's grants and settlements, updated in the same transaction as
the ledger row they sum. The ledger stays the audit trail; `manage.py check_ledger` recomputes the
figures from it (`recompute_figures`).

Every operation that reads a balance and then writes locks the budget rows it touches first, the
user's before any project's, projects in primary-key order (SELECT ... FOR UPDATE on PostgreSQL; on
SQLite every transaction begins IMMEDIATE, which takes the database write lock), so concurrent
reservations are serialised and can never spend past either limit. Closing a hold twice is
prevented twice over: the check under the lock, and a unique constraint on (hold, kind).

Once a hold or a closure commits, `generation.alerts` mails the user (or a capped project's
owners) when the month's spending reaches 80 % or 100 %; it runs outside the locks and never fails
a spend.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone

from generation import alerts, audit
from generation.models import CreditBudget, CreditMonth, LedgerEntry, ProjectBudget

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


class ProjectCapReached(InsufficientCredits):
    """Raised when a reservation fits the user's budget but not the project's monthly cap."""

    def __init__(self, *, project, needed: int, available: int) -> None:
        self.project = project
        self.needed = needed
        self.available = available
        Exception.__init__(
            self,
            f"This needs {needed} credits but the project '{project}' has only {max(available, 0)} "
            "left of its monthly cap. Shorten or remove shots, choose a cheaper model, or ask the "
            "project's owner or an admin to raise the cap.",
        )


class CreditsOutOfRange(ValueError):
    """An amount the database column cannot hold; the message gives the range that can be stored."""


def credits_range(model, field: str) -> tuple[int, int]:
    """The smallest and largest amount `model.field` can store on this database.

    PostgreSQL stores a PositiveIntegerField in 32 bits, SQLite every integer in 64; writing past
    the range is an error from the driver, and on SQLite a sum past it silently turns into a float.
    """
    low, high = connection.ops.integer_field_range(model._meta.get_field(field).get_internal_type())
    return (-(2**63) if low is None else low, 2**63 - 1 if high is None else high)


def check_credits_in_range(credits: int, *, model, field: str, what: str) -> None:
    """Raise CreditsOutOfRange when `credits` does not fit `model.field`. `what` names the amount."""
    low, high = credits_range(model, field)
    if not low <= credits <= high:
        raise CreditsOutOfRange(
            f"{what} must be between {low:,} and {high:,} credits; {credits:,} is out of range."
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


@dataclass(frozen=True)
class ProjectSummary:
    period_start: dt.datetime
    limit: int | None  # None: the project has no cap
    used: int
    held: int

    @property
    def available(self) -> int | None:
        return None if self.limit is None else self.limit - self.used - self.held

    @property
    def total(self) -> int | None:
        return self.limit


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
    """The user's credits for the month containing `at` (default: now). Reads only, in constant time."""
    start = month_start(at)
    budget = CreditBudget.objects.filter(user=user).values("monthly_limit", "held").first() or {}
    month = CreditMonth.objects.filter(user=user, month=start.date()).values("granted", "used").first() or {}
    return MonthSummary(
        period_start=start,
        limit=budget.get("monthly_limit") or 0,
        granted=month.get("granted", 0),
        used=month.get("used", 0),
        held=budget.get("held") or 0,
    )


def project_summary(project, *, at: dt.datetime | None = None) -> ProjectSummary:
    """The project's credits for the month containing `at` (default: now). Reads only."""
    start = month_start(at)
    budget = ProjectBudget.objects.filter(project=project).values("monthly_limit", "held").first() or {}
    used = (
        CreditMonth.objects.filter(project=project, month=start.date()).values_list("used", flat=True).first()
        or 0
    )
    return ProjectSummary(
        period_start=start, limit=budget.get("monthly_limit"), used=used, held=budget.get("held") or 0
    )


def _lock_budget(user) -> CreditBudget:
    CreditBudget.objects.get_or_create(user=user)
    return CreditBudget.objects.select_for_update().get(user=user)


def _lock_projects(project_ids: Iterable[int | None]) -> dict[int, ProjectBudget]:
    locked = {}
    for project_id in sorted({pk for pk in project_ids if pk is not None}):
        ProjectBudget.objects.get_or_create(project_id=project_id)
        locked[project_id] = ProjectBudget.objects.select_for_update().get(project_id=project_id)
    return locked


def _month_row(*, at: dt.datetime, user_id: int | None = None, project_id: int | None = None) -> CreditMonth:
    """The figures row of the month containing `at`, created on first use. Call with the owner's
    budget row locked. `at` is the ledger row's own `created_at`, so a write at the turn of a month
    counts in the same month as its ledger row."""
    row, _ = CreditMonth.objects.get_or_create(
        user_id=user_id, project_id=project_id, month=month_start(at).date()
    )
    return row


def _add_held(*, user_id: int, project_id: int | None, credits: int) -> None:
    CreditBudget.objects.filter(user_id=user_id).update(held=F("held") + credits)
    if project_id is not None:
        ProjectBudget.objects.filter(project_id=project_id).update(held=F("held") + credits)


def _add_used(*, at: dt.datetime, user_id: int, project_id: int | None, credits: int) -> None:
    if not credits:
        return
    row = _month_row(at=at, user_id=user_id)
    CreditMonth.objects.filter(pk=row.pk).update(used=F("used") + credits)
    if project_id is not None:
        row = _month_row(at=at, project_id=project_id)
        CreditMonth.objects.filter(pk=row.pk).update(used=F("used") + credits)


def reserve_many(user, *, holds: list[dict], reason: str) -> list[LedgerEntry]:
    """Hold credits for several items at once, all or nothing.

    `holds` is a list of dicts with `credits` and optionally `project` and `take`. Raises
    InsufficientCredits (or ProjectCapReached) writing nothing when their sum does not fit in
    what the user, or a capped project, has left. Must be called inside no other transaction that
    outlives a Runway call.
    """
    needed = sum(h["credits"] for h in holds)
    if needed < 0 or any(h["credits"] < 0 for h in holds):
        raise ValueError("Cannot hold a negative amount.")
    by_project: dict[int, int] = {}
    projects = {}
    for h in holds:
        if h.get("project") is not None:
            by_project[h["project"].pk] = by_project.get(h["project"].pk, 0) + h["credits"]
            projects[h["project"].pk] = h["project"]
    with transaction.atomic():
        _lock_budget(user)
        _lock_projects(by_project)
        available = month_summary(user).available
        if needed > available:
            raise InsufficientCredits(needed=needed, available=available)
        for project_id, project_needed in by_project.items():
            project_available = project_summary(projects[project_id]).available
            if project_available is not None and project_needed > project_available:
                raise ProjectCapReached(
                    project=projects[project_id], needed=project_needed, available=project_available
                )
        entries = [
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
        CreditBudget.objects.filter(user=user).update(held=F("held") + needed)
        for project_id, project_needed in by_project.items():
            ProjectBudget.objects.filter(project_id=project_id).update(held=F("held") + project_needed)
    alerts.check_after_commit(user_id=user.pk, project_ids=by_project)
    return entries


def reserve(user, *, credits: int, reason: str, project=None, take=None) -> LedgerEntry:
    """Hold `credits` for the user. Raises InsufficientCredits and writes nothing when short."""
    return reserve_many(user, holds=[{"credits": credits, "project": project, "take": take}], reason=reason)[
        0
    ]


def _close(hold: LedgerEntry, *, settle: int | None, reason: str) -> bool:
    with transaction.atomic():
        _lock_budget(hold.user)
        _lock_projects([hold.project_id])
        if hold.closures.exists():
            return False
        now = timezone.now()
        common = {
            "created_at": now,
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
        _add_held(user_id=hold.user_id, project_id=hold.project_id, credits=-hold.credits)
        _add_used(at=now, user_id=hold.user_id, project_id=hold.project_id, credits=settle or 0)
    alerts.check_after_commit(user_id=hold.user_id, project_ids=[hold.project_id])
    return True


def settle(hold: LedgerEntry, *, credits: int, reason: str = "Runway task succeeded") -> bool:
    """Charge `credits` (what Runway charged) against the hold and release the rest of it.

    Idempotent: a hold already settled or released is left as it is (returns False).
    A cost above the hold is charged in full: Runway's cost is the authority.
    """
    if credits < 0:
        raise ValueError("Cannot settle a negative amount.")
    return _close(hold, settle=credits, reason=reason)


def release(hold: LedgerEntry, *, reason: str) -> bool:
    """Give back the whole hold (nothing was charged). Idempotent: returns False if already closed."""
    return _close(hold, settle=None, reason=reason)


def transfer_hold(hold: LedgerEntry, *, take, reason: str) -> LedgerEntry | None:
    """Release `hold` and hold the same credits for `take`, in one transaction.

    Used for an automatic retake after a Runway-side failure, so that a running sequence never
    stalls half-way for lack of budget. Returns None if the hold was already closed.
    """
    with transaction.atomic():
        if not release(hold, reason=reason):
            return None
        _lock_budget(hold.user)
        _lock_projects([hold.project_id])
        entry = LedgerEntry.objects.create(
            user_id=hold.user_id,
            kind=Kind.HOLD,
            credits=hold.credits,
            project_id=hold.project_id,
            take=take,
            reason=reason,
        )
        _add_held(user_id=hold.user_id, project_id=hold.project_id, credits=hold.credits)
        return entry


def grant(user, *, credits: int, reason: str, by=None) -> LedgerEntry:
    """Add (or, with a negative amount, take away) credits for the current month; in the audit log
    as made by `by` (None: the system or a command line)."""
    if not reason.strip():
        raise ValueError("A grant needs a reason.")
    check_credits_in_range(credits, model=LedgerEntry, field="credits", what="A grant")
    with transaction.atomic():
        _lock_budget(user)
        entry = LedgerEntry.objects.create(
            user=user, kind=Kind.GRANT, credits=credits, reason=reason, created_by=by
        )
        row = _month_row(at=entry.created_at, user_id=user.pk)
        # Raising here rolls the ledger row back with the transaction.
        check_credits_in_range(
            row.granted + credits, model=CreditMonth, field="granted", what="This month's grants"
        )
        CreditMonth.objects.filter(pk=row.pk).update(granted=F("granted") + credits)
        audit.record(
            actor=by,
            action=audit.AuditEntry.Action.GRANT,
            obj=user,
            description=f"{row.granted} -> {row.granted + credits} credits granted for "
            f"{row.month:%B %Y} ({credits:+}): {reason}",
        )
        return entry


def grant_many(users, *, credits: int, reason: str, by=None) -> list[LedgerEntry]:
    """`grant` to each of `users`, all or none: a grant refused for one (a month's total out of
    range) grants nobody. The users' budgets are locked in one order, so that two grants to
    overlapping groups wait for each other instead of deadlocking."""
    with transaction.atomic():
        return [
            grant(user, credits=credits, reason=reason, by=by) for user in sorted(users, key=lambda u: u.pk)
        ]


def set_monthly_limit(user, *, credits: int, by=None) -> CreditBudget:
    """Set the user's monthly limit; in the audit log with the limit it replaces, as made by `by`.
    Setting the limit the user has records nothing."""
    if credits < 0:
        raise ValueError("A monthly limit cannot be negative.")
    check_credits_in_range(credits, model=CreditBudget, field="monthly_limit", what="A monthly limit")
    with transaction.atomic():
        budget = _lock_budget(user)
        before = budget.monthly_limit
        budget.monthly_limit = credits
        budget.save(update_fields=["monthly_limit", "updated_at"])
        if before != credits:
            audit.record(
                actor=by,
                action=audit.AuditEntry.Action.MONTHLY_LIMIT,
                obj=user,
                description=f"{before} -> {credits} credits a month",
            )
    return budget


def set_project_limit(project, *, credits: int | None, by=None) -> ProjectBudget:
    """Cap the project's credits per month; None removes the cap. In the audit log with the cap it
    replaces, as made by `by`; setting the cap the project has records nothing."""
    if credits is not None and credits < 0:
        raise ValueError("A monthly cap cannot be negative.")
    if credits is not None:
        check_credits_in_range(credits, model=ProjectBudget, field="monthly_limit", what="A monthly cap")
    with transaction.atomic():
        budget = _lock_projects([project.pk])[project.pk]
        before = budget.monthly_limit
        budget.monthly_limit = credits
        budget.save(update_fields=["monthly_limit", "updated_at"])
        if before != credits:
            audit.record(
                actor=by,
                action=audit.AuditEntry.Action.PROJECT_CAP,
                obj=project,
                description=f"{_cap_words(before)} -> {_cap_words(credits)}",
            )
    return budget


def _cap_words(cap: int | None) -> str:
    return "no cap" if cap is None else f"{cap} credits a month"


# --- checking the running figures against the ledger --------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    what: str  # "user alice held", "project 3 2026-12 used", ...
    recorded: int
    from_ledger: int

    def __str__(self) -> str:
        return f"{self.what}: recorded {self.recorded}, ledger says {self.from_ledger}"


def recompute_figures(*, fix: bool = False) -> list[Mismatch]:
    """Recompute every running figure from the ledger and list those that differ.

    With `fix`, write the ledger's figures over the recorded ones (under the budget locks). Reads
    the whole ledger: this is the audit, not the balance check.
    """
    from django.db.models.functions import TruncMonth

    expected_held: dict[tuple[str, int], int] = {}
    for row in open_holds().values("user_id").annotate(total=Sum("credits")):
        expected_held[("user", row["user_id"])] = row["total"]
    for row in open_holds().exclude(project=None).values("project_id").annotate(total=Sum("credits")):
        expected_held[("project", row["project_id"])] = row["total"]
    expected_month: dict[tuple[str, int, dt.date], dict[str, int]] = {}
    monthly = LedgerEntry.objects.filter(kind__in=(Kind.GRANT, Kind.SETTLE)).annotate(
        month=TruncMonth("created_at", tzinfo=dt.UTC)
    )
    for row in monthly.values("user_id", "month", "kind").annotate(total=Sum("credits")):
        key = ("user", row["user_id"], _as_date(row["month"]))
        field = "granted" if row["kind"] == Kind.GRANT else "used"
        expected_month.setdefault(key, {"granted": 0, "used": 0})[field] = row["total"]
    per_project = monthly.filter(kind=Kind.SETTLE).exclude(project=None)
    for row in per_project.values("project_id", "month").annotate(total=Sum("credits")):
        key = ("project", row["project_id"], _as_date(row["month"]))
        expected_month.setdefault(key, {"granted": 0, "used": 0})["used"] = row["total"]

    mismatches = []
    recorded_held = {("user", b.user_id): b.held for b in CreditBudget.objects.all()}
    recorded_held.update({("project", b.project_id): b.held for b in ProjectBudget.objects.all()})
    for key in sorted(set(recorded_held) | set(expected_held)):
        recorded, expected = recorded_held.get(key, 0), expected_held.get(key, 0)
        if recorded != expected:
            mismatches.append(Mismatch(f"{key[0]} {key[1]} held", recorded, expected))
    recorded_month = {
        ("user" if m.user_id else "project", m.user_id or m.project_id, m.month): m
        for m in CreditMonth.objects.all()
    }
    for key in sorted(set(recorded_month) | set(expected_month), key=str):
        row = recorded_month.get(key)
        for field in ("granted", "used"):
            recorded = getattr(row, field) if row else 0
            expected = expected_month.get(key, {}).get(field, 0)
            if recorded != expected:
                mismatches.append(Mismatch(f"{key[0]} {key[1]} {key[2]:%Y-%m} {field}", recorded, expected))
    if fix and mismatches:
        _write_figures(expected_held, expected_month)
    return mismatches


def _as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _write_figures(held: dict, months: dict) -> None:
    with transaction.atomic():
        for budget in CreditBudget.objects.select_for_update().order_by("pk"):
            CreditBudget.objects.filter(pk=budget.pk).update(held=held.get(("user", budget.user_id), 0))
        for kind, pk in held:
            if kind == "project":
                ProjectBudget.objects.get_or_create(project_id=pk)
        for budget in ProjectBudget.objects.select_for_update().order_by("pk"):
            ProjectBudget.objects.filter(pk=budget.pk).update(
                held=held.get(("project", budget.project_id), 0)
            )
        CreditMonth.objects.exclude(
            pk__in=[
                m.pk
                for m in CreditMonth.objects.all()
                if ("user" if m.user_id else "project", m.user_id or m.project_id, m.month) in months
            ]
        ).update(granted=0, used=0)
        for (kind, pk, month), figures in months.items():
            CreditMonth.objects.update_or_create(**{f"{kind}_id": pk}, month=month, defaults=figures)


def hold_for_take(take) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(take=take, kind=Kind.HOLD).order_by("pk").last()
