"""A failed shot stops its sequence cleanly and asks for attention; generating again pays only for
what is missing. Runway is the simulator over real HTTP; tasks run inline and the test sweeps."""

import time

import pytest
from PIL import Image

from generation import credits, estimates, media, pipeline
from generation.credits import InsufficientCredits
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot
from tests.helpers import (
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    drive,
    make_sequence,
    mean_difference,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]

REJECTED = "A forbidden hallway [sim:fail=SAFETY.INPUT.TEXT]"


def _ledger(user) -> list[tuple[str, int, int | None]]:
    return list(
        LedgerEntry.objects.filter(user=user).order_by("pk").values_list("kind", "credits", "take_id")
    )


def _stopped_at_shot_2(project, alice, references) -> Sequence:
    """A stitched gen4_turbo sequence of three 2-second shots (10 credits each) whose second shot's
    prompt is rejected by moderation (Runway keeps the charge of a refused input), driven until it
    stops."""
    sequence = make_sequence(
        project,
        alice,
        references,
        model="gen4_turbo",
        stitched=True,
        duration=2,
        prompts=["The front door", REJECTED, "The garden"],
    )
    pipeline.start_sequence(sequence, user=alice)
    return drive(sequence)


def test_a_failed_stitched_shot_stops_the_later_shots_and_releases_their_holds_at_once(
    project, alice, references, runway_simulator
):
    sequence = _stopped_at_shot_2(project, alice, references)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    assert sequence.status_message == (
        "Shot 2 failed: Runway's moderation rejected the prompt. Reword it and retake the shot."
    )
    one, two, three = (Take.objects.get(shot__sequence=sequence, shot__position=i) for i in range(3))
    assert (one.status, two.status, three.status) == ("succeeded", "failed", "cancelled")
    assert three.runway_task_id is None
    assert three.failure_message == (
        "Not generated: shot 2 before it has no finished take. Retaking shot 2 generates this shot again."
    )
    assert [task["cost"] for task in runway_simulator.tasks()] == [10, 10]
    assert _ledger(alice) == [
        ("hold", 10, one.pk),
        ("hold", 10, two.pk),
        ("hold", 10, three.pk),
        ("settle", 10, one.pk),
        ("settle", 10, two.pk),  # Runway keeps the charge of a prompt its moderation refused
        ("release", 10, three.pk),
    ]
    assert not credits.open_holds().exists()
    assert credits.month_summary(alice).available == 980


def test_advancing_a_sequence_that_needs_attention_twice_changes_nothing(
    project, alice, references, runway_simulator
):
    sequence = _stopped_at_shot_2(project, alice, references)
    before = _ledger(alice)

    pipeline.advance_sequence(sequence.pk)
    pipeline.advance_sequence(sequence.pk)
    pipeline.recover()

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    assert _ledger(alice) == before
    assert Take.objects.count() == 3


def test_after_editing_the_failed_shot_a_retake_finishes_the_film_from_its_new_last_frame(
    project, alice, references, runway_simulator, tmp_path
):
    sequence = _stopped_at_shot_2(project, alice, references)
    second = sequence.shots.get(position=1)
    Shot.objects.filter(pk=second.pk).update(prompt="A bright hallway")
    second.refresh_from_db()
    assert estimates.estimate_retake(second).total_credits == 20

    pipeline.retake_shot(second, user=alice, expected_credits=20)

    # Both shots are held at once, before anything is sent.
    new_holds = LedgerEntry.objects.filter(kind="hold", reason="Retake shot 2 and the shots after it")
    assert sorted(new_holds.values_list("credits", "take__shot__position")) == [(10, 1), (10, 2)]
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    shots = list(sequence.shots.order_by("position").select_related("chosen_take"))
    new_second, third = shots[1].chosen_take, shots[2].chosen_take
    assert new_second.request["promptText"] == "A bright hallway"
    assert third.first_frame_from == "previous"
    assert third.input_first_frame.read() == new_second.last_frame.read()
    clip = tmp_path / "third.mp4"
    clip.write_bytes(third.output.read())
    first = media.extract_first_frame(clip, tmp_path / "third-first.png")
    with new_second.last_frame.open("rb") as fh:
        assert mean_difference(Image.open(first), Image.open(fh).copy()) < 8
    assert_ledger_exact(alice, runway_simulator)
    assert_no_duplicate_submissions(runway_simulator)
    assert credits.month_summary(alice).used == 10 + 10 + 20  # shot 1, the refused shot 2, the retake


def test_a_retake_that_cannot_hold_every_later_shot_holds_nothing(
    project, alice, references, runway_simulator
):
    sequence = _stopped_at_shot_2(project, alice, references)
    credits.set_monthly_limit(alice, credits=35)  # 20 used: 15 left, and shots 2 and 3 need 20
    second = sequence.shots.get(position=1)
    before = _ledger(alice)

    with pytest.raises(InsufficientCredits, match="needs 20 credits but only 15"):
        pipeline.retake_shot(second, user=alice)

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    assert _ledger(alice) == before
    assert Take.objects.count() == 3


