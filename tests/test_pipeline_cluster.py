"""The pipeline under a real qcluster and poller (separate processes), killed with SIGKILL at the
worst moments: after a submission, during a download, during assembly, and while keyframe images or
a narration are made. After a restart the sequence finishes, Runway saw each task once, and the
ledger is exact. A download or an assembly slower than its lease keeps it (the worker renews it
while it works); a killed worker's is taken over within about one lease, and done once."""

import stat
import time
from pathlib import Path

import pytest
from django.db.models import Sum

from generation import credits, estimates, finishing, media, pipeline
from generation.models import LedgerEntry, Take
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


# A lease several heartbeats long, as in production (60 s, renewed every 20 s), but short enough for
# a test; the slow work below outlasts it, so without the heartbeat a second worker would take it.
LEASE = 6


@pytest.fixture
def leased(cluster):
    cluster.env["PIPELINE_LEASE_SECONDS"] = str(LEASE)
    return cluster


def slow_concat(tmp_path: Path, seconds: float) -> tuple[str, Path]:
    """An ffmpeg that waits before joining clips (and notes each join it starts), so that an
    assembly outlasts a lease; other ffmpeg runs (checking downloaded clips) go at full speed."""
    runs = tmp_path / "concat-runs"
    script = tmp_path / "slow-concat-ffmpeg"
    script.write_text(
        f'#!/bin/sh\ncase "$*" in *concat*) echo run >> "{runs}"; sleep {seconds};; esac\n'
        f'exec "{media.ffmpeg_exe()}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script), runs


def stalled_download(sequence: Sequence) -> Take:
    """The take whose download the simulator holds open (the others are saved at once)."""
    downloading = Take.objects.filter(shot__sequence=sequence, status=Take.Status.DOWNLOADING).exclude(
        claim_token=""
    )
    wait_for(downloading.exists, what="a download in progress")
    time.sleep(1)  # the other take's download, if it started, is over by now
    return wait_for(lambda: downloading.count() == 1 and downloading.get(), what="the stalled download")


def downloads(runway, take: Take) -> int:
    return next(t["downloads"] for t in runway.tasks() if t["id"] == take.runway_task_id)


def test_a_live_download_slower_than_its_lease_is_not_taken_over(leased, project, alice, references, runway):
    # The download stalls for one and a half leases, then is cut off, and its worker fetches it again.
    runway.fail_next("stall_download", 1, fraction=0.3, hold_seconds=LEASE * 1.5)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    leased.start("qcluster")
    leased.start("poller")
    pipeline.start_sequence(sequence, user=alice)
    take = stalled_download(sequence)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    take.refresh_from_db()
    assert take.taken_over_at is None
    assert downloads(runway, take) == 2  # the stalled one and its own retry: no second worker's
    assert sequence.versions.count() == 1
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_killed_during_a_download_the_take_is_taken_over_within_a_lease(
    leased, project, alice, references, runway
):
    runway.fail_next("stall_download", 1, fraction=0.3, hold_seconds=60)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    leased.start("qcluster")
    leased.start("poller")
    pipeline.start_sequence(sequence, user=alice)
    take = stalled_download(sequence)
    leased.kill("qcluster")
    leased.start("qcluster")

    # The dead worker's lease lapses within one lease of its last renewal; a recovery sweep later
    # (every 0.5 s here) the new worker has it.
    wait_for(
        lambda: Take.objects.filter(pk=take.pk).exclude(taken_over_at=None).exists(),
        timeout=LEASE + 5,
        what="the take to be taken over",
    )
    take.refresh_from_db()
    assert take.takeover_note.startswith("A worker stopped while saving this clip; another took it over at ")
    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    take.refresh_from_db()
    assert take.status == Take.Status.SUCCEEDED
    assert downloads(runway, take) == 2  # the killed worker's and the new one's
    assert sequence.versions.count() == 1
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_a_live_assembly_slower_than_its_lease_is_not_taken_over(
    leased, project, alice, references, runway, tmp_path
):
    leased.env["FFMPEG_BINARY"], runs = slow_concat(tmp_path, LEASE * 1.5)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    leased.start("qcluster")
    leased.start("poller")
    pipeline.start_sequence(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert sequence.taken_over_at is None
    assert runs.read_text().count("run") == 1  # one join: no second worker started another
    assert list(sequence.versions.values_list("number", flat=True)) == [1]
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_killed_during_assembly_the_film_is_taken_over_and_made_once(
    leased, project, alice, references, runway, tmp_path
):
    leased.env["FFMPEG_BINARY"], runs = slow_concat(tmp_path, 60)
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    leased.start("qcluster")
    leased.start("poller")
    pipeline.start_sequence(sequence, user=alice)

    wait_for(runs.exists, what="assembly to start")
    leased.kill("qcluster")
    leased.env.pop("FFMPEG_BINARY")
    leased.start("qcluster")

    wait_for(
        lambda: Sequence.objects.filter(pk=sequence.pk).exclude(taken_over_at=None).exists(),
        timeout=LEASE + 5,
        what="the assembly to be taken over",
    )
    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert sequence.film
    assert list(sequence.versions.values_list("number", flat=True)) == [1]
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


def test_killed_while_making_a_narration_it_is_made_once_and_mixed(
    cluster,
    project,
    alice,
    references,
    runway,
    tmp_path,
):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    cluster.start("qcluster")
    cluster.start("poller")
    pipeline.start_sequence(sequence, user=alice)
    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    # Five words: about 2 s of speech over the 4 s film.
    Sequence.objects.filter(pk=sequence.pk).update(narration_script="Morning light on the harbour")
    sequence.refresh_from_db()

    runway.fail_next("slow", 1, seconds=3)
    take = finishing.make_narration(sequence, user=alice)
    # The narration is at Runway: the kill lands while Runway makes it.
    wait_for(
        lambda: Take.objects.filter(pk=take.pk).exclude(runway_task_id=None).exists(), what="the submission"
    )
    cluster.kill("qcluster")
    cluster.kill("poller")
    cluster.start("qcluster")
    cluster.start("poller")

    wait_for(
        lambda: Take.objects.filter(pk=take.pk, status__in=Take.FINAL).exists(),
        timeout=60,
        what="the narration",
    )
    take.refresh_from_db()
    assert take.status == Take.Status.SUCCEEDED, take.failure_message
    speech = [t for t in runway.tasks() if t["id"] == take.runway_task_id]
    assert len(speech) == 1
    assert len(runway.tasks()) == sequence.shots.count() + 1  # the clips and one narration
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)
    assert credits.recompute_figures() == []
    sequence.refresh_from_db()
    assert sequence.narration_take == take

    finishing.assemble_again(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    latest = sequence.versions.order_by("-number").first()
    assert (latest.number, latest.narration_id) == (2, take.pk)
    film = tmp_path / "v2.mp4"
    with latest.film.open("rb") as src:
        film.write_bytes(src.read())
    # The simulated voice sits at 700 Hz; the gen4_turbo clips are silent.
    assert media.measure_loudness(film, start=0.3, duration=1.5, band=(700, 100)) > -35
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)
    settled = LedgerEntry.objects.filter(user=alice, kind="settle").aggregate(s=Sum("credits"))["s"]
    assert settled == sum(t.get("cost") or 0 for t in runway.tasks())  # what Runway charged, exactly
    assert credits.recompute_figures() == []
