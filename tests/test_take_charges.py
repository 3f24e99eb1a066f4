"""What a take costs on every terminal path, against the simulator over real HTTP.

The rule: the ledger never shows less than Runway could have charged. After each path the user's
settled credits equal what the simulator's organisation was charged for the tasks the ledger knows
(its starting balance less its balance now), any difference is covered by holds kept open as
"unconfirmed", no other hold is left open, and nothing is ever resent silently.
"""

import datetime as dt
import time

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone

from generation import credits, pipeline, runway
from generation.models import LedgerEntry, Take
from projects.models import Sequence
from tests.helpers import DiesAfterSending, WorkerKilled, drive, make_sequence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]

Status = Take.Status


@pytest.fixture
def books(runway):
    """Checks the invariant against the simulator's balance at the start of the test."""
    start = balance(runway)

    def check(user) -> int:
        charged = start - balance(runway)
        settled = LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
        open_holds = credits.open_holds().filter(user=user)
        unconfirmed = open_holds.filter(take__status=Status.UNCONFIRMED).aggregate(s=Sum("credits"))["s"] or 0
        assert not open_holds.exclude(take__status=Status.UNCONFIRMED).exists(), "a hold was left open"
        # Confirmed tasks are settled at exactly their cost; unconfirmed holds cover what Runway may
        # have made besides (an admin settles or releases them), so the ledger is never short.
        assert settled <= charged <= settled + unconfirmed
        assert credits.recompute_figures() == []
        return charged

    return check


def balance(sim) -> int:
    response = requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10)
    return response.json()["creditBalance"]


def one_shot(project, alice, references, *, prompt="Slow zoom", shots=1):
    return make_sequence(
        project,
        alice,
        references,
        model="gen4_turbo",
        stitched=True,
        duration=2,
        shots=shots,
        prompts=[prompt] + [f"Shot {i + 2}" for i in range(shots - 1)],
    )


def poll_until(take: Take, *statuses: str, timeout: float = 20) -> Take:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        take.refresh_from_db()
        if take.status in statuses:
            return take
        time.sleep(0.05)
    raise AssertionError(f"take still {take.status}")


def settled(take: Take) -> list[int]:
    return list(LedgerEntry.objects.filter(take=take, kind="settle").values_list("credits", flat=True))


# --- cancel in each state -------------------------------------------------------------------------


def test_cancelling_before_runway_starts_keeps_the_hold_until_it_is_confirmed(
    project, alice, references, runway, books
):
    # Runway refunds a task it had not started, but it may start one between the GET and the
    # DELETE, and after the DELETE it no longer shows the task (tests/test_cancel_race.py).
    runway.configure(pending_seconds=60)
    sequence = one_shot(project, alice, references, shots=2)
    pipeline.start_sequence(sequence, user=alice)
    first, second = Take.objects.order_by("pk")
    assert (first.status, second.status) == (Status.PENDING, Status.QUEUED)

    result = pipeline.cancel_sequence(sequence)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.UNCONFIRMED, Status.CANCELLED)
    assert first.cost_credits is None
    assert runway.tasks()[0]["status"] == "CANCELLED"
    assert runway.tasks()[0]["cost"] == 0
    assert (result.charged, result.released, result.still_held) == (0, 10, 10)
    assert "stay held until an admin confirms" in first.charge_note
    assert second.charge_note == "No credits were charged."
    assert books(alice) == 0


