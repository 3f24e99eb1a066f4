"""Runway's daily generation limits, against the simulator over real HTTP: a run that needs more
clips than today leaves is refused (or split) before anything is held, with the figures; a run that
meets the limit mid-way waits, marked, and finishes by itself after the reset, the ledger exact;
concurrency follows the organisation's limit per kind (null: none)."""

from __future__ import annotations

import time

import pytest
import requests
from django.db.models import Sum

from generation import catalog, credits, pipeline, tiers
from generation.models import LedgerEntry, Take
from projects.models import Sequence
from tests.helpers import assert_ledger_exact, assert_no_duplicate_submissions, drive, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)

Status = Take.Status


@pytest.fixture
def rich_alice(alice):
    credits.set_monthly_limit(alice, credits=5000)
    return alice


def use_up(runway, count: int) -> None:
    """Make `count` video generations at Runway outside the studio (another app on the account),
    each deleted at once: they count against the day's limit all the same."""
    body = {"model": "gen4.5", "promptText": "Elsewhere", "ratio": "1280:720", "duration": 2}
    for _ in range(count):
        created = requests.post(
            f"{runway.base_url}/v1/text_to_video", json=body, headers=runway.api_headers, timeout=10
        )
        assert created.status_code == 200, created.text
        requests.delete(
            f"{runway.base_url}/v1/tasks/{created.json()['id']}", headers=runway.api_headers, timeout=10
        )


def test_a_20_shot_run_at_tier_1_is_refused_before_any_hold(
    project, rich_alice, references, runway, inline_pipeline
):
    runway.set_tier(1)  # 50 video generations a day
    use_up(runway, 44)
    sequence = make_sequence(
        project, rich_alice, references, model="gen4_turbo", stitched=False, duration=2, shots=20
    )

    with pytest.raises(pipeline.DailyLimitReached) as refused:
        pipeline.start_sequence(sequence, user=rich_alice)

    assert str(refused.value) == (
        "Runway allows 50 video generations a day on this account; 44 are used; this run needs 20."
    )
    assert [c for c, _ in refused.value.choices] == ["wait", "fit"]
    assert refused.value.fits == 6
    assert refused.value.fit_credits == 6 * 10
    assert not Take.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert len(runway.tasks()) == 44
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT


def test_a_20_shot_run_at_tier_1_can_run_what_fits(project, rich_alice, references, runway, inline_pipeline):
    runway.set_tier(1)
    use_up(runway, 44)
    sequence = make_sequence(
        project, rich_alice, references, model="gen4_turbo", stitched=False, duration=2, shots=20
    )

    takes = pipeline.start_sequence(sequence, user=rich_alice, daily_limit="fit")

    assert [t.shot.position for t in takes] == list(range(6))
    held = LedgerEntry.objects.filter(user=rich_alice, kind="hold").aggregate(s=Sum("credits"))["s"]
    assert held == 60


def test_a_run_that_meets_the_limit_mid_way_waits_and_finishes_after_the_reset(
    project, rich_alice, references, runway, inline_pipeline, settings
):
    settings.RUNWAY_DAILY_LIMIT_RECHECK = 0.5
    runway.configure(limits={"video": {"max_daily_generations": 2}})
    sequence = make_sequence(
        project, rich_alice, references, model="gen4_turbo", stitched=True, duration=2, shots=3
    )

    with pytest.raises(pipeline.DailyLimitReached):
        pipeline.start_sequence(sequence, user=rich_alice)
    pipeline.start_sequence(sequence, user=rich_alice, daily_limit="wait")

    third = Take.objects.get(shot__sequence=sequence, shot__position=2)
    deadline = time.monotonic() + 60
    while not third.is_waiting_for_daily_limit and time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        third.refresh_from_db()
        time.sleep(0.05)
    assert third.is_waiting_for_daily_limit
    assert third.status == Status.QUEUED
    assert "Waiting for Runway's daily limit" in third.failure_message
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.RUNNING
    # It keeps asking and waiting, never failing, until the limit resets.
    time.sleep(1.2)
    pipeline.recover()
    third.refresh_from_db()
    assert third.status == Status.QUEUED
    assert third.is_waiting_for_daily_limit
    assert len(runway.tasks()) == 2
    # The page says why the take waits.
    from django.test import Client
    from django.urls import reverse

    staff = Client()
    staff.force_login(rich_alice)
    assert (
        "Waiting for Runway&#x27;s daily limit"
        in staff.get(reverse("sequence_detail", args=[sequence.pk])).text
    )

    runway.advance_day()
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    third.refresh_from_db()
    assert third.status == Status.SUCCEEDED
    assert not third.is_waiting_for_daily_limit
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(rich_alice, runway)


def test_concurrency_follows_the_organisation_per_kind_and_null_is_no_limit(runway, settings):
    settings.RUNWAY_MAX_CONCURRENCY = 2
    runway.configure(
        limits={"video": {"max_concurrent_generations": None}, "image": {"max_concurrent_generations": 3}}
    )

    assert tiers.concurrency_limit(catalog.VIDEO) is None
    assert tiers.concurrency_limit(catalog.IMAGE) == 3
    assert pipeline.concurrency_limit("gen4_turbo") is None
