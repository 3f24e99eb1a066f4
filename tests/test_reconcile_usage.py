"""Reconciliation of the ledger with Runway's usage report (generation/reconcile.py), with takes
generated for real through the pipeline against the simulator over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest

from generation import credits, pipeline, reconcile
from generation.models import Take, UsageReconciliation
from projects.models import Sequence
from tests.helpers import drive, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)

CLIP = 10  # a 2 s gen4_turbo clip at 5 credits a second


@pytest.fixture(autouse=True)
def _inline_and_every_difference_alerts(settings, runway):
    settings.PIPELINE_INLINE = True
    settings.RUNWAY_POLL_INTERVAL = 0.2
    settings.PIPELINE_LEASE_SECONDS = 2
    settings.RECONCILE_ALERT_CREDITS = 0
    settings.ADMINS = []


@pytest.fixture(autouse=True)
def _no_finish_mail(alice):
    # The mail a finished run sends the user who started it (tests/test_finish_mail.py) is not what
    # these tests count: the reconciliation's own mails are.
    type(alice).objects.filter(pk=alice.pk).update(email="")


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "root-password")


@pytest.fixture
def generated(project, alice, references):
    """Two gen4_turbo takes generated and settled for real."""
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    return sequence


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def stored() -> dict[tuple[dt.date, str], tuple[int, int]]:
    return {(r.day, r.model): (r.ledger_credits, r.runway_credits) for r in UsageReconciliation.objects.all()}


def test_it_reports_nothing_when_the_books_agree(generated, root, mailoutbox):
    rows = reconcile.reconcile_usage(days=7)

    assert [(r.day, r.model, r.ledger_credits, r.runway_credits, r.state) for r in rows] == [
        (today(), "gen4_turbo", 2 * CLIP, 2 * CLIP, reconcile.AGREES)
    ]
    assert reconcile.summary(rows, days=7) == "The ledger and Runway agree for the last 7 days."
    assert stored() == {(today(), "gen4_turbo"): (2 * CLIP, 2 * CLIP)}
    assert mailoutbox == []


def test_it_finds_an_injected_mismatch_stores_it_and_mails_the_admins(
    generated, root, runway, settings, mailoutbox
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    yesterday = today() - dt.timedelta(days=1)
    runway.adjust_usage(yesterday, "veo3.1", 80)

    rows = reconcile.reconcile_usage(days=7)

    assert [(r.day, r.model) for r in reconcile.differing(rows)] == [(yesterday, "veo3.1")]
    assert stored() == {(yesterday, "veo3.1"): (0, 80), (today(), "gen4_turbo"): (2 * CLIP, 2 * CLIP)}
    assert UsageReconciliation.objects.get(day=yesterday, model="veo3.1").difference == 80
    assert reconcile.summary(rows, days=7) == f"1 day/model pairs differ: {yesterday} veo3.1 (+80)."
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["root@example.com", "ops@example.com"]
    assert f"{yesterday} veo3.1" in mailoutbox[0].body
    assert f"{today()} gen4_turbo" not in mailoutbox[0].body.split("\n\n", 2)[-1].split("differ:")[-1]


def test_a_charge_runway_refunded_in_part_is_a_negative_difference(generated, root, runway, mailoutbox):
    runway.adjust_usage(today(), "gen4_turbo", -CLIP)

    rows = reconcile.reconcile_usage(days=1)

    assert [(r.model, r.difference, r.state) for r in rows] == [("gen4_turbo", -CLIP, reconcile.DIFFERS)]
    assert len(mailoutbox) == 1


def test_running_it_twice_stores_the_same_rows(generated, runway):
    runway.adjust_usage(today(), "gen4.5", 24)

    reconcile.reconcile_usage(days=7)
    first = stored()
    reconcile.reconcile_usage(days=7)

    assert stored() == first
    assert UsageReconciliation.objects.count() == 2


def test_a_settled_take_counts_on_the_day_runway_created_it(generated, runway):
    yesterday = today() - dt.timedelta(days=1)
    take = Take.objects.filter(status=Take.Status.SUCCEEDED).first()
    Take.objects.filter(pk=take.pk).update(
        submitted_at=dt.datetime.combine(yesterday, dt.time(23, 59), dt.UTC)
    )
    runway.adjust_usage(today(), "gen4_turbo", -CLIP)
    runway.adjust_usage(yesterday, "gen4_turbo", CLIP)

    rows = reconcile.reconcile_usage(days=2)

    assert [(r.day, r.ledger_credits, r.runway_credits) for r in rows] == [
        (yesterday, CLIP, CLIP),
        (today(), CLIP, CLIP),
    ]


def test_a_refunded_failure_agrees(project, alice, references, runway, root, mailoutbox):
    # Runway refunds a refusal of its output (it keeps the charge of a refused input).
    runway.fail_next("moderation", code="SAFETY.OUTPUT.THIRD_PARTY")
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)
    assert Take.objects.get().status == Take.Status.FAILED

    rows = reconcile.reconcile_usage(days=7)

    assert [(r.ledger_credits, r.runway_credits, r.state) for r in rows] == [(0, 0, reconcile.AGREES)]
    assert mailoutbox == []


def test_work_in_flight_is_open_not_a_difference(project, alice, references, runway, root, mailoutbox):
    runway.configure(pending_seconds=60)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)
    assert Take.objects.filter(status=Take.Status.PENDING).count() == 2

    rows = reconcile.reconcile_usage(days=7)

    assert [(r.ledger_credits, r.runway_credits, r.held, r.state) for r in rows] == [
        (0, 2 * CLIP, 2 * CLIP, reconcile.OPEN)
    ]
    report = reconcile.format_report(rows, days=7)
    assert "The ledger and Runway agree for the last 7 days." in report
    assert f"Still open, not counted as differences: {today()} gen4_turbo (+20)" in report
    assert mailoutbox == []
    pipeline.cancel_sequence(sequence)


def test_unconfirmed_takes_are_listed_apart(generated, alice, runway, root, mailoutbox):
    shot = generated.shots.first()
    take = Take.objects.create(
        shot=shot,
        user=alice,
        status=Take.Status.UNCONFIRMED,
        request={"model": "gen4_turbo", "ratio": "1280:720", "duration": 2},
        estimated_credits=CLIP,
        create_sent_at=dt.datetime.now(dt.UTC),
    )
    credits.reserve(alice, credits=CLIP, reason="test hold", project=generated.project, take=take)

    rows = reconcile.reconcile_usage(days=7)

    (row,) = rows
    assert (row.ledger_credits, row.runway_credits, row.state) == (2 * CLIP, 2 * CLIP, reconcile.AGREES)
    assert (row.unconfirmed_takes, row.unconfirmed) == (1, CLIP)
    report = reconcile.format_report(rows, days=7)
    assert f"1 unconfirmed takes hold {CLIP} credits ({today()} gen4_turbo: 1)" in report
    assert mailoutbox == []

    # Had Runway made it after all, its charge is explained by the open hold, not a mismatch.
    runway.adjust_usage(today(), "gen4_turbo", CLIP)
    (row,) = reconcile.reconcile_usage(days=7)
    assert (row.difference, row.state) == (CLIP, reconcile.OPEN)
    assert mailoutbox == []


def test_differences_within_the_alert_threshold_are_reported_but_not_mailed(
    generated, runway, root, settings, mailoutbox
):
    settings.RECONCILE_ALERT_CREDITS = 5
    runway.adjust_usage(today(), "gen4_turbo", 5)

    rows = reconcile.reconcile_usage(days=7)

    assert reconcile.summary(rows, days=7) == f"1 day/model pairs differ: {today()} gen4_turbo (+5)."
    assert mailoutbox == []


def test_a_stored_row_nobody_mentions_any_more_is_zeroed(runway):
    UsageReconciliation.objects.create(day=today(), model="gen4.5", ledger_credits=3, runway_credits=9)
    old = UsageReconciliation.objects.create(
        day=today() - dt.timedelta(days=30), model="gen4.5", ledger_credits=3, runway_credits=9
    )

    assert reconcile.reconcile_usage(days=7) == []

    assert stored() == {(today(), "gen4.5"): (0, 0), (old.day, "gen4.5"): (3, 9)}


def test_no_mail_goes_out_without_an_admin_address(generated, runway, mailoutbox, caplog):
    runway.adjust_usage(today(), "gen4_turbo", 1)

    reconcile.reconcile_usage(days=7)

    assert mailoutbox == []
    assert "no admin has an email address" in caplog.text


@pytest.mark.parametrize("days", [0, 91])
def test_it_refuses_a_window_runway_cannot_report(runway, days):
    with pytest.raises(ValueError, match="1 to 90 days"):
        reconcile.reconcile_usage(days=days)
