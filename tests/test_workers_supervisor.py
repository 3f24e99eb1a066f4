"""`manage.py workers` (generation/supervisor.py) under real processes: a django-q worker killed with
SIGKILL while it waits on the task queue leaves the queue's read lock taken and the pool wedged
(django-q2 issues #23, #339); the supervisor notices that its pings go unanswered, kills the
cluster and starts it again, and the film is made with no manual step. Busy workers excuse a late
ping; a wedged cluster cannot hang the supervisor's stop; `worker_health` tells a live cluster
from none."""

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from generation import media, pipeline
from projects.models import Sequence
from tests.helpers import (
    MANAGE,
    Cluster,
    assert_ledger_exact,
    assert_no_duplicate_submissions,
    cluster_env,
    final,
    make_sequence,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class Supervised(Cluster):
    """A Cluster whose workers run under `manage.py workers`; reads the process tree from /proc."""

    def start_workers(self) -> None:
        log = (self.log_dir / "workers.log").open("ab")
        self.procs["workers"] = subprocess.Popen(
            [sys.executable, MANAGE, "workers"], env=self.env, stdout=log, stderr=log, start_new_session=True
        )

    def stop_workers(self) -> subprocess.Popen:
        proc = self.procs.pop("workers")
        proc.send_signal(signal.SIGTERM)
        return proc

    @property
    def log(self) -> str:
        return (self.log_dir / "workers.log").read_text()

    def cluster_pid(self) -> int | None:
        children = _children(self.procs["workers"].pid)
        return children[0] if children else None

    def workers(self) -> list[int]:
        """The pids of the current cluster's django-q workers (not its monitor or pusher)."""
        cluster = self.cluster_pid()
        if cluster is None:
            return []
        ready = {int(pid) for pid in re.findall(r"ready for work at (\d+)", self.log)}
        return [pid for sentinel in _children(cluster) for pid in _children(sentinel) if pid in ready]

    def queue_reader(self) -> int | None:
        """The idle worker that holds the task queue's read lock: it sits in a pipe read, while the
        other idle workers wait on the lock (a futex)."""
        for pid in self.workers():
            try:
                if "pipe" in Path(f"/proc/{pid}/wchan").read_text():
                    return pid
            except FileNotFoundError:
                continue
        return None

    def kill_queue_reader(self) -> None:
        os.kill(wait_for(self.queue_reader, timeout=60, what="an idle worker on the queue"), signal.SIGKILL)


def slow_ffmpeg(tmp_path: Path, seconds: float) -> str:
    """An ffmpeg that waits before working, so that tasks running it keep their worker busy."""
    script = tmp_path / "slow-ffmpeg"
    script.write_text(f'#!/bin/sh\nsleep {seconds}\nexec "{media.ffmpeg_exe()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return sorted(int(c) for t in tasks for c in (t / "children").read_text().split())
    except FileNotFoundError:
        return []


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def supervised(settings, runway, tmp_path):
    settings.PIPELINE_INLINE = False
    env = cluster_env(settings, runway)
    env.update({"WORKER_PING_INTERVAL": "0.5", "WORKER_PING_TIMEOUT": "3", "WORKER_STOP_SECONDS": "3"})
    c = Supervised(env, tmp_path)
    yield c
    if "workers" in c.procs:
        c.stop_workers().wait(timeout=30)
    c.stop_all()


def health(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, MANAGE, "worker_health", "--timeout", str(timeout)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )


def test_a_worker_killed_while_idle_is_replaced_and_the_film_is_made(
    supervised, project, alice, references, runway
):
    supervised.start_workers()
    supervised.start("poller")
    supervised.kill_queue_reader()
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )

    pipeline.start_sequence(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert "Restarting the worker cluster" in supervised.log
    assert "the task queue is wedged" in supervised.log
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_a_worker_killed_while_busy_the_film_is_still_made(
    supervised, project, alice, references, runway, tmp_path
):
    supervised.env["FFMPEG_BINARY"] = slow_ffmpeg(tmp_path, 1.5)
    supervised.start_workers()
    supervised.start("poller")
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)

    # The worker assembling the film is the one that has started the (slow) ffmpeg.
    def assembler() -> int | None:
        return next((pid for pid in supervised.workers() if _children(pid)), None)

    os.kill(wait_for(assembler, timeout=60, what="assembly to start"), signal.SIGKILL)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert sequence.film
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_workers_busy_longer_than_the_ping_timeout_are_left_alone(
    supervised, project, alice, references, runway, tmp_path
):
    # One worker, busy assembling for longer than a ping may wait: the pings wait behind it.
    # Each ffmpeg run waits 1.5 s, and finishing a take or assembling the film runs it more than
    # once: every such task keeps the worker busy beyond the ping timeout.
    supervised.env.update(
        {"Q_WORKERS": "1", "WORKER_PING_TIMEOUT": "2", "FFMPEG_BINARY": slow_ffmpeg(tmp_path, 1.5)}
    )
    supervised.start_workers()
    supervised.start("poller")
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=2
    )
    pipeline.start_sequence(sequence, user=alice)

    assert final(sequence).status == Sequence.Status.DONE, sequence.status_message
    assert "busy workers" in supervised.log
    assert "Restarting" not in supervised.log
    assert_no_duplicate_submissions(runway)
    assert_ledger_exact(alice, runway)


def test_stopping_the_supervisor_of_a_wedged_cluster_kills_it(supervised):
    # Pings would take a minute to count as unanswered: the cluster stays wedged.
    supervised.env["WORKER_PING_TIMEOUT"] = "60"
    supervised.start_workers()
    supervised.kill_queue_reader()
    wait_for(lambda: len(supervised.workers()) == 2, what="the dead worker's replacement")
    cluster = supervised.cluster_pid()

    proc = supervised.stop_workers()

    # WORKER_STOP_SECONDS is 3; a cluster stopped by SIGTERM alone would hang here for ever.
    proc.wait(timeout=20)
    assert proc.returncode == 0
    # What is left of the killed group are orphans that init reaps.
    wait_for(lambda: not _group_alive(cluster), timeout=10, what="the cluster's processes to go")
    assert "did not stop within 3 s: killing it" in supervised.log


def test_worker_health_tells_a_live_cluster_from_none(supervised):
    result = health(supervised.env, timeout=2)
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: no worker answered")

    supervised.start_workers()
    wait_for(supervised.queue_reader, timeout=60, what="the cluster")
    result = health(supervised.env, timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: a worker answered")


def test_worker_health_fails_on_a_wedged_cluster(supervised):
    supervised.env["WORKER_PING_TIMEOUT"] = "60"
    supervised.start_workers()
    supervised.kill_queue_reader()

    result = health(supervised.env, timeout=2)

    assert result.returncode == 1
    assert "unhealthy" in result.stdout


def test_a_cluster_that_exits_is_started_again(supervised):
    supervised.start_workers()
    first = wait_for(supervised.cluster_pid, what="the cluster")
    wait_for(supervised.queue_reader, timeout=60, what="the cluster's workers")
    os.killpg(first, signal.SIGKILL)

    second = wait_for(
        lambda: (pid := supervised.cluster_pid()) and pid != first and pid, what="a new cluster"
    )

    assert second != first
    assert "it exited with status -9" in supervised.log
    wait_for(supervised.queue_reader, timeout=60, what="the new cluster's workers")
    assert health(supervised.env, timeout=20).returncode == 0
