import threading

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.urls import reverse

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def shot(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    return Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")


def url(shot):
    return reverse("delete_shot", args=[shot.pk])


def test_it_asks_for_confirmation_first(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot))
    assert response.status_code == 200
    assert "Delete Shot 1: Hall?" in response.text
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_deletes_once_confirmed(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes"})
    assert response["Location"] == reverse("sequence_detail", args=[shot.sequence_id])
    assert not Shot.objects.filter(pk=shot.pk).exists()


def test_it_refuses_while_generating(client, alice, shot):
    Sequence.objects.filter(pk=shot.sequence_id).update(status="running")
    client.force_login(alice)
    client.post(url(shot), {"confirm": "yes"})
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_redirects_anonymous_users_to_login(client, shot):
    assert reverse("login") in client.post(url(shot), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, shot):
    client.force_login(carol)
    assert client.post(url(shot), {"confirm": "yes"}).status_code == 404


def test_viewers_get_403(client, bob, shot):
    client.force_login(bob)
    assert client.post(url(shot), {"confirm": "yes"}).status_code == 403
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_refuses_get(client, alice, shot):
    client.force_login(alice)
    assert client.get(url(shot)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_delete_racing_a_start_never_removes_a_take_with_an_open_hold(project, alice):
    """A start and a delete released at once, many times: the delete either goes first (and the
    start holds nothing for the shot) or is refused; no hold is ever left without its take."""
    credits.set_monthly_limit(alice, credits=1_000_000)
    for round_number in range(25):
        sequence = Sequence.objects.create(
            project=project, title=f"Race {round_number}", model="gen4.5", created_by=alice
        )
        Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none", position=0)
        doomed = Shot.objects.create(sequence=sequence, prompt="Stairs", first_frame="none", position=1)
        client = Client()
        client.force_login(alice)
        gate = threading.Barrier(2)
        errors = []

        def start(sequence=sequence, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                pipeline.start_sequence(sequence, user=alice)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        def delete(client=client, doomed=doomed, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                client.post(reverse("delete_shot", args=[doomed.pk]), {"confirm": "yes"})
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=start), threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert not credits.open_holds().filter(take=None).exists(), f"round {round_number}"
        deleted = not Shot.objects.filter(pk=doomed.pk).exists()
        shots_with_takes = set(Take.objects.filter(shot__sequence=sequence).values_list("shot_id", flat=True))
        assert len(shots_with_takes) == (1 if deleted else 2)
    assert credits.recompute_figures() == []
    held = LedgerEntry.objects.filter(kind="hold", take__isnull=False).aggregate(s=Sum("credits"))["s"]
    assert credits.month_summary(alice).held == held


def test_it_refuses_while_a_take_of_the_shot_still_holds_credits(client, alice, shot):
    # A take cancelled while it was being sent: its submitter closes the hold once Runway answers.
    Sequence.objects.filter(pk=shot.sequence_id).update(status="cancelled")
    take = Take.objects.create(shot=shot, user=alice, status="cancelled", estimated_credits=60)
    credits.reserve(alice, credits=60, reason="test", take=take)
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes"}, follow=True)
    assert "still has credits held" in response.text
    assert Shot.objects.filter(pk=shot.pk).exists()
    assert credits.open_holds().get().take == take
