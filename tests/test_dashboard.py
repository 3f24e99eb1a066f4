import pytest
from django.urls import reverse

from generation import credits
from generation.models import LedgerEntry
from projects.models import Membership, Project, Sequence

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_users_to_login(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_my_projects_and_not_others(client, alice, carol, project):
    Project.objects.create(name="Carol's secret", created_by=carol).memberships.create(
        user=carol, role="owner"
    )
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Harbour House" in response.text
    assert "Carol&#x27;s secret" not in response.text
    assert "Carol's secret" not in response.text


def test_it_shows_my_credits_this_month(client, alice, project):
    hold = credits.reserve(alice, credits=150, reason="test", project=project)
    credits.settle(hold, credits=100)
    credits.reserve(alice, credits=40, reason="test", project=project)
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    meter = response.context["meter"]
    assert (meter["summary"].used, meter["summary"].held, meter["available"]) == (100, 40, 860)
    assert "860" in response.text
    assert meter["used_percent"] == 10.0
    assert meter["held_percent"] == 4.0


def test_it_shows_what_is_generating_and_recent_films(client, alice, project):
    Sequence.objects.create(project=project, title="Running tour", created_by=alice, status="running")
    Sequence.objects.create(project=project, title="Draft tour", created_by=alice)
    done = Sequence.objects.create(project=project, title="Done tour", created_by=alice, status="done")
    done.film.name = "films/done.mp4"
    done.save()
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert [s.title for s in response.context["generating"]] == ["Running tour"]
    assert [s.title for s in response.context["recent_films"]] == ["Done tour"]


def test_it_shows_the_simulated_badge_only_when_simulating(client, alice, settings):
    client.force_login(alice)
    settings.RUNWAY_SIMULATED = True
    assert "Simulated Runway" in client.get(reverse("dashboard")).text
    settings.RUNWAY_SIMULATED = False
    assert "Simulated Runway" not in client.get(reverse("dashboard")).text


def test_it_links_to_admin_only_for_staff(client, alice):
    client.force_login(alice)
    assert reverse("admin:index") not in client.get(reverse("dashboard")).text
    alice.is_staff = True
    alice.save()
    assert reverse("admin:index") in client.get(reverse("dashboard")).text


def test_it_never_shows_the_runway_key(client, alice, project, settings):
    settings.RUNWAY_API_KEY = "key_" + "f" * 128
    client.force_login(alice)
    assert settings.RUNWAY_API_KEY not in client.get(reverse("dashboard")).text


def test_its_query_count_does_not_grow_with_projects(client, alice, django_assert_max_num_queries):
    client.force_login(alice)
    for i in range(12):
        p = Project.objects.create(name=f"P{i}", created_by=alice)
        Membership.objects.create(project=p, user=alice, role="owner")
        Sequence.objects.create(project=p, title=f"S{i}", created_by=alice, status="running")
    with django_assert_max_num_queries(12):
        client.get(reverse("dashboard"))
    assert LedgerEntry.objects.count() == 0


def test_sequences_that_need_attention_are_listed_with_the_generating_ones(client, alice, project):
    Sequence.objects.create(project=project, title="Stuck tour", created_by=alice, status="attention")
    Sequence.objects.create(project=project, title="Finished tour", created_by=alice, status="done")
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert [s.title for s in response.context["generating"]] == ["Stuck tour"]
    assert "Needs attention" in response.text
