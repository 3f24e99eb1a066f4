"""A project's statement for a month: the credits Runway charged for its work, and their money value,
by sequence and film version, with the revisions the client asked for apart from the agency's own
exploration; and the forecast of a month's end at its current pace.

Everything here only reads the ledger: a statement's credits are the month's settled ledger entries
of the project (what Runway charged), so its total is the ledger's, by construction and by test.

- Value: 1 credit = $0.01 (Runway sells credits at that price), plus the project's markup percent.
- A take counts towards the first film version of its sequence made at or after the take (the
  version it went into, or the next one); a master part towards the version it upscales; a take
  after the latest version towards "next version".
- A take is a revision when the last client decision on its sequence before the take was made was
  "request changes"; otherwise (no decision yet, or the last one approved) it is exploration.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db import transaction
from django.db.models import F

from generation import audit, credits
from generation.models import LedgerEntry
from projects.models import FilmVersion, Project, ReviewDecision

CREDIT_PRICE = Decimal("0.01")  # dollars per credit
CENT = Decimal("0.01")
NEXT_VERSION = "next version"


def money(credits_: int, *, markup_percent: Decimal = Decimal(0)) -> Decimal:
    """What `credits_` are worth in dollars with `markup_percent` on top, to the cent."""
    value = Decimal(credits_) * CREDIT_PRICE * (1 + Decimal(markup_percent) / 100)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class StatementLine:
    sequence_id: int | None
    sequence_title: str  # "(removed work)" for a charge whose take is gone
    version: str  # "v2", "next version" or "" (no sequence)
    is_revision: bool
    takes: int
    credits: int
    value: Decimal  # credits x $0.01
    amount: Decimal  # value with the markup

    @property
    def kind(self) -> str:
        return "Revision (client's request)" if self.is_revision else "Exploration"


@dataclass(frozen=True)
class Statement:
    project: Project
    month: dt.date  # the first day of the month (UTC)
    markup_percent: Decimal
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def credits(self) -> int:
        return sum(line.credits for line in self.lines)

    @property
    def revision_credits(self) -> int:
        return sum(line.credits for line in self.lines if line.is_revision)

    @property
    def exploration_credits(self) -> int:
        return self.credits - self.revision_credits

    @property
    def value(self) -> Decimal:
        return sum((line.value for line in self.lines), Decimal("0.00"))

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))

    @property
    def markup(self) -> Decimal:
        return self.amount - self.value

    @property
    def revision_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.is_revision), Decimal("0.00"))

    @property
    def exploration_amount(self) -> Decimal:
        return self.amount - self.revision_amount


def parse_month(text: str | None, *, now: dt.datetime | None = None) -> dt.date:
    """The month "YYYY-MM" names, as its first day; this month when `text` is empty. Raises
    ValueError for anything else."""
    if not text:
        return credits.month_start(now).date()
    year, _, month = text.partition("-")
    if len(year) != 4 or len(month) != 2:
        raise ValueError("Give the month as YYYY-MM, like 2026-03.")
    return dt.date(int(year), int(month), 1)


def previous_month(month: dt.date) -> dt.date:
    return (month - dt.timedelta(days=1)).replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month + dt.timedelta(days=32)).replace(day=1)


def _month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    return start, credits.next_month_start(start)


def settled_entries(project: Project, month: dt.date):
    """The project's settled ledger entries of the month: what the statement is made of."""
    start, end = _month_bounds(month)
    return LedgerEntry.objects.filter(
        project=project, kind=LedgerEntry.Kind.SETTLE, created_at__gte=start, created_at__lt=end
    )


