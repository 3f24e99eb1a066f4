"""What the studio says about a run matches what runs and what the ledger holds."""

import pytest
from django.utils import timezone

from generation import credits, pipeline
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(project, alice):
    """A finished one-shot sequence whose first Generate made and paid for eight takes (8 x 40)."""
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="running"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    Sequence.objects.filter(pk=sequence.pk).update(started_at=timezone.now())
    for _ in range(8):
        take = Take.objects.create(shot=shot, user=alice, status="succeeded", estimated_credits=40)
        hold = credits.reserve(alice, credits=40, reason="Generate", project=project, take=take)
        credits.settle(hold, credits=40)
        Take.objects.filter(pk=take.pk).update(cost_credits=40)
    Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
    Sequence.objects.filter(pk=sequence.pk).update(status="done")
    sequence.refresh_from_db()
    return sequence


def test_a_cancel_after_a_retake_counts_only_the_retake(finished, alice):
    shot = finished.shots.get()
    retake = pipeline.retake_shot(shot, user=alice)
    # Runway started the retake and kept its charge; nothing else happened in this run.
    Take.objects.filter(pk=retake.pk).update(status="cancelled", cost_credits=retake.estimated_credits)
    credits.settle(credits.hold_for_take(retake), credits=retake.estimated_credits, reason="Cancelled")

    result = pipeline.cancel_sequence(Sequence.objects.get(pk=finished.pk))

    assert LedgerEntry.objects.filter(take=retake, kind="settle").get().credits == retake.estimated_credits
    assert result.charged == retake.estimated_credits
    assert f"Runway charged {retake.estimated_credits} credits" in str(result)
    assert "320" not in str(result)


def test_a_cancel_after_a_queued_retake_returns_only_its_hold(finished, alice):
    retake = pipeline.retake_shot(finished.shots.get(), user=alice)

    result = pipeline.cancel_sequence(Sequence.objects.get(pk=finished.pk))

    assert (result.charged, result.released) == (0, retake.estimated_credits)
    assert str(result) == f"Generation cancelled. Nothing charged; {retake.estimated_credits} returned."


def test_choosing_a_take_assembles_and_says_so(finished, alice):
    shot = finished.shots.get()
    other = Take.objects.filter(shot=shot).exclude(pk=shot.chosen_take_id).first()

    pipeline.choose_take(other)

    finished.refresh_from_db()
    assert finished.get_status_display() == "Assembling"
    result = pipeline.cancel_sequence(finished)
    assert str(result) == "Assembly cancelled. Nothing charged."


def test_an_assembly_is_offered_and_confirmed_as_one(client, finished, alice):
    from django.urls import reverse

    shot = finished.shots.get()
    pipeline.choose_take(Take.objects.filter(shot=shot).exclude(pk=shot.chosen_take_id).first())
    client.force_login(alice)

    page = client.get(reverse("sequence_detail", args=[finished.pk])).text
    assert "Cancel assembly…" in page
    assert "Cancel generation…" not in page
    confirmation = client.post(reverse("cancel_sequence", args=[finished.pk])).text
    assert "Stop assembling the film of" in confirmation
    assert "Runway keeps their charge" not in confirmation
