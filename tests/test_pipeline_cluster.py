"""The pipeline under a real qcluster and poller (separate processes), killed with SIGKILL at the
worst moments: after a submission, during a download and during assembly. After a restart the
sequence finishes, Runway saw each task once, and the ledger is exact."""

import stat
import time
from pathlib import Path

import pytest

from generation import estimates, media, pipeline
from generation.models import Take
from projects import services
from projects.models import Sequence
from tests.helpers import (
    Cluster,
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    cluster_env,
    final,
    make_sequence,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def cluster(settings, runway, tmp_path):
    settings.PIPELINE_INLINE = False
    c = Cluster(cluster_env(settings, runway), tmp_path)
    yield c
    c.stop_all()


def slow_ffmpeg(tmp_path: Path, seconds: float) -> str:
    """An ffmpeg that waits before working, so that a kill lands during assembly."""
    script = tmp_path / "slow-ffmpeg"
    script.write_text(f'#!/bin/sh\nsleep {seconds}\nexec "{media.ffmpeg_exe()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_a_sequence_finishes_under_a_real_cluster(cluster, project, alice, references, runway):
    sequence = make_sequence(project, alice, references, model="veo3.1_fast", stitched=True, duration=4)
    cluster.start("qcluster")
    cluster.start("poller")

    pipeline.start_sequence(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert_ledger_exact(alice, runway)
    assert_no_duplicate_submissions(runway)


def test_killed_after_submit_the_sequence_resumes_without_resubmitting(
    cluster,
    project,
    alice,
    references,
    runway,
):
    runway.fail_next("slow", 1, seconds=3)
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=True, duration=2)
    cluster.start("qcluster")
    cluster.start("poller")
    pipeline.start_sequence(sequence, user=alice)

    wait_for(lambda: Take.objects.exclude(runway_task_id=None).exists(), what="a submission")
    cluster.kill("qcluster")
    cluster.kill("poller")
    cluster.start("qcluster")
    cluster.start("poller")

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_killed_during_a_download_the_take_is_taken_over(
    cluster,
    project,
    alice,
    references,
    runway,
):
    runway.fail_next("stall_download", 1, fraction=0.3, hold_seconds=20)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    cluster.start("qcluster")
    cluster.start("poller")
    pipeline.start_sequence(sequence, user=alice)

    wait_for(
        lambda: Take.objects.filter(status=Take.Status.DOWNLOADING).exclude(claimed_until=None).exists(),
        what="a download in progress",
    )
    time.sleep(0.3)
    cluster.kill("qcluster")
    cluster.start("qcluster")

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_killed_during_assembly_the_film_is_still_made(
    cluster,
    project,
    alice,
    references,
    runway,
    tmp_path,
):
    cluster.env["FFMPEG_BINARY"] = slow_ffmpeg(tmp_path, 1.5)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    cluster.start("qcluster")
    cluster.start("poller")
    pipeline.start_sequence(sequence, user=alice)

    wait_for(
        lambda: (
            Sequence.objects.filter(pk=sequence.pk, status=Sequence.Status.ASSEMBLING)
            .exclude(claimed_until=None)
            .exists()
        ),
        what="assembly to start",
    )
    cluster.kill("qcluster")
    cluster.env.pop("FFMPEG_BINARY")
    cluster.start("qcluster")

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert sequence.film
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_killed_while_making_keyframes_the_images_are_made_once_and_settled(
    cluster,
    project,
    alice,
    references,
    runway,
):
    runway.fail_next("slow", 2, seconds=3)
    sequence = make_sequence(project, alice, references, model="gen4_turbo", stitched=True, duration=2)
    kitchen, garden, hall = references.images.order_by("position", "pk")
    first, _, third = sequence.shots.order_by("position")
    services.set_keyframe(
        first,
        slot="first",
        model="gen4_image",
        prompt="@kitchen and @garden",
        references=[(kitchen, "kitchen"), (garden, "garden")],
    )
    services.set_keyframe(
        third, slot="first", model="gen4_image_turbo", prompt="@hall", references=[(hall, "hall")]
    )
    cluster.start("qcluster")
    cluster.start("poller")
    takes = pipeline.make_keyframes(sequence, user=alice)

    # Both images are at Runway (a kill during a create call would leave it unconfirmed, as tested
    # elsewhere): the kill lands while Runway makes them.
    wait_for(
        lambda: not Take.objects.filter(pk__in=[t.pk for t in takes], runway_task_id=None).exists(),
        what="the keyframe submissions",
    )
    cluster.kill("qcluster")
    cluster.kill("poller")
    cluster.start("qcluster")
    cluster.start("poller")

    def made():
        return all(
            t.status == Take.Status.SUCCEEDED for t in Take.objects.filter(pk__in=[t.pk for t in takes])
        )

    wait_for(made, timeout=60, what="the keyframe images")
    for take in Take.objects.filter(pk__in=[t.pk for t in takes]):
        pipeline.choose_keyframe_take(take)
    assert estimates.estimate_keyframes(sequence).keyframes == []
    pipeline.start_sequence(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)
