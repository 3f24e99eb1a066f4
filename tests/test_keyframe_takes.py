"""Keyframe images made from tagged reference images, against the simulator over real HTTP: made,
reviewed and chosen before any video is paid for, then used as the clips' first frames; failures,
cancels and dead workers cost what Runway charged and no more."""

import datetime as dt
import hashlib
import io
import time

import pytest
import requests
from django.db.models import Sum
from django.utils import timezone
from PIL import Image

from generation import credits, estimates, keyframes, pipeline
from generation.models import LedgerEntry, Take
from projects import services
from projects.models import Keyframe, Sequence, Shot
from tests.helpers import (
    DiesAfterSending,
    WorkerKilled,
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    drive,
    make_sequence,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("inline_pipeline")]

Status = Take.Status
CLIP = 10  # gen4_turbo, 2 s at 5 credits a second
IMAGE = 5  # gen4_image at 1280:720
TURBO_IMAGE = 2  # gen4_image_turbo


@pytest.fixture
def books(runway):
    """The ledger against the simulator's balance since the start of the test: settled credits are
    exactly what Runway charged, no hold is left open, and the running figures agree with the
    ledger (the recompute `check_ledger` uses)."""
    start = balance(runway)

    def check(user) -> int:
        charged = start - balance(runway)
        settled = LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
        assert settled == charged
        assert not credits.open_holds().filter(user=user).exists(), "a hold was left open"
        assert credits.recompute_figures() == []
        return charged

    return check


def balance(sim) -> int:
    response = requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10)
    return response.json()["creditBalance"]


def house_tour(project, alice, references) -> Sequence:
    """Three stitched shots; shot 1 starts on an image of @kitchen and @garden, shot 3 (a new
    room) on one of @hall; shot 2 goes on from shot 1's last frame."""
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=True, duration=2, has_audio=False
    )
    kitchen, garden, hall = references.images.order_by("position", "pk")
    first, _, third = sequence.shots.order_by("position")
    services.set_keyframe(
        first,
        slot="first",
        model="gen4_image",
        prompt="@kitchen with @garden through the window",
        references=[(kitchen, "kitchen"), (garden, "garden")],
    )
    services.set_keyframe(
        third, slot="first", model="gen4_image_turbo", prompt="@hall at dusk", references=[(hall, "hall")]
    )
    return sequence


def keyframe(sequence: Sequence, position: int, slot: str = "first") -> Keyframe:
    return Keyframe.objects.get(shot__sequence=sequence, shot__position=position, slot=slot)


def settle_takes(*takes: Take, timeout: float = 30) -> list[Take]:
    """Do what the poller does until the takes are final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        for take in takes:
            take.refresh_from_db()
        if all(t.is_final for t in takes):
            return list(takes)
        time.sleep(0.05)
    raise AssertionError(f"takes still {[t.status for t in takes]}")


def poll_until(take: Take, *statuses: str, timeout: float = 20) -> Take:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        take.refresh_from_db()
        if take.status in statuses:
            return take
        time.sleep(0.05)
    raise AssertionError(f"take still {take.status}")


def sent_image_digest(field_file, fit: str) -> str:
    """How the simulator's request log names the data URI of an image we send."""
    with field_file.open("rb") as fh:
        uri = keyframes.image_uri(keyframes.prepare_image(fh, fit=fit))
    return hashlib.sha256(uri.encode()).hexdigest()[:16]


def settled(take: Take) -> list[int]:
    return list(LedgerEntry.objects.filter(take=take, kind="settle").values_list("credits", flat=True))


# --- the whole way: make, review, choose, generate ----------------------------------------------