def test_a_retake_with_a_changed_estimate_is_refused(project, alice, references, runway_simulator):
    sequence = _stopped_at_shot_2(project, alice, references)
    second = sequence.shots.get(position=1)

    with pytest.raises(pipeline.PipelineError, match="estimate is now 20 credits"):
        pipeline.retake_shot(second, user=alice, expected_credits=10)

    assert Take.objects.count() == 3


def test_generate_again_after_a_failure_makes_only_the_unfinished_shots(
    project, alice, references, runway_simulator
):
    sequence = _stopped_at_shot_2(project, alice, references)
    Shot.objects.filter(sequence=sequence, position=1).update(prompt="A bright hallway")
    estimate = estimates.estimate_generation(sequence)
    assert [e.shot.position for e in estimate.shots] == [1, 2]
    assert estimate.total_credits == 20
    first_take = sequence.shots.get(position=0).chosen_take_id
    last_entry = LedgerEntry.objects.order_by("pk").last().pk

    pipeline.start_sequence(sequence, user=alice, expected_credits=20)

    holds = LedgerEntry.objects.filter(kind="hold", pk__gt=last_entry)
    assert sorted(holds.values_list("credits", "take__shot__position")) == [(10, 1), (10, 2)]
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert sequence.shots.get(position=0).chosen_take_id == first_take
    assert Take.objects.filter(shot__position=0).count() == 1
    assert len(runway_simulator.tasks()) == 4  # 2 in the first run, 2 now
    assert_ledger_exact(alice, runway_simulator)
    assert credits.month_summary(alice).used == 10 + 10 + 20  # shot 1, the refused shot 2, shots 2-3


def test_generate_again_after_a_cancel_charges_only_the_unfinished_shots(
    project, alice, references, runway_simulator
):
    sequence = make_sequence(
        project,
        alice,
        references,
        model="gen4_turbo",
        stitched=False,
        duration=2,
        prompts=["The front door", "The hall", "The garden [sim:slow=30]"],
    )
    pipeline.start_sequence(sequence, user=alice)
    deadline = time.monotonic() + 60
    while Take.objects.filter(status=Take.Status.SUCCEEDED).count() < 2:
        assert time.monotonic() < deadline, "the two quick shots did not finish"
        pipeline.poll_once()
        time.sleep(0.1)
    pipeline.cancel_sequence(sequence)
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.CANCELLED
    Shot.objects.filter(sequence=sequence, position=2).update(prompt="The garden")
    used = credits.month_summary(alice).used
    last_entry = LedgerEntry.objects.order_by("pk").last().pk

    assert estimates.estimate_generation(sequence).total_credits == 10
    pipeline.start_sequence(sequence, user=alice, expected_credits=10)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    new = list(
        LedgerEntry.objects.filter(pk__gt=last_entry)
        .order_by("pk")
        .values_list("kind", "credits", "take__shot__position")
    )
    assert new == [("hold", 10, 2), ("settle", 10, 2)]
    assert credits.month_summary(alice).used == used + 10
    assert not credits.open_holds().exists()


def test_generate_again_when_every_shot_is_finished_only_assembles(
    project, alice, references, runway_simulator
):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE
    # As if it had been cancelled while assembling.
    Sequence.objects.filter(pk=sequence.pk).update(status=Sequence.Status.CANCELLED, film="", poster="")
    entries = LedgerEntry.objects.count()

    assert estimates.estimate_generation(sequence).shots == []
    assert pipeline.start_sequence(sequence, user=alice, expected_credits=0) == []
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    assert sequence.film
    assert LedgerEntry.objects.count() == entries
    assert len(runway_simulator.tasks()) == 2


def test_an_unstitched_sequence_with_a_failed_shot_needs_attention(
    project, alice, references, runway_simulator
):
    sequence = make_sequence(
        project,
        alice,
        references,
        model="gen4_turbo",
        stitched=False,
        duration=2,
        prompts=["The front door", REJECTED, "The garden"],
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    assert sequence.status_message.startswith("Shot 2 failed: Runway's moderation rejected the prompt.")
    # Independent shots are not stopped by another's failure.
    assert list(Take.objects.order_by("shot__position").values_list("status", flat=True)) == [
        "succeeded",
        "failed",
        "succeeded",
    ]
    assert_ledger_exact(alice, runway_simulator)


def test_a_sequence_that_needs_attention_can_be_cancelled(project, alice, references, runway_simulator):
    sequence = _stopped_at_shot_2(project, alice, references)
    before = _ledger(alice)

    pipeline.cancel_sequence(sequence)
    pipeline.cancel_sequence(sequence)

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.CANCELLED
    assert _ledger(alice) == before