def test_cancelling_while_runway_generates_keeps_runways_charge(project, alice, references, runway, books):
    runway.configure(pending_seconds=0.05, running_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    take = poll_until(Take.objects.get(), Status.RUNNING)

    result = pipeline.cancel_sequence(sequence)

    take.refresh_from_db()
    assert take.status == Status.CANCELLED
    assert take.cost_credits == 10
    assert settled(take) == [10]
    assert (result.charged, result.released) == (10, 0)
    assert "Runway charged 10 credits" in str(result)
    assert runway.tasks()[0]["cost"] == 10
    assert books(alice) == 10


def test_cancelling_after_runway_finished_saves_the_paid_clip(project, alice, references, runway, books):
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get()
    runway.wait_for_status(take.runway_task_id, "SUCCEEDED")  # finished; nobody has polled yet

    pipeline.cancel_sequence(sequence)

    take.refresh_from_db()
    sequence.refresh_from_db()
    assert take.status == Status.SUCCEEDED
    assert take.output
    assert settled(take) == [10]
    assert sequence.status == Sequence.Status.CANCELLED
    assert sequence.shots.get().chosen_take == take
    assert books(alice) == 10


def test_cancelling_while_the_output_is_saved_lets_it_finish(
    project, alice, references, runway, books, monkeypatch
):
    queued = []
    monkeypatch.setattr(pipeline, "_enqueue_now", lambda task, *args: queued.append((task, *args)))
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    pipeline.advance_sequence(sequence.pk)
    pipeline.submit_take(Take.objects.get().pk)
    take = poll_until(Take.objects.get(), Status.DOWNLOADING)

    pipeline.cancel_sequence(sequence)
    take.refresh_from_db()
    assert take.status == Status.DOWNLOADING  # Runway charged for it: it is saved, not thrown away
    pipeline.finish_take(take.pk)

    take.refresh_from_db()
    assert take.status == Status.SUCCEEDED
    assert settled(take) == [10]
    assert books(alice) == 10


class _CancelsWhileCreating(runway.RunwayClient):
    """A client whose create request crosses a user's cancel: the cancel lands while the take is
    being submitted, and Runway's answer arrives after it."""

    sequence = None

    def create_task(self, endpoint, body):
        pipeline.cancel_sequence(self.sequence)
        return super().create_task(endpoint, body)


def test_cancelling_during_submission_stops_the_task_runway_made(
    project, alice, references, runway, books, monkeypatch
):
    sequence = one_shot(project, alice, references)
    _CancelsWhileCreating.sequence = sequence
    monkeypatch.setattr(
        "generation.runway.client_from_settings", lambda **options: _CancelsWhileCreating(**options)
    )

    pipeline.start_sequence(sequence, user=alice)

    take = Take.objects.get()
    # Stopped as soon as Runway answered, before it started; whether it had is not known.
    assert take.status == Status.UNCONFIRMED
    assert take.runway_task_id
    (task,) = runway.tasks()
    assert task["status"] == "CANCELLED"
    assert task["deleted"]
    assert credits.open_holds().get().take == take
    assert books(alice) == task["cost"]


def test_a_task_cancelled_at_runway_is_settled_at_its_cost(project, alice, references, runway, books):
    runway.configure(pending_seconds=0.05, running_seconds=60)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    take = poll_until(Take.objects.get(), Status.RUNNING)

    runway.cancel(take.runway_task_id)  # from Runway's dashboard, after it started: no refund
    take = poll_until(take, Status.CANCELLED)

    assert take.cost_credits == 10
    assert settled(take) == [10]
    assert "Runway charged 10 credits" in take.charge_note
    assert books(alice) == 10


# --- failures ---------------------------------------------------------------------------------------


def test_a_refunded_failure_settles_at_nothing(project, alice, references, runway, books):
    # Runway refunds every failure but SAFETY.INPUT.* (runway-api.md §6.3).
    sequence = one_shot(project, alice, references, prompt="Hall [sim:fail=SAFETY.OUTPUT.THIRD_PARTY]")
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)

    take = Take.objects.get()
    assert take.status == Status.FAILED
    assert settled(take) == [0]
    assert take.charge_note == "No credits were charged."
    assert books(alice) == 0


def test_a_failure_runway_charges_for_is_settled_at_its_cost(project, alice, references, runway, books):
    sequence = one_shot(project, alice, references, prompt="Hall [sim:fail=SAFETY.OUTPUT][sim:charge]")
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    take = Take.objects.get()
    assert (take.status, take.cost_credits) == (Status.FAILED, 10)
    assert settled(take) == [10]
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    assert books(alice) == 10


def test_charged_internal_failures_are_paid_and_retaken_with_new_holds(
    project, alice, references, runway, books, settings
):
    settings.RUNWAY_INTERNAL_RETAKES = 2
    sequence = one_shot(project, alice, references, prompt="Hall [sim:fail=INTERNAL][sim:charge]")
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)

    takes = list(Take.objects.order_by("pk"))
    assert [t.attempt for t in takes] == [0, 1, 2]
    assert all(settled(t) == [10] for t in takes)
    assert len(runway.tasks()) == 3
    assert books(alice) == 30


# --- outputs that could not be saved ----------------------------------------------------------------


def test_a_lost_download_is_paid_once_and_can_be_fetched_again(project, alice, references, runway, books):
    runway.fail_next("truncate_download", pipeline.MAX_DOWNLOAD_ATTEMPTS * 3)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)

    take = Take.objects.get()
    assert (take.status, take.failure_code, take.cost_credits) == (Status.FAILED, "DOWNLOAD", 10)
    assert settled(take) == [10]
    assert "Fetch it again" in take.failure_message
    assert books(alice) == 10

    pipeline.fetch_take_again(take)

    take.refresh_from_db()
    assert take.status == Status.SUCCEEDED
    assert take.output
    assert sequence.shots.get().chosen_take == take
    assert settled(take) == [10]
    assert len(runway.tasks()) == 1
    assert books(alice) == 10
    with pytest.raises(pipeline.PipelineError):
        pipeline.fetch_take_again(take)


