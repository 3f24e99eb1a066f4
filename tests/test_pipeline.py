"""The pipeline end to end against the simulator over real HTTP, with real ffmpeg, run in-process.

Tasks run inline (PIPELINE_INLINE) and the test drives the poller's sweep itself; the same code
runs under a real qcluster and poller, killed at the worst moments, in test_pipeline_cluster.py.
"""

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from PIL import Image, ImageStat

from generation import credits, estimates, media, pipeline, tiers
from generation.credits import InsufficientCredits
from generation.models import LedgerEntry, Take
from projects.images import add_reference_images
from projects.models import ReferenceSet, Sequence, Shot
from tests.helpers import (
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    drive,
    make_sequence,
    mean_difference,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]


def test_a_stitched_veo_sequence_makes_one_continuous_film(
    project, alice, references, runway_simulator, tmp_path
):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    shots = list(sequence.shots.order_by("position").select_related("chosen_take"))
    takes = [s.chosen_take for s in shots]
    film = tmp_path / "film.mp4"
    film.write_bytes(sequence.film.read())
    info = media.probe(film)
    assert abs(info.duration - sum(t.duration for t in takes)) <= 0.1 * len(takes)
    assert info.has_audio
    for before, after in zip(takes, takes[1:], strict=False):
        clip = tmp_path / f"{after.pk}.mp4"
        clip.write_bytes(after.output.read())
        first = media.extract_first_frame(clip, tmp_path / f"{after.pk}-first.png")
        with before.last_frame.open("rb") as fh:
            last = Image.open(fh).copy()
        assert mean_difference(Image.open(first), last) < 8
    # Veo shots end on the next reference image.
    images = list(references.images.all())
    with takes[0].last_frame.open("rb") as fh, images[1].image.open("rb") as ref:
        assert mean_difference(Image.open(fh).copy(), Image.open(ref).copy()) < 12
    assert_ledger_exact(alice, runway_simulator)
    assert_no_duplicate_submissions(runway_simulator)


def test_an_unstitched_gen4_turbo_sequence_assembles_its_clips(
    project, alice, references, runway_simulator, tmp_path
):
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=3)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    film = tmp_path / "film.mp4"
    film.write_bytes(sequence.film.read())
    assert abs(media.probe(film).duration - 9) <= 0.3
    assert sequence.poster
    assert_ledger_exact(alice, runway_simulator)
    assert credits.month_summary(alice).used == 3 * 3 * 5


def test_it_refuses_to_start_when_the_budget_is_short_and_sends_nothing(
    project, alice, references, runway_simulator
):
    credits.set_monthly_limit(alice, credits=100)
    sequence = make_sequence(project, alice, references, model="veo3.1", stitched=True, duration=8)

    with pytest.raises(InsufficientCredits, match="needs 960 credits but only 100"):
        pipeline.start_sequence(sequence, user=alice)

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT
    assert not Take.objects.exists()
    assert not LedgerEntry.objects.exists()
    assert runway_simulator.tasks() == []


def test_the_whole_estimate_is_held_before_the_first_runway_call(
    project, alice, references, runway_simulator
):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)
    settings_estimate = estimates.estimate_sequence(sequence).total_credits

    pipeline.start_sequence(sequence, user=alice)

    holds = LedgerEntry.objects.filter(user=alice, kind="hold")
    assert holds.count() == 3
    assert holds.aggregate(s=Sum("credits"))["s"] == settings_estimate == 3 * 4 * 15
    pipeline.cancel_sequence(sequence)


def test_starting_twice_is_refused(project, alice, references, runway_simulator):
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2)
    pipeline.start_sequence(sequence, user=alice)

    with pytest.raises(pipeline.PipelineError):
        pipeline.start_sequence(sequence, user=alice)

    assert Take.objects.count() == 3
    pipeline.cancel_sequence(sequence)


def test_an_unsupported_shot_is_refused_with_its_number(project, alice, references, runway_simulator):
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2)
    Shot.objects.filter(sequence=sequence, position=1).update(first_frame=Shot.FirstFrame.NONE)

    with pytest.raises(pipeline.PipelineError, match="Shot 2: .*first-frame image"):
        pipeline.start_sequence(sequence, user=alice)
    assert not LedgerEntry.objects.exists()