def test_a_house_tour_starts_shots_on_chosen_keyframes_and_settles_exactly(
    project, alice, references, runway, books
):
    sequence = house_tour(project, alice, references)
    estimate = estimates.estimate_keyframes(sequence)
    assert [k.credits for k in estimate.keyframes] == [IMAGE, TURBO_IMAGE]

    with pytest.raises(pipeline.PipelineError, match="Choose a keyframe image for shot 1 before generating"):
        pipeline.start_sequence(sequence, user=alice)

    first_images = pipeline.make_keyframes(sequence, user=alice, expected_credits=IMAGE + TURBO_IMAGE)
    settle_takes(*first_images)
    assert [t.status for t in first_images] == [Status.SUCCEEDED] * 2
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT  # images are not a run
    assert not Take.objects.filter(keyframe__isnull=True).exists()  # no video yet

    # Images that are made but not chosen are made again by "Make keyframes"; none on their way is.
    assert estimates.estimate_keyframes(sequence).total_credits == IMAGE + TURBO_IMAGE
    kitchen_keyframe = keyframe(sequence, 0)
    assert estimates.estimate_keyframe_retake(kitchen_keyframe).total_credits == IMAGE
    second = pipeline.retake_keyframe(kitchen_keyframe, user=alice, expected_credits=IMAGE)
    settle_takes(second)
    assert second.status == Status.SUCCEEDED

    # Each image is a PNG composed from its references, with their tags, in order.
    for take in (*first_images, second):
        with take.output.open("rb") as fh:
            image = Image.open(io.BytesIO(fh.read()))
            assert (image.format, image.size) == ("PNG", (1280, 720))
    image_tasks = [t for t in runway.tasks() if t["model"].startswith("gen4_image")]
    assert [[r["tag"] for r in t["request"]["referenceImages"]] for t in image_tasks] == [
        ["kitchen", "garden"],
        ["hall"],
        ["kitchen", "garden"],
    ]

    # Nothing chosen yet on shot 1; choose the second image there and the only one on shot 3.
    with pytest.raises(pipeline.PipelineError, match="shot 1"):
        pipeline.start_sequence(sequence, user=alice)
    pipeline.choose_keyframe_take(second)
    with pytest.raises(pipeline.PipelineError, match="shot 3"):
        pipeline.start_sequence(sequence, user=alice)
    hall_image = first_images[1]
    pipeline.choose_keyframe_take(hall_image)
    with pytest.raises(pipeline.PipelineError, match="Every keyframe has a chosen image"):
        pipeline.make_keyframes(sequence, user=alice)
    with pytest.raises(pipeline.PipelineError):
        pipeline.choose_take(hall_image)  # an image is chosen as the keyframe's, not as the shot's take

    assert estimates.estimate_generation(sequence).total_credits == 3 * CLIP
    clips = pipeline.start_sequence(sequence, user=alice, expected_credits=3 * CLIP)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert sequence.film
    assert [c.first_frame_from for c in clips] == ["keyframe", "previous", "keyframe"]
    shots = list(sequence.shots.order_by("position").select_related("chosen_take"))
    assert all(s.chosen_take.keyframe_id is None for s in shots)
    # Shots 1 and 3 were sent the chosen keyframe images; shot 2 the last frame of shot 1.
    clip_tasks = {t["id"]: t for t in runway.tasks() if not t["model"].startswith("gen4_image")}
    sent = {s.position: clip_tasks[s.chosen_take.runway_task_id]["request"]["promptImage"] for s in shots}
    assert sent_image_digest(second.output, sequence.image_fit) in sent[0]
    assert sent_image_digest(hall_image.output, sequence.image_fit) in sent[2]
    assert sent_image_digest(shots[0].chosen_take.last_frame, sequence.image_fit) in sent[1]
    # Shot 3 starts on its own image, so it did not wait for shot 2 as a stitched shot does.
    order = [t["id"] for t in runway.tasks() if t["id"] in clip_tasks]
    assert [Take.objects.get(runway_task_id=i).shot.position for i in order] == [0, 2, 1]

    assert_ledger_exact(alice, runway)
    assert_no_duplicate_submissions(runway)
    assert books(alice) == 2 * IMAGE + TURBO_IMAGE + 3 * CLIP
    charges = pipeline.charges_of(sequence)
    assert (charges.charged, charges.held) == (2 * IMAGE + TURBO_IMAGE + 3 * CLIP, 0)


def test_choosing_another_image_makes_the_shot_made_from_the_old_one_stale(
    project, alice, references, runway, books
):
    sequence = house_tour(project, alice, references)
    images = settle_takes(*pipeline.make_keyframes(sequence, user=alice))
    for take in images:
        pipeline.choose_keyframe_take(take)
    pipeline.start_sequence(sequence, user=alice)
    drive(sequence)
    third = sequence.shots.get(position=2)
    assert not third.is_stale

    pipeline.choose_keyframe_take(images[1])  # already chosen: nothing changes
    third.refresh_from_db()
    assert not third.is_stale

    other = settle_takes(pipeline.retake_keyframe(keyframe(sequence, 2), user=alice))[0]
    pipeline.choose_keyframe_take(other)
    third.refresh_from_db()
    assert third.is_stale
    takes = pipeline.regenerate_stale_shots(sequence, user=alice)
    drive(sequence)
    third.refresh_from_db()
    assert (third.is_stale, third.chosen_take_id) == (False, takes[0].pk)
    assert books(alice) == IMAGE + 2 * TURBO_IMAGE + 4 * CLIP


