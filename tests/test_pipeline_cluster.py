"""The pipeline under a real qcluster and poller (separate processes), killed with SIGKILL at the
worst moments: after a submission, during a download and during assembly. After a restart the
sequence finishes, Runway saw each task once, and the ledger is exact."""

import os
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from generation import media, pipeline
from generation.models import Take
from projects.models import Sequence
from tests.helpers import assert_ledger_exact, assert_no_duplicate_submissions, make_sequence

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
MANAGE = str(Path(django_settings.BASE_DIR) / "manage.py")


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class Cluster:
    """A qcluster and a poller as child processes, each in its own process group."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        command = {"qcluster": "qcluster", "poller": "runway_poller"}[name]
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, MANAGE, command], env=self.env, stdout=log, stderr=log, start_new_session=True
        )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


@pytest.fixture
def cluster(settings, runway, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RUNWAY_API_BASE": runway.base_url,
        "RUNWAY_API_KEY": runway.api_key,
        "RUNWAY_POLL_INTERVAL": "0.3",
        "PIPELINE_LEASE_SECONDS": "3",
        "PIPELINE_RECOVER_INTERVAL": "0.5",
        "Q_NAME": f"test-{uuid.uuid4().hex[:8]}",
        "Q_WORKERS": "2",
        "DJANGO_SETTINGS_MODULE": "videogen.settings",
    }
    env.pop("PIPELINE_INLINE", None)
    settings.PIPELINE_INLINE = False
    c = Cluster(env, tmp_path)
    yield c
    c.stop_all()


def wait_for(predicate, *, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def final(sequence: Sequence, timeout: float = 90) -> Sequence:
    def done():
        sequence.refresh_from_db()
        return sequence.status in (Sequence.Status.DONE, Sequence.Status.FAILED, Sequence.Status.CANCELLED)

    wait_for(done, timeout=timeout, what="the sequence to finish")
    return sequence


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