def test_moderation_failure_fails_the_take_in_plain_words_and_settles_at_runways_charge(
    project, alice, references, runway_simulator
):
    sequence = make_sequence(
        project,
        alice,
        references,
        model="gen4_turbo",
        stitched=False,
        duration=2,
        prompts=["A calm harbour", "A forbidden thing [sim:fail=SAFETY.INPUT.TEXT]"],
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    failed = Take.objects.get(status=Take.Status.FAILED)
    assert failed.failure_code == "SAFETY.INPUT.TEXT"
    assert "Reword" in failed.failure_message
    assert Take.objects.filter(shot=failed.shot).count() == 1  # no automatic retry
    assert "Shot 2" in sequence.status_message
    assert_ledger_exact(alice, runway_simulator)
    # Runway does not refund SAFETY.INPUT.*: the refusal costs what the clip would have.
    assert failed.cost_credits == 10
    assert credits.month_summary(alice).used == 20


def test_an_internal_failure_gets_a_new_take_automatically(project, alice, references, runway_simulator):
    runway_simulator.fail_next("fail", code="INTERNAL")
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    first, second = Take.objects.order_by("pk")
    assert (first.status, first.failure_code) == (Take.Status.FAILED, "INTERNAL")
    assert (second.status, second.attempt) == (Take.Status.SUCCEEDED, 1)
    assert_ledger_exact(alice, runway_simulator)
    assert credits.month_summary(alice).used == 10


@pytest.mark.parametrize(
    ("kind", "count", "params"),
    [
        ("http_error", 2, {"status": 503}),
        ("rate_limit", 1, {}),
        ("expired_urls", 1, {}),
        ("truncate_download", 1, {}),
    ],
)
def test_transient_faults_are_survived(project, alice, references, runway_simulator, kind, count, params):
    runway_simulator.fail_next(kind, count, **params)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert Take.objects.filter(status=Take.Status.SUCCEEDED).count() == 2
    assert_ledger_exact(alice, runway_simulator)
    assert_no_duplicate_submissions(runway_simulator)


def test_cancel_stops_runway_tasks_and_charges_only_what_runway_keeps(
    project, alice, references, runway_simulator
):
    runway_simulator.fail_next("slow", 3, seconds=30)
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=False, duration=2)
    pipeline.start_sequence(sequence, user=alice)
    deadline = time.monotonic() + 20
    while not Take.objects.filter(status__in=Take.IN_FLIGHT).exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    pipeline.cancel_sequence(sequence)
    pipeline.cancel_sequence(sequence)  # twice changes nothing

    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.CANCELLED
    # A take stopped before Runway started it stays held as unconfirmed (tests/test_cancel_race.py).
    assert set(Take.objects.values_list("status", flat=True)) <= {
        Take.Status.CANCELLED,
        Take.Status.UNCONFIRMED,
    }
    assert not credits.open_holds().exclude(take__status=Take.Status.UNCONFIRMED).exists()
    submitted = [t for t in runway_simulator.tasks()]
    assert submitted
    assert all(t["status"] in ("CANCELLED", "DELETED") or t.get("deleted") for t in submitted)
    # Runway keeps the charge of a task it had started RUNNING, and so does the ledger; one that
    # started between our GET and the DELETE is covered by its unconfirmed hold.
    charged = sum(t["cost"] or 0 for t in submitted)
    summary = credits.month_summary(alice)
    held = sum(
        Take.objects.filter(status=Take.Status.UNCONFIRMED).values_list("estimated_credits", flat=True)
    )
    assert summary.used <= charged <= summary.used + held
    assert summary.held == held
    assert summary.available == 1000 - summary.used - held