def test_keyframes_from_several_shots_make_no_run_and_a_clip_is_not_counted_as_an_image(
    project, alice, references, runway
):
    sequence = house_tour(project, alice, references)
    settle_takes(*pipeline.make_keyframes(sequence, user=alice))
    rows = [(s, list(s.takes.filter(keyframe__isnull=True))) for s in sequence.shots.order_by("position")]
    # Images are not the shots' takes: every shot still needs its clip.
    assert [s.pk for s in pipeline.stuck_shots(sequence, rows)] == [rows[0][0].pk]
    assert all(estimates.needs_take(s) for s, _ in rows)


# --- failures, cancels, dead workers --------------------------------------------------------------


def test_a_keyframe_that_fails_moderation_is_charged_retaken_and_chosen(
    project, alice, references, runway, books
):
    sequence = house_tour(project, alice, references)
    runway.fail_next("moderation")
    failed, other = settle_takes(*pipeline.make_keyframes(sequence, user=alice))

    # Runway does not refund SAFETY.INPUT.*: the refusal is settled at what Runway charged.
    assert (failed.status, failed.failure_code, failed.cost_credits) == (
        Status.FAILED,
        "SAFETY.INPUT.TEXT",
        failed.estimated_credits,
    )
    assert settled(failed) == [failed.estimated_credits]
    assert failed.failure_message
    assert other.status == Status.SUCCEEDED
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DRAFT  # nothing needs attention: the user retakes the image
    assert Take.objects.filter(keyframe=failed.keyframe).count() == 1  # no automatic retake
    with pytest.raises(pipeline.PipelineError):
        pipeline.choose_keyframe_take(failed)

    retaken = settle_takes(pipeline.retake_keyframe(failed.keyframe, user=alice, expected_credits=IMAGE))[0]
    assert retaken.status == Status.SUCCEEDED
    pipeline.choose_keyframe_take(retaken)
    pipeline.choose_keyframe_take(other)

    pipeline.start_sequence(sequence, user=alice, expected_credits=3 * CLIP)
    assert drive(sequence).status == Sequence.Status.DONE
    assert books(alice) == IMAGE + TURBO_IMAGE + 3 * CLIP + failed.cost_credits


def test_an_internal_failure_of_a_keyframe_is_retaken_automatically(
    project, alice, references, runway, books, settings
):
    settings.RUNWAY_INTERNAL_RETAKES = 1
    sequence = house_tour(project, alice, references)
    runway.fail_next("fail")
    first, _ = pipeline.make_keyframes(sequence, user=alice)
    settle_takes(first)
    assert first.status == Status.FAILED
    (retake,) = Take.objects.filter(keyframe=first.keyframe).exclude(pk=first.pk)
    retake = settle_takes(retake)[0]
    assert (retake.status, retake.attempt) == (Status.SUCCEEDED, 1)
    settle_takes(*Take.objects.all())
    assert books(alice) == IMAGE + TURBO_IMAGE


def test_cancelling_while_runway_makes_a_keyframe_keeps_runways_charge(
    project, alice, references, runway, books
):
    runway.configure(pending_seconds=0.05, running_seconds=60)
    sequence = house_tour(project, alice, references)
    first, second = pipeline.make_keyframes(sequence, user=alice)
    poll_until(first, Status.RUNNING)
    poll_until(second, Status.RUNNING)

    result = pipeline.cancel_sequence(sequence)

    first.refresh_from_db()
    sequence.refresh_from_db()
    assert first.status == Status.CANCELLED
    assert settled(first) == [IMAGE]
    assert (result.charged, result.released, result.still_held) == (IMAGE + TURBO_IMAGE, 0, 0)
    assert sequence.status == Sequence.Status.DRAFT  # there was no run to cancel
    assert books(alice) == IMAGE + TURBO_IMAGE


def test_cancelling_before_runway_starts_a_keyframe_holds_it_until_confirmed(
    project, alice, references, runway
):
    # Runway may start a task between the GET and the DELETE and then shows no task to ask about
    # (tests/test_cancel_race.py): the holds stay open, unconfirmed, until an admin checks.
    runway.configure(pending_seconds=60)
    sequence = house_tour(project, alice, references)
    takes = pipeline.make_keyframes(sequence, user=alice)

    result = pipeline.cancel_sequence(sequence)

    assert (result.charged, result.released, result.still_held) == (0, 0, IMAGE + TURBO_IMAGE)
    assert [t["cost"] for t in runway.tasks()] == [0, 0]
    assert all(t.status == Status.UNCONFIRMED for t in settle_takes(*takes))
    assert not LedgerEntry.objects.filter(user=alice, kind="settle").exists()
    assert {h.take_id for h in credits.open_holds().filter(user=alice)} == {t.pk for t in takes}
    assert credits.recompute_figures() == []


