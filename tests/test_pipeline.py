"""The pipeline end to end against the simulator over real HTTP, with real ffmpeg, run in-process.

Tasks run inline (PIPELINE_INLINE) and the test drives the poller's sweep itself; the same code
runs under a real qcluster in test_pipeline_cluster.py.
"""

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from PIL import Image, ImageChops, ImageStat

from generation import credits, media, pipeline
from generation.credits import InsufficientCredits
from generation.models import LedgerEntry, Take
from projects.images import add_reference_images
from projects.models import ReferenceSet, Sequence, Shot

pytestmark = pytest.mark.django_db(transaction=True)
COLOURS = [(200, 60, 40), (40, 160, 90), (50, 80, 200)]


@pytest.fixture(autouse=True)
def _inline(settings, runway):
    settings.PIPELINE_INLINE = True
    settings.RUNWAY_POLL_INTERVAL = 0.2
    settings.PIPELINE_LEASE_SECONDS = 2
    settings.RUNWAY_MAX_RETRIES = 3


def _photo(colour: tuple[int, int, int], index: int) -> bytes:
    image = Image.new("RGB", (640, 360), colour)
    for x in range(0, 640, 80):
        image.paste(
            (255 - colour[0], 255 - colour[1], 255 - colour[2]), (x + index * 10, 0, x + index * 10 + 20, 360)
        )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture
def references(project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    files = [SimpleUploadedFile(f"room{i}.jpg", _photo(c, i)) for i, c in enumerate(COLOURS)]
    result = add_reference_images(reference_set, files=files)
    assert not result.rejected
    return reference_set


def make_sequence(project, alice, references, *, model, stitched, duration, shots=3, **extra) -> Sequence:
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model=model,
        ratio="1280:720",
        is_stitched=stitched,
        has_audio=extra.pop("has_audio", True),
        reference_set=references,
        created_by=alice,
    )
    images = list(references.images.all())
    prompts = extra.pop("prompts", None) or [f"Shot number {i + 1}" for i in range(shots)]
    for i, prompt in enumerate(prompts):
        Shot.objects.create(
            sequence=sequence,
            position=i,
            prompt=prompt,
            duration=duration,
            first_frame=Shot.FirstFrame.PREVIOUS if stitched else Shot.FirstFrame.REFERENCE,
            first_frame_image=None if stitched else images[i % len(images)],
            last_frame_image=images[i + 1]
            if stitched and model.startswith("veo") and i + 1 < len(images)
            else None,
        )
    return sequence


def drive(sequence: Sequence, *, timeout: float = 90) -> Sequence:
    """Do what the poller does until the sequence is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        sequence.refresh_from_db()
        if sequence.status in (Sequence.Status.DONE, Sequence.Status.FAILED, Sequence.Status.CANCELLED):
            return sequence
        time.sleep(0.1)
    raise AssertionError(f"sequence still {sequence.status} after {timeout} s")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    a, b = a.convert("RGB"), b.convert("RGB").resize(a.size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def assert_ledger_exact(user, simulator) -> None:
    """Settled = the sum of Runway's task costs; no hold is left open."""
    runway_costs = {t["id"]: t.get("cost") for t in simulator.tasks()}
    takes = Take.objects.filter(user=user, status=Take.Status.SUCCEEDED)
    assert sorted(t.cost_credits for t in takes) == sorted(runway_costs[t.runway_task_id] for t in takes)
    settled = LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
    assert settled == sum(t.cost_credits for t in takes)
    assert not credits.open_holds().filter(user=user).exists()


def assert_no_duplicate_submissions(simulator) -> None:
    ids = list(Take.objects.exclude(runway_task_id=None).values_list("runway_task_id", flat=True))
    assert len(simulator.tasks()) == len(ids) == len(set(ids))


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
    settings_estimate = pipeline.estimate_sequence(sequence).total_credits

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


def test_moderation_failure_fails_the_take_in_plain_words_and_releases_its_hold(
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

    assert sequence.status == Sequence.Status.FAILED
    failed = Take.objects.get(status=Take.Status.FAILED)
    assert failed.failure_code == "SAFETY.INPUT.TEXT"
    assert "Reword" in failed.failure_message
    assert Take.objects.filter(shot=failed.shot).count() == 1  # no automatic retry
    assert "Shot 2" in sequence.status_message
    assert_ledger_exact(alice, runway_simulator)
    assert credits.month_summary(alice).used == 10


def test_an_internal_failure_gets_a_new_take_automatically(project, alice, references, runway_simulator):
    runway_simulator.fail_next("bad_output")
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    first, second = Take.objects.order_by("pk")
    assert (first.status, first.failure_code) == (Take.Status.FAILED, "INTERNAL.BAD_OUTPUT.CODE01")
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


def test_cancel_stops_runway_tasks_and_releases_every_hold(project, alice, references, runway_simulator):
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
    assert set(Take.objects.values_list("status", flat=True)) == {Take.Status.CANCELLED}
    assert not credits.open_holds().exists()
    assert credits.month_summary(alice).available == 1000
    submitted = [t for t in runway_simulator.tasks()]
    assert submitted
    assert all(t["status"] in ("CANCELLED", "DELETED") or t.get("deleted") for t in submitted)


def test_retake_then_choose_marks_later_stitched_shots_stale(project, alice, references, runway_simulator):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    first_shot = sequence.shots.get(position=0)
    original = first_shot.chosen_take

    pipeline.retake_shot(first_shot, user=alice)
    sequence = drive(sequence)

    first_shot.refresh_from_db()
    assert first_shot.chosen_take != original
    assert list(sequence.shots.order_by("position").values_list("is_stale", flat=True)) == [False, True, True]

    pipeline.regenerate_stale_shots(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE
    assert not sequence.shots.filter(is_stale=True).exists()
    assert Take.objects.filter(status=Take.Status.SUCCEEDED).count() == 6

    pipeline.choose_take(original, user=alice)
    assert list(sequence.shots.order_by("position").values_list("is_stale", flat=True)) == [False, True, True]
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
