"""The 4K master of a film version against the simulator over real HTTP, with real ffmpeg: cut into
parts of at most 30 s, each upscaled by video_upscale, held and settled like a clip, joined into
`FilmVersion.master` at 3840x2160 with the film's length; a failed part made again alone; cancelled
and recovered; and under a real qcluster killed with SIGKILL during a part."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
import requests
from django.db.models import Sum

from generation import catalog, credits, finishing, media, pipeline
from generation.models import LedgerEntry, Take
from projects.models import FilmVersion, Sequence
from tests.helpers import (
    Cluster,
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    cluster_env,
    drive,
    final,
    make_sequence,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

Status = Take.Status
MODEL = catalog.DEFAULT_UPSCALE_MODEL


@pytest.fixture(autouse=True)
def _fastest_encoder(monkeypatch):
    # Nearly all of these tests' time is x264 encoding 4K frames (the simulator's upscale); what
    # they check is each part's frames and the master's size and length, not its picture, which
    # the fastest preset encodes about three times sooner.
    monkeypatch.setattr(media, "X264_PRESET", "ultrafast")


@pytest.fixture
def rich_alice(alice):
    credits.set_monthly_limit(alice, credits=5000)
    return alice


def film(project, alice, references, *, shots: int, duration: int) -> FilmVersion:
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=duration, shots=shots
    )
    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    return sequence.versions.get()


def until_mastered(version: FilmVersion, *, timeout: float = 240) -> FilmVersion:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        version.refresh_from_db()
        if version.master:
            return version
        if not finishing.master_takes(version).filter(status__in=Take.ACTIVE).exists():
            return version
        time.sleep(0.1)
    raise AssertionError("the master is still being made")


def local(field_file, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    with field_file.open("rb") as src:
        path.write_bytes(src.read())
    return path


def balance(sim) -> int:
    return requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10).json()[
        "creditBalance"
    ]


def settled_by(user) -> int:
    return LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0


@pytest.fixture
def short_parts(monkeypatch):
    """Parts of at most 3 s (Runway's limit is 30 s), so that a 4 s film is mastered in two parts."""
    model = catalog.UPSCALE_MODELS[MODEL]
    monkeypatch.setitem(catalog.UPSCALE_MODELS, MODEL, dataclasses.replace(model, max_seconds=3))


def test_a_film_over_30_seconds_is_mastered_in_parts_at_3840x2160(
    project, rich_alice, references, runway, inline_pipeline, tmp_path
):
    version = film(project, rich_alice, references, shots=4, duration=8)  # 32 s
    estimate = finishing.estimate_master(version)
    assert estimate.error == ""
    assert [p.frames for p in estimate.parts] == [384, 384]  # 768 frames at 24 fps, two parts
    assert (estimate.width, estimate.height) == (3840, 2160)
    assert estimate.total_credits == 2 * 461  # 384 frames at 1.2 credits, rounded up

    takes = finishing.make_master(version, user=rich_alice, expected_credits=estimate.total_credits)
    version = until_mastered(version)

    assert version.master, [t.failure_message for t in finishing.master_takes(version)]
    assert [(t.part_start_frame, t.part_end_frame) for t in takes] == [(0, 384), (384, 768)]
    master = local(version.master, tmp_path, "master.mp4")
    source = local(version.film, tmp_path, "film.mp4")
    info = media.probe(master)
    assert (info.width, info.height) == (3840, 2160)
    assert info.duration == pytest.approx(media.probe(source).duration, abs=0.15)
    assert media.count_video_frames(master) == media.count_video_frames(source) == 768
    for take in takes:
        take.refresh_from_db()
    assert [t.status for t in takes] == [Status.SUCCEEDED, Status.SUCCEEDED]
    master_settled = (
        LedgerEntry.objects.filter(take__in=takes, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
    )
    assert master_settled == estimate.total_credits
    assert_ledger_exact(rich_alice, runway)
    assert_no_duplicate_submissions(runway)
    assert credits.recompute_figures() == []


def test_a_large_film_is_uploaded_rather_than_sent_as_a_data_uri(
    project, rich_alice, references, runway, inline_pipeline, monkeypatch, tmp_path
):
    version = film(project, rich_alice, references, shots=1, duration=2)
    monkeypatch.setattr(catalog, "VIDEO_DATA_URI_MAX_CHARS", 1000)
    finishing.make_master(version, user=rich_alice)
    version = until_mastered(version)

    assert version.master
    info = media.probe(local(version.master, tmp_path, "master.mp4"))
    assert (info.width, info.height) == (3840, 2160)
    assert_ledger_exact(rich_alice, runway)


def test_a_failed_part_is_made_again_alone(
    project, rich_alice, references, runway, inline_pipeline, short_parts, tmp_path
):
    version = film(project, rich_alice, references, shots=2, duration=2)  # 4 s: two parts of 2 s
    estimate = finishing.estimate_master(version)
    assert len(estimate.parts) == 2
    runway.fail_next("moderation", 1)
    first, second = finishing.make_master(version, user=rich_alice, expected_credits=estimate.total_credits)
    version = until_mastered(version)

    first.refresh_from_db()
    second.refresh_from_db()
    assert sorted([first.status, second.status]) == [Status.FAILED, Status.SUCCEEDED]
    assert not version.master  # nothing is joined while a part is missing
    assert finishing.versions_to_join() == []

    again = finishing.estimate_master(version)
    assert len(again.to_make) == 1
    assert again.total_credits == estimate.parts[0].credits
    (retake,) = finishing.make_master(version, user=rich_alice, expected_credits=again.total_credits)
    version = until_mastered(version)

    assert version.master
    failed = first if first.status == Status.FAILED else second
    assert (retake.part_start_frame, retake.part_end_frame) == (
        failed.part_start_frame,
        failed.part_end_frame,
    )
    info = media.probe(local(version.master, tmp_path, "master.mp4"))
    assert (info.width, info.height) == (3840, 2160)
    assert info.duration == pytest.approx(version.duration, abs=0.15)
    assert_ledger_exact(rich_alice, runway)
    with pytest.raises(pipeline.PipelineError, match="already has a 4K master"):
        finishing.make_master(version, user=rich_alice)


def test_stopping_a_master_part_runway_is_upscaling_keeps_runways_charge(
    project, rich_alice, references, runway, inline_pipeline
):
    version = film(project, rich_alice, references, shots=1, duration=2)
    start, settled_before = balance(runway), settled_by(rich_alice)
    runway.configure(pending_seconds=0.05, running_seconds=60)
    (take,) = finishing.make_master(version, user=rich_alice)
    deadline = time.monotonic() + 20
    while take.status != Status.RUNNING and time.monotonic() < deadline:
        pipeline.poll_once()
        take.refresh_from_db()
        time.sleep(0.05)
    assert take.status == Status.RUNNING

    result = finishing.stop_master(version)

    take.refresh_from_db()
    assert take.status == Status.CANCELLED
    assert take.cost_credits == take.estimated_credits
    assert (result.stopped, result.charged) == (1, take.estimated_credits)
    assert start - balance(runway) == settled_by(rich_alice) - settled_before == take.estimated_credits
    assert not credits.open_holds().filter(user=rich_alice).exists()
    assert credits.recompute_figures() == []
    version.refresh_from_db()
    assert not version.master


def test_cancelling_the_sequence_stops_a_master_part_not_yet_started(
    project, rich_alice, references, runway, inline_pipeline
):
    version = film(project, rich_alice, references, shots=1, duration=2)
    start = balance(runway)
    runway.configure(pending_seconds=60)
    (take,) = finishing.make_master(version, user=rich_alice)

    result = pipeline.cancel_sequence(version.sequence)

    take.refresh_from_db()
    # Refunded at Runway, which no longer shows the task: held until confirmed (test_cancel_race.py).
    assert take.status == Status.UNCONFIRMED
    assert take.cost_credits is None
    assert result.cancelled == 1
    assert balance(runway) == start
    assert credits.open_holds().get(user=rich_alice).take == take


def test_a_master_whose_joining_died_is_joined_by_recovery(
    project, rich_alice, references, runway, inline_pipeline, monkeypatch
):
    version = film(project, rich_alice, references, shots=1, duration=2)
    with monkeypatch.context() as patch:
        # The worker dies between saving the last part and joining the master.
        patch.setattr(finishing, "join_master", lambda pk: None)
        (take,) = finishing.make_master(version, user=rich_alice)
        deadline = time.monotonic() + 60
        while take.status != Status.SUCCEEDED and time.monotonic() < deadline:
            pipeline.poll_once()
            take.refresh_from_db()
            time.sleep(0.05)
    version.refresh_from_db()
    assert take.status == Status.SUCCEEDED
    assert not version.master
    assert finishing.versions_to_join() == [version.pk]

    pipeline.recover()

    version.refresh_from_db()
    assert version.master
    assert finishing.versions_to_join() == []


# --- under a real qcluster ------------------------------------------------------------------------


@pytest.fixture
def cluster(settings, runway, tmp_path):
    settings.PIPELINE_INLINE = False
    c = Cluster(cluster_env(settings, runway), tmp_path)
    yield c
    c.stop_all()


@pytest.mark.slow
def test_killed_during_a_master_part_the_master_is_made_once(
    cluster, project, rich_alice, references, runway, tmp_path
):
    sequence = make_sequence(
        project, rich_alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    cluster.start("qcluster")
    cluster.start("poller")
    pipeline.start_sequence(sequence, user=rich_alice)
    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    version = sequence.versions.get()

    runway.fail_next("slow", 1, seconds=3)
    (take,) = finishing.make_master(version, user=rich_alice)
    wait_for(
        lambda: Take.objects.filter(pk=take.pk).exclude(runway_task_id=None).exists(), what="a submission"
    )
    cluster.kill("qcluster")
    cluster.kill("poller")
    cluster.start("qcluster")
    cluster.start("poller")

    def mastered():
        version.refresh_from_db()
        return bool(version.master)

    wait_for(mastered, timeout=120, what="the master")
    info = media.probe(local(version.master, tmp_path, "master.mp4"))
    assert (info.width, info.height) == (3840, 2160)
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(rich_alice, runway)


def test_a_master_whose_parts_come_back_8_px_off_the_guess_is_joined_and_delivered(
    project, rich_alice, references, runway, inline_pipeline, tmp_path
):
    # Runway's 4K geometry is unpublished: the guess is 3840x2160 for a 16:9 film.
    version = film(project, rich_alice, references, shots=1, duration=2)
    estimate = finishing.estimate_master(version)
    assert (estimate.width, estimate.height) == (3840, 2160)
    runway.fail_next("upscale_size_offset", 1, pixels=8, short_pixels=0)

    (part,) = finishing.make_master(version, user=rich_alice, expected_credits=estimate.total_credits)
    version = until_mastered(version)

    part.refresh_from_db()
    assert part.status == Status.SUCCEEDED, part.failure_message
    assert version.master
    info = media.probe(local(version.master, tmp_path, "master.mp4"))
    assert (info.width, info.height) == (3848, 2160)
    assert finishing.master_size(version) == (3848, 2160)
    assert_ledger_exact(rich_alice, runway)


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((3848, 2160), True),
        ((3832, 2160), True),
        ((3840, 2144), True),
        ((3900, 2160), False),
        ((2160, 3840), False),
    ],
)
def test_a_part_is_checked_by_shape_and_a_long_side_near_the_guess(size, ok):
    check = lambda: finishing.check_part_size(size, film=(1280, 720), guessed=(3840, 2160))  # noqa: E731
    if ok:
        check()
    else:
        with pytest.raises(media.MediaError):
            check()
