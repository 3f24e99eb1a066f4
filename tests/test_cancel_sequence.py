import threading

import pytest
from django.db import connection
from django.urls import reverse

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="running"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="queued", estimated_credits=60)
    credits.reserve(alice, credits=60, reason="test", project=project, take=take)
    return sequence


def url(sequence):
    return reverse("cancel_sequence", args=[sequence.pk])


def test_it_asks_for_confirmation_first(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence))
    assert response.status_code == 200
    assert "Stop generating “Tour”?" in response.text
    sequence.refresh_from_db()
    assert sequence.status == "running"


def test_cancelling_stops_the_takes_and_returns_the_credits(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes"})
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    sequence.refresh_from_db()
    assert sequence.status == "cancelled"
    assert Take.objects.get().status == "cancelled"
    assert list(LedgerEntry.objects.filter(kind="release").values_list("credits", flat=True)) == [60]
    assert credits.month_summary(alice).available == 1000


def test_a_sequence_that_is_not_generating_is_left_alone(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="done")
    client.force_login(alice)
    client.post(url(sequence), {"confirm": "yes"})
    assert Take.objects.get().status == "queued"


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(url(sequence), {"confirm": "yes"}).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.post(url(sequence), {"confirm": "yes"}).status_code == 403
    sequence.refresh_from_db()
    assert sequence.status == "running"


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_a_cancel_racing_submissions_leaves_no_take_active_and_only_unconfirmed_holds_open(
    project, alice, runway
):
    """Submitters move takes QUEUED -> SUBMITTING -> PENDING while the cancel walks them, many
    times over. Afterwards (the submitters have finished, closing the holds of the takes they were
    sending) no take of the sequence is active, and only takes Runway was told to stop before they
    started hold credits, as unconfirmed (whether Runway started them as they were stopped is not
    known)."""
    credits.set_monthly_limit(alice, credits=1_000_000)
    # The race is with the submitters, not with Runway finishing: no task may end during a round,
    # however slow the machine (a task Runway finished before the cancel is kept, not cancelled).
    runway.configure(pending_seconds=60, running_seconds=60)
    shots = 6
    for round_number in range(10):
        sequence = Sequence.objects.create(
            project=project, title=f"Race {round_number}", model="gen4.5", created_by=alice, is_stitched=False
        )
        for position in range(shots):
            Shot.objects.create(
                sequence=sequence,
                prompt=f"Room {position}",
                duration=5,
                first_frame="none",
                position=position,
            )
        takes = pipeline.start_sequence(sequence, user=alice)
        gate = threading.Barrier(shots + 1)
        errors = []

        def submit(take_pk: int, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                pipeline.submit_take(take_pk)
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)
            finally:
                connection.close()

        def cancel(sequence=sequence, gate=gate, errors=errors) -> None:
            try:
                gate.wait()
                pipeline.cancel_sequence(sequence)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=submit, args=(take.pk,)) for take in takes]
        threads.append(threading.Thread(target=cancel))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        detail = list(
            Take.objects.filter(shot__sequence=sequence).values(
                "pk",
                "status",
                "runway_task_id",
                "create_sent_at",
                "submitted_at",
                "failure_message",
                "finished_at",
            )
        )
        bad = [d for d in detail if d["status"] not in ("cancelled", "unconfirmed")]
        assert not bad, f"round {round_number}: {bad}"
        held = credits.open_holds().filter(take__shot__sequence=sequence)
        assert not held.exclude(take__status="unconfirmed").exists(), f"round {round_number}"
        assert held.count() == Take.objects.filter(shot__sequence=sequence, status="unconfirmed").count()
        # Every task the submitters made was stopped at Runway.
        made = set(
            Take.objects.filter(shot__sequence=sequence)
            .exclude(runway_task_id=None)
            .values_list("runway_task_id", flat=True)
        )
        assert made <= {t["id"] for t in runway.tasks() if t["deleted"]}, f"round {round_number}"
    assert not credits.open_holds().exclude(take__status="unconfirmed").exists()
    assert credits.recompute_figures() == []
