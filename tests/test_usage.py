import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import credits
from generation.models import LedgerEntry
from projects.models import Membership, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(alice, carol, project):
    other = Project.objects.create(name="Lighthouse", created_by=alice)
    Membership.objects.create(project=other, user=alice, role="owner")
    hold = credits.reserve(alice, credits=100, reason="Generate 'Tour'", project=project)
    credits.settle(hold, credits=80)
    credits.release(
        credits.reserve(alice, credits=50, reason="Failed take", project=other), reason="Runway failed"
    )
    last_month = timezone.now() - dt.timedelta(days=40)
    old = LedgerEntry.objects.create(user=alice, kind="hold", credits=30, project=other, reason="old")
    LedgerEntry.objects.create(user=alice, kind="settle", credits=30, project=other, reason="old", hold=old)
    LedgerEntry.objects.filter(reason="old").update(created_at=last_month)
    credits.reserve(carol, credits=999, reason="Carol's secret job")


def test_it_shows_my_totals_per_project_and_month(client, alice, history):
    client.force_login(alice)
    response = client.get(reverse("usage"))
    assert response.status_code == 200
    per_project = {
        row["project__name"]: (row["used"], row["released"]) for row in response.context["per_project"]
    }
    assert per_project == {"Harbour House": (80, 20), "Lighthouse": (30, 50)}
    assert [row["used"] for row in response.context["per_month"]] == [30, 80]
    assert response.context["totals"] == {"used": 110, "released": 70}
    assert len(response.context["chart"]["bars"]) == 2
    assert "<svg" in response.text


def test_it_never_shows_other_users_entries(client, alice, history):
    client.force_login(alice)
    text = client.get(reverse("usage")).text
    assert "Carol" not in text
    assert "999" not in text


def test_the_ledger_is_paginated(client, alice):
    for _ in range(30):
        credits.reserve(alice, credits=1, reason="tiny")
    client.force_login(alice)
    first = client.get(reverse("usage"))
    second = client.get(reverse("usage") + "?page=2")
    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "?page=2" in first.text


def test_it_redirects_anonymous_users_to_login(client):
    assert reverse("login") in client.get(reverse("usage"))["Location"]


def test_its_query_count_does_not_grow_with_entries(client, alice, project, django_assert_max_num_queries):
    client.force_login(alice)
    for _ in range(3):
        credits.reserve(alice, credits=1, reason="x", project=project)
    with django_assert_max_num_queries(15) as few:
        client.get(reverse("usage"))
    for _ in range(20):
        credits.reserve(alice, credits=1, reason="x", project=project)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("usage"))