def test_retake_then_choose_marks_later_stitched_shots_stale(project, alice, references, runway_simulator):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    first_shot = sequence.shots.get(position=0)
    original = first_shot.chosen_take

    # A retake of shot 1 makes the shots that start on its last frame again, in the same run: the
    # film is never assembled with them stale.
    pipeline.retake_shot(first_shot, user=alice)
    sequence = drive(sequence)

    first_shot.refresh_from_db()
    assert first_shot.chosen_take != original
    assert not sequence.shots.filter(is_stale=True).exists()
    assert Take.objects.filter(status=Take.Status.SUCCEEDED).count() == 6
    assert sequence.versions.count() == 2

    # Choosing the old take leaves 2 and 3 stale: no film is assembled until they are made again.
    pipeline.choose_take(original)
    sequence.refresh_from_db()
    assert list(sequence.shots.order_by("position").values_list("is_stale", flat=True)) == [False, True, True]
    assert sequence.status == Sequence.Status.DONE
    assert sequence.versions.count() == 2

    pipeline.regenerate_stale_shots(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE
    assert not sequence.shots.filter(is_stale=True).exists()
    assert Take.objects.filter(status=Take.Status.SUCCEEDED).count() == 8
    assert sequence.versions.count() == 3
    assert_ledger_exact(alice, runway_simulator)


def test_every_task_running_twice_changes_nothing(project, alice, references, runway_simulator):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    pipeline.start_sequence(sequence, user=alice)
    take = Take.objects.get()
    pipeline.submit_take(take.pk)
    pipeline.advance_sequence(sequence.pk)
    sequence = drive(sequence)
    take.refresh_from_db()

    pipeline.finish_take(take.pk)
    pipeline.submit_take(take.pk)
    pipeline.assemble_sequence(sequence.pk)
    pipeline.advance_sequence(sequence.pk)

    assert len(runway_simulator.tasks()) == 1
    assert LedgerEntry.objects.filter(kind="settle").count() == 1
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DONE
    assert Path(sequence.film.path).exists()


def test_a_503_burst_on_submission_is_sent_again_later(project, alice, references, runway_simulator):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=2, shots=1
    )
    # The start and the sweep read Runway's organisation, kept briefly: read it now, so that the
    # burst meets the creates.
    assert tiers.organization() is not None
    runway_simulator.fail_next("http_error", 2, status=503)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert Take.objects.get().submit_attempts == 3
    assert len(runway_simulator.tasks()) == 1
    assert_ledger_exact(alice, runway_simulator)


def test_an_unconfirmed_submission_is_not_sent_twice(project, alice, references, runway_simulator):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=2, shots=1
    )
    runway_simulator.fail_next("lost_response", 1, status=504)

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    take = Take.objects.get()
    assert take.status == Take.Status.UNCONFIRMED
    assert "Retake" in take.failure_message
    assert len(runway_simulator.tasks()) == 1
    assert sequence.status == Sequence.Status.NEEDS_ATTENTION
    # Runway may have charged: the credits stay held, marked unconfirmed, until an admin resolves it.
    (hold,) = credits.open_holds()
    assert (hold.take, hold.credits) == (take, 10)
    assert credits.month_summary(alice).held == 10


@pytest.mark.parametrize(("fit", "bars"), [("pad", True), ("crop", False)])
def test_a_panorama_is_padded_or_cropped_as_the_sequence_says(
    project, alice, runway_simulator, tmp_path, fit, bars
):
    reference_set = ReferenceSet.objects.create(project=project, name="Panorama")
    buffer = io.BytesIO()
    Image.new("RGB", (1500, 500), (220, 40, 40)).save(buffer, "JPEG")
    add_reference_images(reference_set, files=[SimpleUploadedFile("pano.jpg", buffer.getvalue())])
    sequence = Sequence.objects.create(
        project=project,
        title="Wide",
        model="gen4_turbo",
        ratio="1280:720",
        is_stitched=False,
        reference_set=reference_set,
        image_fit=fit,
        created_by=alice,
    )
    Shot.objects.create(
        sequence=sequence,
        prompt="Pan",
        duration=2,
        first_frame=Shot.FirstFrame.REFERENCE,
        first_frame_image=reference_set.images.get(),
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(sequence.shots.get().chosen_take.output.read())
    first = Image.open(media.extract_first_frame(clip, tmp_path / "first.png")).convert("RGB")
    top = first.crop((0, 0, first.width, first.height // 20))
    red = ImageStat.Stat(top).mean[0]
    assert (red < 40) if bars else (red > 150)
