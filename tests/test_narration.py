"""A sequence's narration against the simulator over real HTTP, with real ffmpeg: made, held and
settled like a clip, chosen, and mixed over the film as a new version with the clips' sound lowered
under the voice; refused before spending when it would not fit the film; cancelled and recovered.

The simulated clips' sound is a 220 Hz tone and the simulated voice sits at 700 Hz and 1400 Hz, so
each is measured under the other (media.measure_loudness behind a band-pass filter).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
import requests
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from generation import credits, finishing, media, pipeline
from generation.models import LedgerEntry, Take
from projects.models import FilmVersion, Sequence
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
BED = (220, 40)
VOICE = (700, 100)
# 13 words: about 5.2 s at the simulated voice's 150 words a minute; 63 characters, 2 credits.
SCRIPT = "Morning light on the harbour and the boats head out to open sea"


def finished_film(project, alice, references, *, model="veo3.1_fast", duration=4, shots=2) -> Sequence:
    sequence = make_sequence(
        project, alice, references, model=model, stitched=True, duration=duration, shots=shots
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    return sequence


def with_script(sequence: Sequence, script: str = SCRIPT) -> Sequence:
    Sequence.objects.filter(pk=sequence.pk).update(narration_script=script, narration_voice="Rachel")
    sequence.refresh_from_db()
    return sequence


def settle_take(take: Take, *statuses: str, timeout: float = 60) -> Take:
    """Do what the poller does until the take reaches one of `statuses` (default: any final one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        take.refresh_from_db()
        if take.status in (statuses or Take.FINAL):
            return take
        time.sleep(0.05)
    raise AssertionError(f"take still {take.status}")


def local(field_file, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with field_file.open("rb") as src:
        path.write_bytes(src.read())
    return path


def test_a_narration_is_made_chosen_and_mixed_into_a_new_version(
    project, alice, references, runway, tmp_path
):
    sequence = with_script(finished_film(project, alice, references))
    first = sequence.versions.get()
    estimate = finishing.estimate_narration(sequence)
    assert estimate.error == ""
    assert estimate.total_credits == 2  # 63 characters at 50 a credit, rounded up

    take = finishing.make_narration(sequence, user=alice, expected_credits=2)
    take = settle_take(take)

    assert take.status == Status.SUCCEEDED, take.failure_message
    assert take.sequence_id == sequence.pk
    assert take.shot_id is None
    assert take.request["voice"] == {"type": "runway-preset", "presetId": "Rachel"}
    audio = media.probe_audio(local(take.output, tmp_path, "voice.mp3"))
    assert audio.duration == pytest.approx(5.2, abs=0.3)
    assert take.duration == pytest.approx(audio.duration)
    sequence.refresh_from_db()
    assert sequence.narration_take == take  # the first narration is chosen
    assert finishing.needs_assembly_for_narration(sequence)

    finishing.assemble_again(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    second = sequence.versions.order_by("-number").first()
    assert (second.number, second.narration_id, first.narration_id) == (2, take.pk, None)
    assert not finishing.needs_assembly_for_narration(sequence)
    before = local(first.film, tmp_path, "v1.mp4")
    after = local(second.film, tmp_path, "v2.mp4")
    assert media.probe(after).duration == pytest.approx(media.probe(before).duration, abs=0.1)
    assert second.duration == pytest.approx(first.duration, abs=0.1)
    # The voice is heard over the first seconds, and the clips' tone is lowered under it...
    assert media.measure_loudness(after, start=0.5, duration=3, band=VOICE) > -35
    assert media.measure_loudness(before, start=0.5, duration=3, band=VOICE) < -60
    bed_before = media.measure_loudness(before, start=0.5, duration=3, band=BED)
    assert media.measure_loudness(after, start=0.5, duration=3, band=BED) < bed_before - 8
    # ...and comes back once the narration has ended.
    assert media.measure_loudness(after, start=6, duration=1.5, band=BED) == pytest.approx(
        media.measure_loudness(before, start=6, duration=1.5, band=BED), abs=3
    )
    assert_ledger_exact(alice, runway)
    assert_no_duplicate_submissions(runway)
    assert credits.recompute_figures() == []


def test_a_retake_is_offered_and_choosing_it_asks_for_another_assembly(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    first = settle_take(finishing.make_narration(sequence, user=alice))
    Sequence.objects.filter(pk=sequence.pk).update(narration_voice="Jack")
    sequence.refresh_from_db()
    second = settle_take(finishing.retake_narration(sequence, user=alice))

    sequence.refresh_from_db()
    assert (first.status, second.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    assert sequence.narration_take == first  # the retake is offered, not chosen
    finishing.choose_narration_take(second)
    finishing.choose_narration_take(second)  # twice changes nothing
    sequence.refresh_from_db()
    assert sequence.narration_take == second
    assert finishing.needs_assembly_for_narration(sequence)
    assert Take.objects.filter(shot__sequence=sequence).count() == 2  # no clip made again
    assert_ledger_exact(alice, runway)


def test_a_narration_longer_than_the_film_is_refused_before_spending(project, alice, references, runway):
    sequence = finished_film(project, alice, references, model="gen4_turbo", duration=2, shots=1)
    sequence = with_script(sequence, " ".join(["word"] * 20))  # 8 s of speech over a 2 s film
    holds_before = LedgerEntry.objects.count()
    tasks_before = len(runway.tasks())

    estimate = finishing.estimate_narration(sequence)
    assert "about 8 s to say (20 words), longer than the 2 s film; cut about 15 words" in estimate.error
    with pytest.raises(pipeline.PipelineError, match="longer than the 2 s film"):
        finishing.make_narration(sequence, user=alice)

    assert not finishing.narration_takes(sequence).exists()
    assert LedgerEntry.objects.count() == holds_before
    assert len(runway.tasks()) == tasks_before


def test_an_estimate_that_changed_is_refused(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    with pytest.raises(pipeline.PipelineError, match="The estimate is now 2 credits"):
        finishing.make_narration(sequence, user=alice, expected_credits=1)
    assert not finishing.narration_takes(sequence).exists()


def test_a_second_narration_while_one_is_on_its_way_is_refused(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    # Only the narration waits at Runway: the film's clips, made first, need not.
    runway.configure(pending_seconds=30)
    finishing.make_narration(sequence, user=alice)
    with pytest.raises(pipeline.PipelineError, match="already being made"):
        finishing.make_narration(sequence, user=alice)
    finishing.stop_narration(sequence)


# --- cancelling and dying -------------------------------------------------------------------------


def balance(sim) -> int:
    return requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10).json()[
        "creditBalance"
    ]


def settled_by(user) -> int:
    return LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0


def test_stopping_a_narration_runway_has_not_started_holds_its_credits_until_confirmed(
    project, alice, references, runway
):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    start = balance(runway)
    runway.configure(pending_seconds=60)
    take = finishing.make_narration(sequence, user=alice)
    take.refresh_from_db()
    assert take.status == Status.PENDING

    result = finishing.stop_narration(sequence)

    take.refresh_from_db()
    # Refunded at Runway, which no longer shows the task: held until confirmed (test_cancel_race.py).
    assert take.status == Status.UNCONFIRMED
    assert take.cost_credits is None
    assert (result.stopped, result.charged, result.released, result.still_held) == (1, 0, 0, 2)
    assert balance(runway) == start
    assert credits.open_holds().get(user=alice).take == take
    assert credits.recompute_figures() == []


def test_cancelling_the_sequence_during_a_narration_keeps_runways_charge(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    start, settled_before = balance(runway), settled_by(alice)
    runway.configure(pending_seconds=0.05, running_seconds=60)
    take = settle_take(finishing.make_narration(sequence, user=alice), Status.RUNNING)

    result = pipeline.cancel_sequence(sequence)

    take.refresh_from_db()
    sequence.refresh_from_db()
    assert take.status == Status.CANCELLED
    assert take.cost_credits == 2
    assert result.cancelled == 1
    assert sequence.status == Sequence.Status.DONE  # the film is untouched
    assert start - balance(runway) == settled_by(alice) - settled_before == 2
    assert not credits.open_holds().filter(user=alice).exists()
    assert credits.recompute_figures() == []


def test_a_refunded_narration_failure_costs_nothing_and_stops_nothing(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    runway.fail_next("moderation", 1)
    take = settle_take(finishing.make_narration(sequence, user=alice))

    sequence.refresh_from_db()
    assert take.status == Status.FAILED
    assert sequence.status == Sequence.Status.DONE
    assert sequence.narration_take is None
    assert_ledger_exact(alice, runway)


def test_a_worker_killed_after_sending_a_narration_never_resends_it(
    project, alice, references, runway, monkeypatch
):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    start, settled_before, tasks_before = balance(runway), settled_by(alice), len(runway.tasks())
    with monkeypatch.context() as patch:
        patch.setattr("generation.runway.client_from_settings", lambda **options: DiesAfterSending(**options))
        with pytest.raises(WorkerKilled):
            finishing.make_narration(sequence, user=alice)
    take = finishing.narration_takes(sequence).get()
    assert take.status == Status.SUBMITTING
    assert take.create_sent_at
    assert not take.runway_task_id

    Take.objects.filter(pk=take.pk).update(claimed_until=timezone.now() - dt.timedelta(seconds=1))
    pipeline.recover()

    take.refresh_from_db()
    assert take.status == Status.UNCONFIRMED
    assert len(runway.tasks()) == tasks_before + 1  # never sent again
    # The task Runway made is covered by the hold kept open until an admin resolves it.
    assert start - balance(runway) == 2
    assert settled_by(alice) == settled_before
    assert list(credits.open_holds().filter(user=alice).values_list("take_id", "credits")) == [(take.pk, 2)]


def test_a_worker_killed_before_sending_a_narration_sends_it_once(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    tasks_before = len(runway.tasks())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_enqueue_now", lambda task, *args: None)
        take = finishing.make_narration(sequence, user=alice)
    # A worker claimed the take and died before the request left.
    Take.objects.filter(pk=take.pk).update(
        status=Status.SUBMITTING, claimed_until=timezone.now() - dt.timedelta(seconds=1)
    )
    # Recovery sends queued standalone takes once they are a poll interval old.
    Take.objects.filter(pk=take.pk).update(created_at=timezone.now() - dt.timedelta(seconds=5))

    take = settle_take(take)

    assert take.status == Status.SUCCEEDED
    assert len(runway.tasks()) == tasks_before + 1
    assert_ledger_exact(alice, runway)


def test_the_take_page_helpers_work_for_takes_without_a_shot(project, alice, references, runway):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    take = settle_take(finishing.make_narration(sequence, user=alice))
    assert str(take) == f"Take {take.pk}: narration of sequence {sequence.pk}"
    assert take.output.name.startswith(f"takes/{sequence.pk}/")
    charges = pipeline.charges_of(sequence)
    assert charges.charged == settled_by(alice)
    assert FilmVersion.objects.filter(sequence=sequence).count() == 1


# --- fetching a lost narration again ---------------------------------------------------------------


def test_a_narration_whose_download_failed_is_fetched_again_without_a_second_charge(
    project, alice, references, runway, client, tmp_path
):
    sequence = with_script(finished_film(project, alice, references, model="gen4_turbo", duration=3))
    start, settled_before, tasks_before = balance(runway), settled_by(alice), len(runway.tasks())
    # Every link Runway gives is cut short: each attempt gets fresh links three times.
    runway.fail_next("truncate_download", pipeline.MAX_DOWNLOAD_ATTEMPTS * 3)
    take = settle_take(finishing.make_narration(sequence, user=alice, expected_credits=2))

    assert (take.status, take.failure_code, take.cost_credits) == (Status.FAILED, "DOWNLOAD", 2)
    assert not take.output
    assert start - balance(runway) == settled_by(alice) - settled_before == 2  # made, so paid
    assert not credits.open_holds().filter(user=alice).exists()
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).content.decode()
    assert "Fetch narration 1 again (no charge)" in page

    response = client.post(reverse("fetch_finishing_take_again", args=[take.pk]), follow=True)
    assert "It is not charged twice." in response.content.decode()
    take = settle_take(take)

    assert take.status == Status.SUCCEEDED, take.failure_message
    assert media.probe_audio(local(take.output, tmp_path, "voice.mp3")).duration == pytest.approx(
        5.2, abs=0.3
    )
    sequence.refresh_from_db()
    assert sequence.narration_take == take
    assert len(runway.tasks()) == tasks_before + 1  # Runway made it once
    assert start - balance(runway) == settled_by(alice) - settled_before == 2  # and was paid once
    assert_ledger_exact(alice, runway)
    assert credits.recompute_figures() == []
    with pytest.raises(pipeline.PipelineError):
        pipeline.fetch_take_again(take)