def statement_for(project: Project, *, month: dt.date) -> Statement:
    """The project's statement for `month` (its first day). Four queries, whatever the month holds."""
    rows = list(
        settled_entries(project, month)
        .annotate(
            sequence_id=F("take__sequence_id"),
            sequence_title=F("take__sequence__title"),
            take_made_at=F("take__created_at"),
            master_of=F("take__version__number"),
        )
        .values("credits", "take_id", "sequence_id", "sequence_title", "take_made_at", "master_of")
    )
    sequence_ids = {row["sequence_id"] for row in rows if row["sequence_id"] is not None}
    versions: dict[int, list[tuple[dt.datetime, int]]] = {}
    for sequence_id, made_at, number in (
        FilmVersion.objects.filter(sequence_id__in=sequence_ids)
        .order_by("created_at", "number")
        .values_list("sequence_id", "created_at", "number")
    ):
        versions.setdefault(sequence_id, []).append((made_at, number))
    decisions: dict[int, list[tuple[dt.datetime, bool]]] = {}
    for sequence_id, made_at, verdict in (
        ReviewDecision.objects.filter(version__sequence_id__in=sequence_ids)
        .order_by("created_at", "pk")
        .values_list("version__sequence_id", "created_at", "verdict")
    ):
        decisions.setdefault(sequence_id, []).append(
            (made_at, verdict == ReviewDecision.Verdict.CHANGES_REQUESTED)
        )

    groups: dict[tuple, dict] = {}
    for row in rows:
        sequence_id = row["sequence_id"]
        if sequence_id is None:
            key = (None, "(removed work)", "", False)
        else:
            made_at = row["take_made_at"]
            key = (
                sequence_id,
                row["sequence_title"],
                _version_of(versions.get(sequence_id, []), made_at, master_of=row["master_of"]),
                _is_revision(decisions.get(sequence_id, []), made_at),
            )
        group = groups.setdefault(key, {"credits": 0, "takes": set()})
        group["credits"] += row["credits"]
        group["takes"].add(row["take_id"])
    markup = project.markup_percent
    lines = [
        StatementLine(
            sequence_id=key[0],
            sequence_title=key[1],
            version=key[2],
            is_revision=key[3],
            takes=len(group["takes"]),
            credits=group["credits"],
            value=money(group["credits"]),
            amount=money(group["credits"], markup_percent=markup),
        )
        for key, group in sorted(groups.items(), key=_line_order)
    ]
    return Statement(project=project, month=month, markup_percent=markup, lines=lines)


def _line_order(item: tuple) -> tuple:
    (sequence_id, title, version, is_revision), _ = item
    number = int(version[1:]) if version.startswith("v") else 10**9
    return (sequence_id is None, title.casefold(), sequence_id or 0, number, is_revision)


def _version_of(
    versions: list[tuple[dt.datetime, int]], made_at: dt.datetime, *, master_of: int | None
) -> str:
    if master_of is not None:
        return f"v{master_of}"
    index = bisect.bisect_left([at for at, _ in versions], made_at)
    return f"v{versions[index][1]}" if index < len(versions) else NEXT_VERSION


def _is_revision(decisions: list[tuple[dt.datetime, bool]], made_at: dt.datetime) -> bool:
    index = bisect.bisect_left([at for at, _ in decisions], made_at)
    return index > 0 and decisions[index - 1][1]


CSV_HEADER = ["Sequence", "Version", "Kind", "Takes", "Credits", "Value (USD)", "Amount with markup (USD)"]


def csv_rows(statement: Statement) -> list[list]:
    """The statement as the rows of its CSV: a header, one row per line, the totals."""
    rows: list[list] = [CSV_HEADER]
    for line in statement.lines:
        rows.append(
            [line.sequence_title, line.version, line.kind, line.takes, line.credits, line.value, line.amount]
        )
    rows.append(["Revisions the client asked for", "", "", "", statement.revision_credits, "",
                 statement.revision_amount])  # fmt: skip
    rows.append(["Agency exploration", "", "", "", statement.exploration_credits, "",
                 statement.exploration_amount])  # fmt: skip
    rows.append([f"Total (markup {statement.markup_percent}%)", "", "", "", statement.credits, statement.value,
                 statement.amount])  # fmt: skip
    return rows


def set_markup(project: Project, *, percent: Decimal, by) -> None:
    """Set the project's statement markup, recorded in the audit log with what it was. Setting the
    markup it has changes nothing."""
    if not Decimal(0) <= percent <= Decimal(999):
        raise ValueError("A markup is between 0 and 999 percent.")
    percent = percent.quantize(CENT, rounding=ROUND_HALF_UP)
    with transaction.atomic():
        before = (
            Project.objects.select_for_update().values_list("markup_percent", flat=True).get(pk=project.pk)
        )
        if before == percent:
            return
        Project.objects.filter(pk=project.pk).update(markup_percent=percent)
        audit.record(
            actor=by,
            action=audit.AuditEntry.Action.MARKUP,
            obj=project,
            description=f"{before}% -> {percent}%",
        )
    project.markup_percent = percent
