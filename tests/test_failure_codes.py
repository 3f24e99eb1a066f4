"""Failures by Runway's code, against the simulator over real HTTP: SAFETY.INPUT.* is charged and
settled at Runway's cost, INTERNAL.BAD_OUTPUT is not retaken unchanged, THIRD_PARTY.UNAVAILABLE is
retaken after a delay, not at once (generation/failures.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db.models import Sum
from django.utils import timezone

from generation import failures, pipeline
from generation.models import LedgerEntry, Take
from projects.models import Sequence
from tests.helpers import assert_ledger_exact, drive, make_sequence, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

Status = Take.Status


def one_shot(project, alice, references):
    return make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1)


def test_a_safety_input_failure_settles_at_runways_charge(
    project, alice, references, runway, inline_pipeline
):
    sequence = one_shot(project, alice, references)
    runway.fail_next("moderation", 1, code="SAFETY.INPUT.TEXT")

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    (take,) = Take.objects.filter(shot__sequence=sequence)
    (task,) = runway.tasks()
    assert task["status"] == "FAILED"
    assert task["cost"] > 0
    assert take.status == Status.FAILED
    assert take.cost_credits == task["cost"]
    settled = LedgerEntry.objects.filter(user=alice, kind="settle").aggregate(s=Sum("credits"))["s"]
    assert settled == task["cost"]
    assert "Reword" in take.failure_message
    assert_ledger_exact(alice, runway)


def test_internal_bad_output_is_not_retaken_unchanged(project, alice, references, runway, inline_pipeline):
    sequence = one_shot(project, alice, references)
    runway.fail_next("bad_output", 1)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    (take,) = Take.objects.filter(shot__sequence=sequence)  # no automatic retake
    assert len(runway.tasks()) == 1
    assert take.failure_code.startswith("INTERNAL.BAD_OUTPUT")
    assert take.cost_credits == 0  # refunded
    assert "Change the prompt or choose another image" in take.failure_message
    assert_ledger_exact(alice, runway)


def test_an_unavailable_provider_is_retaken_after_a_delay_not_at_once(
    project, alice, references, runway, inline_pipeline
):
    sequence = one_shot(project, alice, references)
    runway.fail_next("fail", 1, code="THIRD_PARTY.UNAVAILABLE")
    before = timezone.now()

    pipeline.start_sequence(sequence, user=alice)
    first = Take.objects.get(shot__sequence=sequence)

    def first_is_final() -> bool:
        pipeline.poll_once()
        pipeline.recover()
        first.refresh_from_db()
        return first.is_final

    wait_for(first_is_final, timeout=60, what="the first take to end")
    assert first.status == Status.FAILED
    assert first.cost_credits == 0
    retake = Take.objects.exclude(pk=first.pk).get(shot__sequence=sequence)
    assert retake.status == Status.QUEUED
    assert retake.next_poll_at >= before + failures.RETRY_DELAY - dt.timedelta(seconds=1)
    pipeline.advance_sequence(sequence.pk)
    retake.refresh_from_db()
    assert retake.status == Status.QUEUED  # not sent before the delay
    assert len(runway.tasks()) == 1
    # The hold moved to the retake: nothing is charged and nothing is held twice.
    assert (
        sum(h.credits for h in pipeline.credits.open_holds().filter(user=alice)) == retake.estimated_credits
    )


def test_the_table_says_what_each_code_costs_and_how_it_is_retried():
    assert failures.lookup("SAFETY.INPUT.IMAGE").is_refunded is False
    assert failures.lookup("SAFETY.OUTPUT.THIRD_PARTY").is_refunded is True
    assert failures.lookup("INTERNAL.BAD_OUTPUT.CODE01").retry is failures.Retry.NEVER
    assert failures.lookup("INTERNAL").retry is failures.Retry.AT_ONCE
    assert failures.lookup("THIRD_PARTY.UNAVAILABLE").retry is failures.Retry.AFTER_DELAY
    assert failures.lookup("INPUT_PREPROCESSING.INTERNAL").retry is failures.Retry.AFTER_DELAY
