import datetime as dt

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
    # A fixed number more for the visit, the client feedback and what finished since the last visit.
    with django_assert_max_num_queries(16):
        client.get(reverse("dashboard"))
    assert LedgerEntry.objects.count() == 0


def test_sequences_that_need_attention_are_listed_with_the_generating_ones(client, alice, project):
    Sequence.objects.create(project=project, title="Stuck tour", created_by=alice, status="attention")
    Sequence.objects.create(project=project, title="Finished tour", created_by=alice, status="done")
    client.force_login(alice)
    response = client.get(reverse("dashboard"))
    assert [s.title for s in response.context["generating"]] == ["Stuck tour"]
    assert "Needs attention" in response.text


# --- what waits ------------------------------------------------------------------------------------


def version_of(project, alice, title="Tour"):
    from projects.models import FilmVersion

    sequence = Sequence.objects.create(project=project, title=title, created_by=alice, status="done")
    return FilmVersion.objects.create(sequence=sequence, number=1, film="films/1.mp4", duration=4.0)


def test_it_lists_client_feedback_newer_than_my_last_look_at_the_sequence(client, alice, project):
    from django.utils import timezone

    from projects import home
    from projects.models import ReviewComment, ReviewDecision

    version = version_of(project, alice)
    ReviewComment.objects.create(
        version=version,
        author_name="Dana",
        body="Seen already",
        created_at=timezone.now() - dt.timedelta(hours=2),
    )
    home.record_look(alice, version.sequence)
    from projects.models import SequenceLook

    SequenceLook.objects.update(seen_at=timezone.now() - dt.timedelta(hours=1))
    ReviewComment.objects.create(
        version=version, author_name="Dana", body="The hall is too dark", at_seconds=2
    )
    ReviewDecision.objects.create(
        version=version, author_name="Dana", verdict="changes", note="Brighter, please"
    )

    client.force_login(alice)
    page = client.get(reverse("dashboard")).text
    assert "The hall is too dark" in page
    assert "Dana: Changes requested" in page
    assert "Brighter, please" in page
    assert "Seen already" not in page

    client.post(reverse("sequence_seen", args=[version.sequence_id]))
    assert "The hall is too dark" not in client.get(reverse("dashboard")).text


def test_feedback_on_projects_i_only_view_or_am_not_in_is_not_mine_to_answer(
    client, bob, carol, alice, project
):
    from projects.models import ReviewComment

    ReviewComment.objects.create(version=version_of(project, alice), author_name="Dana", body="Too dark")
    for user in (bob, carol):
        client.force_login(user)
        assert "Too dark" not in client.get(reverse("dashboard")).text


def test_staff_comments_are_not_waiting_for_a_reply(client, alice, project):
    from projects.models import ReviewComment

    version = version_of(project, alice)
    ReviewComment.objects.create(
        version=version, author=alice, author_name="alice", body="Internal: swap shot 2", is_internal=True
    )
    ReviewComment.objects.create(version=version, author=alice, author_name="alice", body="Fixed in v2")
    client.force_login(alice)
    page = client.get(reverse("dashboard")).text
    assert "Internal: swap shot 2" not in page
    assert "Fixed in v2" not in page


def test_runs_under_way_show_their_progress(client, alice, project):
    from django.utils import timezone

    from generation.models import Take
    from projects.models import Shot

    started = timezone.now()
    running = Sequence.objects.create(
        project=project, title="Running tour", created_by=alice, status="running", started_at=started
    )
    shots = [Shot.objects.create(sequence=running, prompt=f"S{i}", position=i) for i in range(3)]
    old = Take.objects.create(shot=shots[0], user=alice, status="succeeded")  # an earlier run's
    Take.objects.filter(pk=old.pk).update(created_at=started - dt.timedelta(days=1))
    Take.objects.create(shot=shots[0], user=alice, status="succeeded")
    Take.objects.create(shot=shots[1], user=alice, status="running")
    Take.objects.create(shot=shots[2], user=alice, status="queued")
    Sequence.objects.create(project=project, title="Film again", created_by=alice, status="assembling")

    client.force_login(alice)
    page = client.get(reverse("dashboard")).text
    assert "1 of 3 clips made" in page
    assert "Assembling the film" in page


def test_it_lists_what_finished_since_my_last_visit(client, alice, project):
    from django.utils import timezone

    from projects.models import StudioVisit

    client.force_login(alice)
    client.get(reverse("dashboard"))
    StudioVisit.objects.update(seen_at=timezone.now() - dt.timedelta(hours=3))
    before = timezone.now() - dt.timedelta(hours=4)
    after = timezone.now() - dt.timedelta(hours=1)
    Sequence.objects.create(
        project=project, title="Old film", created_by=alice, status="done", finished_at=before
    )
    Sequence.objects.create(
        project=project, title="New film", created_by=alice, status="done", finished_at=after
    )
    Sequence.objects.create(
        project=project, title="Broke", created_by=alice, status="failed", finished_at=after
    )

    first = client.get(reverse("dashboard"))
    assert {s.title for s in first.context["finished"]} == {"New film", "Broke"}
    assert "Finished since your last visit" in first.text
    # A reload a moment later is the same visit: the list stays.
    again = client.get(reverse("dashboard"))
    assert {s.title for s in again.context["finished"]} == {"New film", "Broke"}


def test_seen_refuses_outsiders_anonymous_users_and_get(client, alice, carol, project):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice)
    url = reverse("sequence_seen", args=[sequence.pk])
    assert reverse("login") in client.post(url)["Location"]
    client.force_login(carol)
    assert client.post(url).status_code == 404
    client.force_login(alice)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 204