def test_recovery_fetches_a_lost_download_again(project, alice, references, runway, books):
    runway.fail_next("truncate_download", pipeline.MAX_DOWNLOAD_ATTEMPTS * 3)
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)
    take = Take.objects.get()
    assert take.failure_code == "DOWNLOAD"

    pipeline.recover()
    take.refresh_from_db()
    assert take.status == Status.FAILED  # not before its retry time

    Take.objects.filter(pk=take.pk).update(next_poll_at=timezone.now())
    pipeline.recover()
    take.refresh_from_db()
    assert take.status == Status.SUCCEEDED
    assert settled(take) == [10]
    assert books(alice) == 10


# --- submissions nobody can confirm -----------------------------------------------------------------


def test_a_worker_killed_during_the_create_call_is_never_resent(
    project, alice, references, runway, books, monkeypatch
):
    sequence = one_shot(project, alice, references)
    with monkeypatch.context() as patch:
        patch.setattr("generation.runway.client_from_settings", lambda **options: DiesAfterSending(**options))
        with pytest.raises(WorkerKilled):
            pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get()
    assert take.status == Status.SUBMITTING
    assert take.create_sent_at
    assert not take.runway_task_id

    Take.objects.filter(pk=take.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    drive(sequence)

    take.refresh_from_db()
    assert take.status == Status.UNCONFIRMED
    assert len(runway.tasks()) == 1  # never sent again
    assert books(alice) == 10  # the task Runway made is covered by the hold kept open


def test_a_worker_killed_before_sending_is_sent_once(project, alice, references, runway, books):
    sequence = one_shot(project, alice, references)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_enqueue_now", lambda task, *args: None)
        pipeline.start_sequence(sequence, user=alice)
    # A worker claimed the take and died before the request left.
    take = Take.objects.get()
    Take.objects.filter(pk=take.pk).update(
        status=Status.SUBMITTING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )

    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    assert len(runway.tasks()) == 1
    assert books(alice) == 10


def test_an_unconfirmed_create_keeps_its_hold_until_an_admin_resolves_it(
    project, alice, references, runway, books
):
    runway.fail_next("lost_response")
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)
    take = Take.objects.get()
    assert take.status == Status.UNCONFIRMED
    assert "stay held" in take.charge_note
    assert books(alice) == 10

    with pytest.raises(pipeline.PipelineError):
        pipeline.resolve_unconfirmed(take, charged=True, reason=" ")
    assert pipeline.resolve_unconfirmed(take, charged=True, reason="Runway's usage shows it", by="admin")
    assert not pipeline.resolve_unconfirmed(take, charged=False, reason="again")

    take.refresh_from_db()
    assert (take.status, take.cost_credits) == (Status.FAILED, 10)
    assert settled(take) == [10]
    assert books(alice) == 10


def test_an_unconfirmed_take_the_admin_finds_uncharged_is_released(project, alice, references, runway):
    # The create answers 500 and makes nothing (the run's organisation read goes through).
    runway.fail_next("http_error", status=500, path="/v1/image_to_video")
    sequence = one_shot(project, alice, references)
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)
    take = Take.objects.get()
    assert take.status == Status.UNCONFIRMED

    pipeline.resolve_unconfirmed(take, charged=False, reason="Not in Runway's usage report")

    assert not credits.open_holds().exists()
    assert credits.month_summary(alice).used == 0


# --- the invariant across the fault matrix ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "count", "params"),
    [
        ("moderation", 1, {}),
        ("moderation", 1, {"charge": True}),
        ("bad_output", 1, {}),
        ("fail", 1, {"charge": True}),
        ("http_error", 2, {"status": 503}),
        ("http_error", 1, {"status": 500}),
        ("rate_limit", 2, {}),
        ("lost_response", 1, {}),
        ("truncate_download", 2, {}),
        ("truncate_download", 30, {}),
        ("expired_urls", 2, {}),
        ("slow", 1, {"seconds": 1}),
    ],
)
def test_the_books_match_runway_whatever_goes_wrong(
    project, alice, references, runway, books, kind, count, params
):
    runway.fail_next(kind, count, **params)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status in (Sequence.Status.DONE, Sequence.Status.NEEDS_ATTENTION)
    ids = [t for t in Take.objects.values_list("runway_task_id", flat=True) if t]
    assert len(ids) == len(set(ids))  # no task was made twice for one take
    unconfirmed = Take.objects.filter(status=Status.UNCONFIRMED).count()
    assert len(runway.tasks()) == len(ids) + (unconfirmed if kind == "lost_response" else 0)
    books(alice)
