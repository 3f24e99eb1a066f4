"""A cancel that races Runway's scheduler: the GET said PENDING (or THROTTLED), and by the time
the DELETE arrives Runway has started the task, so it keeps the charge (runway-api.md section 5).

Runway answers a DELETE with 204 and then 404 for the task, so nobody can tell afterwards whether
a task it was told to stop had just started. The simulator's `start_on_delete` fault makes the race
happen on purpose; `readable_after_delete` stands for a Runway that keeps a cancelled task readable
(as its schema allows). Everything over real HTTP to the simulator; the books are checked as in
tests/test_take_charges.py: settled credits never above Runway's charge, never below it by more
than the holds kept open as unconfirmed.
"""

import pytest
import requests

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from tests import test_take_charges
from tests.test_simulator import create, i2v, log_entry, organization
from tests.test_take_charges import one_shot, settled

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]

Status = Take.Status
books = test_take_charges.books  # the fixture that checks the ledger against Runway's balance


def delete(sim, task_id: str) -> requests.Response:
    return requests.delete(f"{sim.base_url}/v1/tasks/{task_id}", headers=sim.api_headers, timeout=10)


# --- the simulator reproduces the race ---------------------------------------------------------------


def test_the_simulator_can_start_a_pending_task_just_as_it_is_deleted(runway):
    runway.configure(pending_seconds=60, credit_balance=1000)
    task_id = create(runway, i2v(duration=10))
    assert runway.get_task(task_id).json()["status"] == "PENDING"
    runway.fail_next("start_on_delete")

    assert delete(runway, task_id).status_code == 204

    entry = log_entry(runway, task_id)
    assert [e["status"] for e in entry["events"]] == ["PENDING", "RUNNING", "CANCELLED"]
    assert (entry["cost"], entry["deleted"]) == (50, True)
    assert organization(runway)["creditBalance"] == 950  # Runway kept the charge
    assert runway.get_task(task_id).status_code == 404  # and says nothing about it
    assert runway.faults() == []


def test_the_simulator_can_start_a_throttled_task_just_as_it_is_deleted(runway):
    runway.configure(
        pending_seconds=60, credit_balance=1000, limits={"gen4_turbo": {"max_concurrent_generations": 1}}
    )
    create(runway, i2v())
    waiting = create(runway, i2v())
    assert runway.get_task(waiting).json()["status"] == "THROTTLED"
    runway.fail_next("start_on_delete")

    delete(runway, waiting)

    entry = log_entry(runway, waiting)
    assert [e["status"] for e in entry["events"]] == ["THROTTLED", "PENDING", "RUNNING", "CANCELLED"]
    assert entry["cost"] == 10


def test_the_fault_waits_for_a_task_that_has_not_started(runway):
    runway.fail_next("start_on_delete")
    finished = create(runway, i2v())
    runway.wait_for_status(finished, "SUCCEEDED")
    delete(runway, finished)  # deleting a finished task: nothing to start

    assert runway.faults() == [{"kind": "start_on_delete", "remaining": 1}]


def test_without_a_fault_a_deleted_pending_task_is_refunded_and_gone(runway):
    runway.configure(pending_seconds=60, credit_balance=1000)
    task_id = create(runway, i2v(duration=10))

    delete(runway, task_id)

    assert log_entry(runway, task_id)["cost"] == 0
    assert organization(runway)["creditBalance"] == 1000
    assert runway.get_task(task_id).status_code == 404


def test_a_cancelled_task_can_be_kept_readable_after_its_delete(runway):
    runway.configure(pending_seconds=60)
    task_id = create(runway, i2v())
    runway.fail_next("readable_after_delete")

    delete(runway, task_id)

    body = runway.get_task(task_id).json()
    assert (body["status"], body["cost"]) == ("CANCELLED", {"credits": 0})


# --- the pipeline never shows less than Runway charged ------------------------------------------------


def test_a_take_runway_starts_as_it_is_cancelled_stays_held_until_an_admin_confirms(
    project, alice, references, runway, books
):
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get()
    assert take.status == Status.PENDING
    runway.fail_next("start_on_delete")

    result = pipeline.cancel_sequence(sequence)

    take.refresh_from_db()
    (task,) = runway.tasks()
    assert (task["status"], task["cost"], task["deleted"]) == ("CANCELLED", 10, True)
    assert take.status == Status.UNCONFIRMED
    assert credits.open_holds().get().take == take  # the whole estimate stays held
    assert "whether it charged for this one is unknown" in take.failure_message
    assert "10 credits stay held until an admin confirms" in take.charge_note
    assert (result.charged, result.released, result.still_held) == (0, 0, 10)
    assert "10 credits stay held until an admin confirms with Runway" in str(result)
    assert books(alice) == 10

    # The admin reads Runway's usage report, which shows the charge.
    assert pipeline.resolve_unconfirmed(take, charged=True, reason="Runway's usage shows it", by="admin")
    assert settled(take) == [10]
    assert books(alice) == 10


def test_a_take_cancelled_before_it_started_is_released_once_an_admin_confirms(
    project, alice, references, runway, books
):
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)

    pipeline.cancel_sequence(sequence)

    take = Take.objects.get()
    assert runway.tasks()[0]["cost"] == 0  # Runway refunded it, but no longer says so
    assert take.status == Status.UNCONFIRMED
    assert books(alice) == 0

    pipeline.resolve_unconfirmed(take, charged=False, reason="Not in Runway's usage report")
    assert not credits.open_holds().exists()
    assert not settled(take)
    assert books(alice) == 0


def test_a_cancel_runway_still_shows_is_settled_at_what_it_reports(project, alice, references, runway, books):
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    runway.fail_next("readable_after_delete")

    result = pipeline.cancel_sequence(sequence)

    take = Take.objects.get()
    assert (take.status, take.cost_credits) == (Status.CANCELLED, 0)
    assert settled(take) == [0]
    assert take.charge_note == "No credits were charged."
    assert take.failure_message == "Cancelled before Runway started it."
    assert (result.charged, result.released, result.still_held) == (0, 10, 0)
    assert books(alice) == 0


def test_a_lost_race_runway_still_shows_is_settled_at_its_charge(project, alice, references, runway, books):
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    runway.fail_next("start_on_delete")
    runway.fail_next("readable_after_delete")

    result = pipeline.cancel_sequence(sequence)

    take = Take.objects.get()
    assert (take.status, take.cost_credits) == (Status.CANCELLED, 10)
    assert settled(take) == [10]
    assert "Runway charged 10 credits" in take.charge_note
    assert (result.charged, result.still_held) == (10, 0)
    assert books(alice) == 10


def test_recovery_finishing_a_cancel_meets_the_same_race(project, alice, references, runway, books):
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    runway.fail_next("http_error", 4, status=503)  # the cancel cannot reach Runway now
    pipeline.cancel_sequence(sequence)
    take = Take.objects.get()
    assert take.status == Status.CANCELLED
    assert credits.open_holds().get().take == take
    runway.fail_next("start_on_delete")

    pipeline.recover()

    take.refresh_from_db()
    assert take.status == Status.UNCONFIRMED
    assert runway.tasks()[0]["cost"] == 10
    assert not LedgerEntry.objects.filter(take=take, kind__in=["settle", "release"]).exists()
    assert books(alice) == 10
