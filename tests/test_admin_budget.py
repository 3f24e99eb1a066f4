import csv
import io

import pytest
from django.urls import reverse

from generation import credits
from generation.models import CreditBudget, LedgerEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    client.force_login(admin)
    return client


def test_budgets_list_this_months_figures(admin_client, alice, project):
    credits.grant(alice, credits=200, reason="bonus")
    hold = credits.reserve(alice, credits=100, reason="shot", project=project)
    credits.settle(hold, credits=70)
    credits.reserve(alice, credits=50, reason="shot 2", project=project)

    response = admin_client.get(reverse("admin:generation_creditbudget_changelist"))

    assert response.status_code == 200
    budget = next(b for b in response.context["cl"].result_list if b.user == alice)
    assert (budget.granted_sum, budget.used_sum, budget.held_sum, budget.available_sum) == (200, 70, 50, 1080)


def test_the_grant_action_writes_a_grant_with_a_reason(admin_client, alice, carol):
    url = reverse("admin:generation_creditbudget_changelist")
    ids = [str(b.pk) for b in CreditBudget.objects.all()]
    confirm = admin_client.post(url, {"action": "grant_credits", "_selected_action": ids})
    assert confirm.status_code == 200
    assert "Grant credits" in confirm.content.decode()
    assert not LedgerEntry.objects.exists()

    admin_client.post(
        url,
        {
            "action": "grant_credits",
            "_selected_action": ids,
            "apply": "1",
            "credits": "150",
            "reason": "campaign",
        },
    )

    grants = LedgerEntry.objects.filter(kind="grant").order_by("user__username")
    assert [(g.user.username, g.credits, g.reason, g.created_by.username) for g in grants] == [
        ("alice", 150, "campaign", "root"),
        ("carol", 150, "campaign", "root"),
    ]


def test_a_grant_without_reason_writes_nothing(admin_client, alice):
    url = reverse("admin:generation_creditbudget_changelist")
    admin_client.post(
        url,
        {
            "action": "grant_credits",
            "_selected_action": [alice.credit_budget.pk],
            "apply": "1",
            "credits": "10",
        },
    )
    assert not LedgerEntry.objects.exists()


def test_the_ledger_is_read_only(admin_client, alice):
    entry = credits.grant(alice, credits=10, reason="x")
    change = admin_client.post(
        reverse("admin:generation_ledgerentry_change", args=[entry.pk]),
        {"credits": "99999", "reason": "edited"},
    )
    assert change.status_code == 403
    assert admin_client.get(reverse("admin:generation_ledgerentry_add")).status_code == 403
    assert (
        admin_client.post(
            reverse("admin:generation_ledgerentry_delete", args=[entry.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    entry.refresh_from_db()
    assert (entry.credits, entry.reason) == (10, "x")


def test_the_ledger_filters_by_kind_and_month(admin_client, alice):
    credits.grant(alice, credits=10, reason="grant one")
    credits.reserve(alice, credits=20, reason="hold one")
    month = credits.month_start().strftime("%Y-%m")
    url = reverse("admin:generation_ledgerentry_changelist")

    response = admin_client.get(url, {"kind": "hold", "month": month})

    assert [e.reason for e in response.context["cl"].result_list] == ["hold one"]
    assert admin_client.get(url, {"month": "2001-01"}).context["cl"].result_count == 0


def test_the_ledger_exports_csv(admin_client, alice, project):
    hold = credits.reserve(alice, credits=40, reason="shot", project=project)
    credits.settle(hold, credits=30)
    url = reverse("admin:generation_ledgerentry_changelist")
    ids = list(LedgerEntry.objects.values_list("pk", flat=True))

    response = admin_client.post(url, {"action": "export_csv", "_selected_action": ids})

    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert response["Content-Type"] == "text/csv"
    assert sorted((r["kind"], r["credits"], r["project"]) for r in rows) == [
        ("hold", "40", "Harbour House"),
        ("release", "10", "Harbour House"),
        ("settle", "30", "Harbour House"),
    ]


def test_staff_without_admin_rights_cannot_see_budgets(client, alice):
    client.force_login(alice)
    response = client.get(reverse("admin:generation_creditbudget_changelist"))
    assert response.status_code == 302