def test_a_worker_killed_while_sending_a_keyframe_never_sends_it_again(
    project, alice, references, runway, monkeypatch
):
    sequence = house_tour(project, alice, references)
    Keyframe.objects.filter(shot__position=2).delete()
    Shot.objects.filter(sequence=sequence, position=2).update(first_frame=Shot.FirstFrame.PREVIOUS)
    with monkeypatch.context() as patch:
        patch.setattr("generation.runway.client_from_settings", lambda **options: DiesAfterSending(**options))
        with pytest.raises(WorkerKilled):
            pipeline.make_keyframes(sequence, user=alice)
    take = Take.objects.get()
    assert (take.status, bool(take.create_sent_at), take.runway_task_id) == (Status.SUBMITTING, True, None)

    Take.objects.filter(pk=take.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    pipeline.recover()

    take.refresh_from_db()
    assert take.status == Status.UNCONFIRMED
    assert len(runway.tasks()) == 1
    assert credits.hold_for_take(take).credits == IMAGE  # kept until an admin resolves it


def test_a_keyframe_whose_worker_died_before_sending_is_sent_once(project, alice, references, runway, books):
    sequence = house_tour(project, alice, references)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_enqueue_now", lambda task, *args: None)
        takes = pipeline.make_keyframes(sequence, user=alice)
    # One was claimed by a worker that died before the request left; the other's task was lost.
    Take.objects.filter(pk=takes[0].pk).update(
        status=Status.SUBMITTING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    Take.objects.filter(pk=takes[1].pk).update(created_at=timezone.now() - dt.timedelta(minutes=1))

    settle_takes(*takes)

    assert [t.status for t in takes] == [Status.SUCCEEDED] * 2
    assert len(runway.tasks()) == 2
    assert books(alice) == IMAGE + TURBO_IMAGE


def test_another_runways_process_leaves_keyframe_takes_alone(project, alice, references, runway, settings):
    sequence = house_tour(project, alice, references)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_enqueue_now", lambda task, *args: None)
        takes = pipeline.make_keyframes(sequence, user=alice)
    settings.RUNWAY_API_KEY = runway.api_key + "-other"
    pipeline.submit_take(takes[0].pk)
    takes[0].refresh_from_db()
    assert takes[0].status == Status.QUEUED
    assert runway.tasks() == []


def test_a_veo_shot_ends_on_the_chosen_image_of_its_last_keyframe(project, alice, references, runway, books):
    sequence = make_sequence(
        project, alice, references, model="veo3.1_fast", stitched=True, duration=4, shots=1, has_audio=False
    )
    kitchen, garden, _ = references.images.order_by("position", "pk")
    shot = sequence.shots.get()
    services.set_keyframe(
        shot, slot="first", model="gen4_image_turbo", prompt="@kitchen", references=[(kitchen, "kitchen")]
    )
    services.set_keyframe(
        shot, slot="last", model="gen4_image_turbo", prompt="@garden", references=[(garden, "garden")]
    )
    images = settle_takes(*pipeline.make_keyframes(sequence, user=alice, expected_credits=2 * TURBO_IMAGE))
    with pytest.raises(pipeline.PipelineError, match="Choose a keyframe image for shot 1"):
        pipeline.start_sequence(sequence, user=alice)
    for take in images:
        pipeline.choose_keyframe_take(take)

    (clip,) = pipeline.start_sequence(sequence, user=alice, expected_credits=40)
    assert drive(sequence).status == Sequence.Status.DONE

    (task,) = [t for t in runway.tasks() if t["model"] == "veo3.1_fast"]
    first, last = task["request"]["promptImage"]
    assert (first["position"], last["position"]) == ("first", "last")
    by_slot = {t.keyframe.slot: t for t in images}
    assert sent_image_digest(by_slot["first"].output, sequence.image_fit) in first["uri"]
    assert sent_image_digest(by_slot["last"].output, sequence.image_fit) in last["uri"]
    assert books(alice) == 2 * TURBO_IMAGE + 40


def test_a_keyframe_the_shot_no_longer_uses_is_not_made(project, alice, references, runway):
    sequence = house_tour(project, alice, references)
    Shot.objects.filter(sequence=sequence, position=2).update(first_frame=Shot.FirstFrame.PREVIOUS)

    (item,) = estimates.estimate_keyframes(sequence).keyframes

    assert item.keyframe == keyframe(sequence, 0)
