import csv
import io

import pytest
from django.urls import reverse

from generation import credits
from generation.models import CreditBudget, CreditMonth, LedgerEntry, ProjectBudget

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


def test_the_budget_list_reads_the_running_figures_not_the_history(
    admin_client, alice, django_assert_max_num_queries
):
    for n in range(30):
        credits.settle(credits.reserve(alice, credits=10, reason=f"shot {n}"), credits=10)
    url = reverse("admin:generation_creditbudget_changelist")

    with django_assert_max_num_queries(12):
        response = admin_client.get(url)

    budget = next(b for b in response.context["cl"].result_list if b.user == alice)
    assert (budget.used_sum, budget.held_sum, budget.available_sum) == (300, 0, 700)


def test_editing_a_limit_in_the_list_changes_only_the_limit(admin_client, alice):
    budget = alice.credit_budget
    url = reverse("admin:generation_creditbudget_changelist")
    credits.reserve(alice, credits=300, reason="shot")

    admin_client.post(
        url,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(budget.pk),
            "form-0-monthly_limit": "1500",
            "_save": "Save",
        },
    )

    budget.refresh_from_db()
    assert (budget.monthly_limit, budget.held) == (1500, 300)
    assert credits.recompute_figures() == []


def test_project_budgets_show_this_months_figures(admin_client, alice, project):
    credits.set_project_limit(project, credits=500)
    credits.settle(credits.reserve(alice, credits=100, reason="shot", project=project), credits=70)
    credits.reserve(alice, credits=50, reason="shot 2", project=project)

    response = admin_client.get(reverse("admin:generation_projectbudget_changelist"))

    assert response.status_code == 200
    (budget,) = response.context["cl"].result_list
    assert (budget.monthly_limit, budget.used_sum, budget.held_sum, budget.available_sum) == (
        500,
        70,
        50,
        380,
    )


def test_admins_set_a_project_cap_but_never_its_held_credits(admin_client, alice, project):
    credits.reserve(alice, credits=50, reason="shot", project=project)
    budget = ProjectBudget.objects.get(project=project)
    url = reverse("admin:generation_projectbudget_change", args=[budget.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert 'name="held"' not in page.text
    assert 'name="monthly_limit"' in page.text

    response = admin_client.post(url, {"monthly_limit": "250", "held": "0"})

    assert response.status_code == 302
    budget.refresh_from_db()
    assert (budget.monthly_limit, budget.held) == (250, 50)
    admin_client.post(url, {"monthly_limit": ""})
    budget.refresh_from_db()
    assert budget.monthly_limit is None


def test_admins_add_a_cap_to_a_project_without_a_budget(admin_client, project):
    response = admin_client.post(
        reverse("admin:generation_projectbudget_add"), {"project": str(project.pk), "monthly_limit": "900"}
    )
    assert response.status_code == 302
    assert credits.project_summary(project).limit == 900


def grant(admin_client, budgets, amount):
    return admin_client.post(
        reverse("admin:generation_creditbudget_changelist"),
        {
            "action": "grant_credits",
            "_selected_action": [str(b.pk) for b in budgets],
            "apply": "1",
            "credits": str(amount),
            "reason": "typo",
        },
        follow=True,
    )


def test_a_grant_beyond_the_ledgers_range_is_refused_on_the_form(admin_client, alice):
    low, high = credits.credits_range(LedgerEntry, "credits")
    for amount in (high + 1, low - 1, 2**64):
        response = grant(admin_client, [alice.credit_budget], amount)
        assert response.status_code == 200
        assert "Grant credits" in response.text
        assert f"A grant must be between {low:,} and {high:,} credits" in response.text
    assert not LedgerEntry.objects.exists()


def test_a_grant_that_would_overflow_one_users_month_grants_nobody(admin_client, alice, carol):
    credits.grant(carol, credits=1, reason="first")
    # With no limit beside it, so that the list's own "available" sum still fits the column.
    CreditBudget.objects.filter(user=carol).update(monthly_limit=0)
    CreditMonth.objects.filter(user=carol).update(
        granted=credits.credits_range(CreditMonth, "granted")[1] - 5
    )
    response = grant(admin_client, [alice.credit_budget, carol.credit_budget], 10)
    assert "Nothing was granted: This month&#x27;s grants must be between" in response.text
    assert LedgerEntry.objects.filter(kind="grant").count() == 1
    assert credits.month_summary(alice).granted == 0


def test_limits_beyond_the_columns_range_are_refused_on_the_forms(admin_client, alice, project):
    budget = alice.credit_budget
    too_big = str(credits.credits_range(CreditBudget, "monthly_limit")[1] + 1)
    change = admin_client.post(
        reverse("admin:generation_creditbudget_change", args=[budget.pk]),
        {"user": str(alice.pk), "monthly_limit": too_big},
    )
    listed = admin_client.post(
        reverse("admin:generation_creditbudget_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(budget.pk),
            "form-0-monthly_limit": too_big,
            "_save": "Save",
        },
    )
    capped = admin_client.post(
        reverse("admin:generation_projectbudget_add"), {"project": str(project.pk), "monthly_limit": too_big}
    )
    for response in (change, listed, capped):
        assert response.status_code == 200
        assert "Ensure this value is less than or equal to" in response.text
    budget.refresh_from_db()
    assert budget.monthly_limit == 1000
    assert not ProjectBudget.objects.exists()
