"""A project's statement for a month: its total is the ledger's settled credits, split into the
client's revisions and the agency's exploration, by sequence and film version; CSV and page."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from generation import credits
from generation.audit import AuditEntry
from generation.models import LedgerEntry, Take
from projects import statements
from projects.models import FilmVersion, Membership, Project, ReviewDecision, Sequence, Shot

pytestmark = pytest.mark.django_db


def _take(alice, shot, *, at: dt.datetime, charged: int, held: int | None = None, project=None) -> Take:
    """A take made at `at`, held and settled through the ledger at what Runway charged."""
    take = Take.objects.create(shot=shot, user=alice, created_at=at, estimated_credits=held or charged)
    hold = credits.reserve(
        alice, credits=held or charged, reason="clip", project=project or shot.sequence.project, take=take
    )
    credits.settle(hold, credits=charged)
    return take


def _version(sequence, number: int, *, at: dt.datetime) -> FilmVersion:
    return FilmVersion.objects.create(sequence=sequence, number=number, film=f"v{number}.mp4", created_at=at)


def _decide(version, verdict: str, *, at: dt.datetime) -> None:
    ReviewDecision.objects.create(version=version, author_name="Client", verdict=verdict, created_at=at)


@pytest.fixture
def month_of_work(alice, carol, project):
    """Tour: v1 (shots 1 and 2), the client asks for changes, a retake of shot 1 goes into v2, the
    client approves v2, the agency tries shot 2 again. Teaser: one take, no version yet. Plus what
    must stay out: another project's charge, last month's, an open hold and a release."""
    base = timezone.now() - dt.timedelta(days=2)
    tour = Sequence.objects.create(project=project, title="Tour", created_by=alice)
    hall = Shot.objects.create(sequence=tour, position=0, prompt="hall")
    garden = Shot.objects.create(sequence=tour, position=1, prompt="garden")
    teaser = Sequence.objects.create(project=project, title="Teaser", created_by=alice)
    door = Shot.objects.create(sequence=teaser, position=0, prompt="door")

    _take(alice, hall, at=base, charged=60)
    _take(alice, garden, at=base + dt.timedelta(minutes=1), charged=50, held=60)
    v1 = _version(tour, 1, at=base + dt.timedelta(minutes=10))
    _decide(v1, ReviewDecision.Verdict.CHANGES_REQUESTED, at=base + dt.timedelta(hours=1))
    _take(alice, hall, at=base + dt.timedelta(hours=2), charged=40)
    _take(alice, hall, at=base + dt.timedelta(hours=2, minutes=5), charged=0)  # refunded failure
    v2 = _version(tour, 2, at=base + dt.timedelta(hours=3))
    _decide(v2, ReviewDecision.Verdict.APPROVED, at=base + dt.timedelta(hours=4))
    _take(alice, garden, at=base + dt.timedelta(hours=5), charged=30)
    _take(alice, door, at=base + dt.timedelta(hours=6), charged=25)

    other = Project.objects.create(name="Other client", created_by=carol)
    Membership.objects.create(project=other, user=carol, role=Membership.Role.OWNER)
    elsewhere = Sequence.objects.create(project=other, title="Elsewhere", created_by=carol)
    _take(carol, Shot.objects.create(sequence=elsewhere, prompt="x"), at=base, charged=99)
    last_month = _take(alice, door, at=base - dt.timedelta(days=40), charged=70)
    LedgerEntry.objects.filter(take=last_month).update(
        created_at=credits.month_start() - dt.timedelta(days=3)
    )  # settled in the month before
    open_take = Take.objects.create(shot=door, user=alice, estimated_credits=20)
    credits.reserve(alice, credits=20, reason="clip", project=project, take=open_take)
    released = Take.objects.create(shot=door, user=alice, estimated_credits=15)
    credits.release(
        credits.reserve(alice, credits=15, reason="clip", project=project, take=released), reason="cancelled"
    )
    return {"tour": tour, "teaser": teaser}


def _ledger_settled(project, month) -> int:
    start = dt.datetime(month.year, month.month, 1, tzinfo=dt.UTC)
    return LedgerEntry.objects.filter(
        project=project,
        kind=LedgerEntry.Kind.SETTLE,
        created_at__gte=start,
        created_at__lt=credits.next_month_start(start),
    ).aggregate(total=Sum("credits"))["total"]


def test_the_statement_total_is_the_ledgers_settled_credits_with_the_revision_split(project, month_of_work):
    month = credits.month_start().date()

    statement = statements.statement_for(project, month=month)

    assert statement.credits == _ledger_settled(project, month) == 60 + 50 + 40 + 0 + 30 + 25
    assert statement.revision_credits == 40
    assert statement.exploration_credits == 60 + 50 + 30 + 25
    assert [
        (line.sequence_title, line.version, line.is_revision, line.takes, line.credits)
        for line in statement.lines
    ] == [  # fmt: skip
        ("Teaser", statements.NEXT_VERSION, False, 1, 25),
        ("Tour", "v1", False, 2, 110),
        ("Tour", "v2", True, 2, 40),
        ("Tour", statements.NEXT_VERSION, False, 1, 30),
    ]
    assert statement.value == statement.amount == Decimal("2.05")


def test_the_markup_is_added_to_the_money_value_and_nothing_else(project, month_of_work):
    statements.set_markup(project, percent=Decimal("15"), by=None)
    month = credits.month_start().date()

    statement = statements.statement_for(project, month=month)

    assert statement.credits == _ledger_settled(project, month)
    assert statement.value == Decimal("2.05")
    assert statement.amount == Decimal("0.29") + Decimal("1.27") + Decimal("0.46") + Decimal("0.35")
    assert statement.revision_amount == Decimal("0.46")
    assert statement.markup == statement.amount - Decimal("2.05")


def test_last_months_statement_holds_last_months_charge_only(project, month_of_work):
    month = statements.previous_month(credits.month_start().date())

    statement = statements.statement_for(project, month=month)

    assert statement.credits == _ledger_settled(project, month) == 70
    assert [(line.sequence_title, line.credits) for line in statement.lines] == [("Teaser", 70)]


def test_a_charge_whose_take_was_deleted_stays_on_the_statement(project, month_of_work):
    Take.objects.filter(shot__sequence=month_of_work["teaser"]).delete()  # ledger keeps SET_NULL rows
    month = credits.month_start().date()

    statement = statements.statement_for(project, month=month)

    assert statement.credits == _ledger_settled(project, month) == 205
    assert statement.lines[-1].sequence_title == "(removed work)"
    assert statement.lines[-1].credits == 25


def test_the_statement_page_shows_the_lines_and_totals_to_an_owner(client, alice, project, month_of_work):
    client.force_login(alice)

    response = client.get(reverse("project_statement", args=[project.pk]))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Revisions the client asked for" in text
    assert "$2.05" in text
    assert "$0.40" in text
    assert "css/statement.css" in text


def test_the_printed_statement_hides_the_studio_around_it():
    from django.contrib.staticfiles import finders

    with open(finders.find("css/statement.css")) as file:
        css = file.read()
    assert "@media print" in css
    assert ".no-print" in css


def test_the_csv_has_a_row_per_line_and_the_totals_and_escapes_formulas(
    client, alice, project, month_of_work
):
    month_of_work["tour"].title = "=HYPERLINK(1)"
    month_of_work["tour"].save(update_fields=["title"])
    client.force_login(alice)

    response = client.get(
        reverse("project_statement_csv", args=[project.pk]), {"month": f"{credits.month_start():%Y-%m}"}
    )

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == statements.CSV_HEADER
    assert rows[1][:5] == ["'=HYPERLINK(1)", "v1", "Exploration", "2", "110"]
    assert rows[-3][4] == "40"
    assert rows[-1][4:] == ["205", "2.05", "2.05"]
    assert sum(int(row[4]) for row in rows[1:-3]) == 205


def test_editors_and_viewers_get_403_and_outsiders_404(client, bob, carol, project):
    client.force_login(bob)
    assert client.get(reverse("project_statement", args=[project.pk])).status_code == 403
    assert client.get(reverse("project_statement_csv", args=[project.pk])).status_code == 403
    client.force_login(carol)
    assert client.get(reverse("project_statement", args=[project.pk])).status_code == 404


def test_an_admin_who_reads_the_ledger_sees_any_projects_statement(client, boss, project):
    client.force_login(boss)
    assert client.get(reverse("project_statement", args=[project.pk])).status_code == 200


def test_anonymous_goes_to_login(client, project):
    response = client.get(reverse("project_statement", args=[project.pk]))
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_a_bad_month_is_404(client, alice, project):
    client.force_login(alice)
    assert (
        client.get(reverse("project_statement", args=[project.pk]), {"month": "2026-13"}).status_code == 404
    )
    assert client.get(reverse("project_statement", args=[project.pk]), {"month": "March"}).status_code == 404


def test_an_owner_sets_the_markup_and_the_audit_log_says_so(client, alice, project):
    client.force_login(alice)

    response = client.post(reverse("set_project_markup", args=[project.pk]), {"markup_percent": "12.5"})

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.markup_percent == Decimal("12.50")
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.description, entry.source) == (
        alice, AuditEntry.Action.MARKUP, "0.00% -> 12.50%", "127.0.0.1"
    )  # fmt: skip


@pytest.mark.parametrize("value", ["-1", "1000", "abc", "NaN"])
def test_an_invalid_markup_changes_nothing(client, alice, project, value):
    client.force_login(alice)

    client.post(reverse("set_project_markup", args=[project.pk]), {"markup_percent": value})

    project.refresh_from_db()
    assert project.markup_percent == 0
    assert not AuditEntry.objects.exists()


def test_a_viewer_may_not_set_the_markup_and_get_is_405(client, alice, bob, project):
    client.force_login(bob)
    assert (
        client.post(reverse("set_project_markup", args=[project.pk]), {"markup_percent": "5"}).status_code
        == 403
    )
    client.force_login(alice)
    assert client.get(reverse("set_project_markup", args=[project.pk])).status_code == 405
    project.refresh_from_db()
    assert project.markup_percent == 0
