"""The read-only admin list of reconciliation rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from generation.models import UsageReconciliation

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 16)


@pytest.fixture
def admin_client(client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    client.force_login(admin)
    return client


@pytest.fixture
def rows():
    return [
        UsageReconciliation.objects.create(day=DAY, model="gen4.5", ledger_credits=120, runway_credits=120),
        UsageReconciliation.objects.create(day=DAY, model="veo3.1", ledger_credits=80, runway_credits=160),
        UsageReconciliation.objects.create(
            day=DAY + dt.timedelta(days=1), model="gen4.5", ledger_credits=24, runway_credits=0
        ),
    ]


def listed(response) -> list[tuple[str, str, int]]:
    assert response.status_code == 200
    return [(r.day.isoformat(), r.model, r.difference) for r in response.context["cl"].result_list]


def test_it_lists_rows_newest_first_with_their_difference(admin_client, rows):
    response = admin_client.get(reverse("admin:generation_usagereconciliation_changelist"))

    assert listed(response) == [
        ("2026-03-17", "gen4.5", -24),
        ("2026-03-16", "gen4.5", 0),
        ("2026-03-16", "veo3.1", 80),
    ]
    assert "Difference (Runway - ledger)" in response.content.decode()


def test_it_filters_to_the_rows_that_differ_and_by_model(admin_client, rows):
    url = reverse("admin:generation_usagereconciliation_changelist")

    assert listed(admin_client.get(url, {"differs": "yes"})) == [
        ("2026-03-17", "gen4.5", -24),
        ("2026-03-16", "veo3.1", 80),
    ]
    assert listed(admin_client.get(url, {"model": "veo3.1"})) == [("2026-03-16", "veo3.1", 80)]


def test_it_sorts_by_difference(admin_client, rows):
    url = reverse("admin:generation_usagereconciliation_changelist")

    response = admin_client.get(url, {"o": "4"})

    assert [d for _, _, d in listed(response)] == [-24, 0, 80]


def test_rows_cannot_be_added_changed_or_deleted(admin_client, rows):
    row = rows[1]
    change = reverse("admin:generation_usagereconciliation_change", args=[row.pk])

    assert admin_client.get(reverse("admin:generation_usagereconciliation_add")).status_code == 403
    assert admin_client.post(change, {"ledger_credits": 160, "runway_credits": 160}).status_code == 403
    assert (
        admin_client.post(reverse("admin:generation_usagereconciliation_delete", args=[row.pk])).status_code
        == 403
    )
    row.refresh_from_db()
    assert row.ledger_credits == 80
