"""Price drift caught at submit, against the simulator over real HTTP: when Runway's estimatedCost
is above the hold, the task is deleted before it runs, nothing is charged, the admins are mailed
once per model, and a price corrected in the admin's price table fixes the next estimate."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from generation import credits, estimates, pipeline
from generation.models import LedgerEntry, ModelPrice, PriceDrift, Take
from projects.models import Sequence
from tests.helpers import assert_ledger_exact, drive, make_sequence

pytestmark = pytest.mark.django_db(transaction=True)

Status = Take.Status


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "root-password")


def test_a_price_raised_at_runway_stops_the_take_before_it_runs_and_alerts_once(
    project, alice, references, runway, inline_pipeline, admin_user, mailoutbox
):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    runway.set_price("gen4_turbo", credits_per_second=8)  # the catalog says 5
    # Runway shows a task it deleted as CANCELLED with its cost, which says what it kept.
    runway.fail_next("readable_after_delete", 2)
    # The tasks stay PENDING until they are deleted, however slowly the machine answers: a task that
    # started first would be the (separately tested) race of a delete against Runway starting it.
    fast_pending = runway.config()["pending_seconds"]
    runway.configure(pending_seconds=60)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    runway.configure(pending_seconds=fast_pending)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    takes = list(Take.objects.filter(shot__sequence=sequence))
    assert len(takes) == 2
    for take in takes:
        assert take.status == Status.CANCELLED
        assert take.runway_estimated_credits == 16
        assert take.estimated_credits == 10
        assert (
            "Runway now asks up to 16 credits for this clip; our price table says 10" in take.failure_message
        )
        assert not take.was_running
    assert {t["status"] for t in runway.tasks()} == {"CANCELLED"}
    assert all(t["cost"] == 0 for t in runway.tasks())
    settled = LedgerEntry.objects.filter(user=alice, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
    assert settled == 0
    assert not credits.open_holds().filter(user=alice).exists()
    # The run's finish mail to alice is not what this test counts: the admins' price-drift mails are.
    drift_mails = [
        m for m in mailoutbox if m.subject == "Runway's price for gen4_turbo is above the price table"
    ]
    assert len(drift_mails) == 1, [(m.subject, m.to) for m in mailoutbox]  # once per model, not once per take
    assert drift_mails[0].to == ["root@example.com"]
    assert (
        "Runway now asks up to 16 credits for this clip (gen4_turbo); our table says 10"
        in drift_mails[0].body
    )
    assert PriceDrift.objects.get(model="gen4_turbo").asked_credits == 16

    # The admin corrects the price in the table: the next estimate uses it and the retake runs.
    ModelPrice.objects.create(model="gen4_turbo", field="credits_per_second", credits=8)
    assert estimates.estimate_generation(sequence).total_credits == 32
    shot = sequence.shots.order_by("position").first()
    retake = pipeline.retake_shot(shot, user=alice, expected_credits=16)
    sequence = drive(sequence)
    retake.refresh_from_db()
    assert retake.status == Status.SUCCEEDED
    assert retake.cost_credits == 16
    assert_ledger_exact(alice, runway)


def test_a_drift_delete_runway_does_not_confirm_keeps_the_hold_for_an_admin(
    project, alice, references, runway, inline_pipeline, admin_user
):
    # Without a readable cancelled task Runway may have started it just as it was deleted: the
    # ledger keeps the hold rather than show less than Runway could have charged.
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    runway.set_price("gen4_turbo", credits_per_second=8)

    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)

    take = Take.objects.get(shot__sequence=sequence)
    assert take.status == Status.UNCONFIRMED
    assert "Runway now asks up to 16 credits" in take.failure_message
    assert credits.open_holds().filter(user=alice).aggregate(s=Sum("credits"))["s"] == 10
    # Confirmed as charged, it settles at the most Runway could have charged.
    pipeline.resolve_unconfirmed(take, charged=True, reason="usage report shows it")
    assert LedgerEntry.objects.get(user=alice, kind="settle").credits == 16
