"""A supervisor for the django-q cluster (`manage.py workers`).

django-q's workers share one multiprocessing queue whose read lock is held by the idle worker
waiting on it. A worker killed while holding it (an OOM kill, a `kill -9`) leaves the lock taken:
the cluster reincarnates the worker, but no worker ever reads a task again, and a SIGTERM hangs at
"stopping cluster processes" (django-q2 issues #23 and #339). Nothing inside the cluster can see
this, so the supervisor watches from outside:

- it runs the cluster as a child in its own process group (`manage.py workers --child`);
- every WORKER_PING_INTERVAL seconds it queues a ping task through the broker carrying its own
  token; any worker of the shared queue may answer it, raising the token's WorkerHeartbeat row;
- a ping unanswered for WORKER_PING_TIMEOUT while a worker of its cluster has sat idle at least
  that long means the pool is wedged (an idle worker would have taken it), so it kills the child's
  whole group with SIGKILL and starts it again. Workers that are all busy with long tasks excuse
  the delay: the ping waits behind them, as any task would;
- a child that exits by itself is started again, with a growing pause if it keeps dying;
- on SIGTERM or SIGINT it asks the cluster to stop (SIGTERM to its main process, which lets
  workers finish their task), and kills the group after WORKER_STOP_SECONDS.

Workers say whether they are busy through files in a state folder the supervisor owns, written
from django-q's worker signals (see `record_worker_states`).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from generation.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# After a restart the pause before the next grows from 1 s to this while the cluster keeps failing
# within RESTART_RESET_SECONDS of its start.
MAX_RESTART_PAUSE = 30.0
RESTART_RESET_SECONDS = 60.0
# A cluster whose workers have not started within this long is started again.
STARTUP_SECONDS = 60.0
# Heartbeat rows of supervisors that died without removing theirs are dropped after this.
STALE_HEARTBEAT = timedelta(days=1)


def new_token(kind: str) -> str:
    return f"{kind}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]


def open_heartbeat(token: str) -> None:
    WorkerHeartbeat.objects.filter(created_at__lt=timezone.now() - STALE_HEARTBEAT).delete()
    WorkerHeartbeat.objects.get_or_create(token=token)


def close_heartbeat(token: str) -> None:
    WorkerHeartbeat.objects.filter(token=token).delete()


def answered_seq(token: str) -> int:
    return WorkerHeartbeat.objects.filter(token=token).values_list("answered_seq", flat=True).first() or 0


def send_ping(token: str, seq: int) -> None:
    """Queue ping `seq` for `token` through the broker, as any other task is queued."""
    from django_q.tasks import async_task

    # Not saved as a result: pings would push real task results out of django-q's history. Its
    # "Enqueued" line does not name the task, so it is left out here (see log_filters.QuietPings).
    queue_log = logging.getLogger("django-q")
    level = queue_log.level
    queue_log.setLevel(logging.WARNING)
    try:
        async_task("generation.tasks.ping", token, seq, save=False, timeout=30)
    finally:
        queue_log.setLevel(level)


def answer_ping(token: str, seq: int) -> None:
    """Record that ping `seq` of `token` was answered. Only raises the answered number, so a late
    or repeated answer changes nothing; a token whose row is gone (its prober stopped) is ignored."""
    WorkerHeartbeat.objects.filter(token=token, answered_seq__lt=seq).update(
        answered_seq=seq, answered_at=timezone.now(), answered_by=f"{socket.gethostname()}:{os.getpid()}"
    )


def wait_for_answer(token: str, seq: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answered_seq(token) >= seq:
            return True
        time.sleep(0.1)
    return answered_seq(token) >= seq


# --- Worker states, written by the cluster's workers -------------------------------------------


def record_worker_states(directory: Path) -> None:
    """In the cluster's main process, before it forks: make each worker keep the file
    `directory/<pid>` saying "busy" or "idle" and since when (monotonic clock, shared by every
    process of the machine)."""
    from django_q.signals import post_execute_in_worker, post_spawn, pre_execute

    def write(state: str) -> None:
        path = directory / str(os.getpid())
        scratch = directory / f".{os.getpid()}"
        scratch.write_text(f"{state} {time.monotonic()}")
        os.replace(scratch, path)

    post_spawn.connect(lambda **kwargs: write("idle"), weak=False, dispatch_uid="worker_state_spawn")
    pre_execute.connect(lambda **kwargs: write("busy"), weak=False, dispatch_uid="worker_state_busy")
    post_execute_in_worker.connect(
        lambda **kwargs: write("idle"), weak=False, dispatch_uid="worker_state_idle"
    )


@dataclass(frozen=True)
class WorkerState:
    pid: int
    is_busy: bool
    since: float


def read_worker_states(directory: Path, pgid: int) -> list[WorkerState]:
    """The states of the live workers of process group `pgid`; files of dead workers are removed."""
    states = []
    for path in directory.iterdir():
        if not path.name.isdigit():
            continue
        pid = int(path.name)
        try:
            alive = os.getpgid(pid) == pgid
            state, since = path.read_text().split()
        except (ProcessLookupError, FileNotFoundError, ValueError):
            alive = False
        if not alive:
            path.unlink(missing_ok=True)
            continue
        states.append(WorkerState(pid=pid, is_busy=state == "busy", since=float(since)))
    return states


def watch_parent(parent_pid: int) -> None:
    """In the cluster's main process: kill the whole cluster if its supervisor dies (a supervisor
    killed with SIGKILL cannot stop it), so that no orphan cluster outlives it."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1)
        os.killpg(os.getpgid(0), signal.SIGKILL)

    threading.Thread(target=watch, name="watch-supervisor", daemon=True).start()


# --- The supervisor ----------------------------------------------------------------------------


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    """Runs `manage.py workers --child` and restarts it when it dies or wedges; `run()` returns
    once stopped by SIGTERM or SIGINT."""

    def __init__(
        self,
        *,
        interval: float | None = None,
        timeout: float | None = None,
        stop_seconds: float | None = None,
    ) -> None:
        self.interval = settings.WORKER_PING_INTERVAL if interval is None else interval
        self.timeout = settings.WORKER_PING_TIMEOUT if timeout is None else timeout
        self.stop_seconds = settings.WORKER_STOP_SECONDS if stop_seconds is None else stop_seconds
        # A task may legitimately keep every worker busy this long (django-q kills it then).
        self.busy_limit = settings.Q_CLUSTER["timeout"] + self.timeout
        self.token = new_token("supervisor")
        self.stopping = threading.Event()
        self.child: subprocess.Popen | None = None
        self.seq = 0
        self.pending: dict[int, float] = {}
        self.excused: set[int] = set()

    def run(self) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="videogen-workers-"))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        open_heartbeat(self.token)
        pause = 1.0
        try:
            while not self.stopping.is_set():
                started = time.monotonic()
                self._start_child()
                reason = self._watch()
                if reason is None:
                    break
                log.warning("Restarting the worker cluster: %s.", reason)
                kill_group(self.child.pid)
                self.child.wait()
                if time.monotonic() - started > RESTART_RESET_SECONDS:
                    pause = 1.0
                self.stopping.wait(pause)
                pause = min(pause * 2, MAX_RESTART_PAUSE)
        finally:
            self._stop_child()
            shutil.rmtree(self.state_dir, ignore_errors=True)
            close_heartbeat(self.token)

    def _start_child(self) -> None:
        for path in self.state_dir.iterdir():
            path.unlink(missing_ok=True)
        command = [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "workers",
            "--child",
            "--state-dir",
            str(self.state_dir),
        ]
        self.child = subprocess.Popen(command, start_new_session=True)
        self.started_at = time.monotonic()
        self.pending.clear()
        self.excused.clear()
        self.is_up = False
        log.info("Worker cluster started (pid %d); pinging every %g s.", self.child.pid, self.interval)

    def _watch(self) -> str | None:
        """Wait until the child must be restarted (returns why) or the supervisor is stopped."""
        while not self.stopping.wait(min(0.25, self.interval / 2)):
            code = self.child.poll()
            if code is not None:
                return f"it exited with status {code}"
            try:
                reason = self._check_pings()
            except Exception:
                # The database or the broker is away: the cluster cannot work either, and
                # restarting it would not help; try again next round.
                log.exception("Could not ping the worker cluster")
                close_old_connections()
                continue
            if reason:
                return reason
        return None

    def _check_pings(self) -> str | None:
        now = time.monotonic()
        if not self.is_up:
            # Pings start once a worker is up: a slow start (a loaded machine, a far database)
            # is not a wedge.
            if not read_worker_states(self.state_dir, self.child.pid):
                if now - self.started_at > STARTUP_SECONDS:
                    return f"no worker started within {STARTUP_SECONDS:.0f} s"
                return None
            self.is_up = True
            self.next_ping = now
        if now >= self.next_ping:
            self.seq += 1
            self.pending[self.seq] = now
            self.next_ping = now + self.interval
            send_ping(self.token, self.seq)
        if not self.pending:
            return None
        answered = answered_seq(self.token)
        # A later ping answered means the queue is served: earlier ones went to a slower worker.
        for seq in [s for s in self.pending if s <= answered]:
            del self.pending[seq]
        if not self.pending:
            return None
        oldest = min(self.pending)
        waited = now - self.pending[oldest]
        if waited < self.timeout:
            return None
        states = read_worker_states(self.state_dir, self.child.pid)
        if not states:
            return f"ping {oldest} unanswered after {waited:.0f} s and no worker is alive"
        idle = [s for s in states if not s.is_busy and now - s.since >= self.timeout]
        if idle:
            return (
                f"ping {oldest} unanswered after {waited:.0f} s while {len(idle)} of its "
                f"{len(states)} workers sat idle (the task queue is wedged)"
            )
        if waited >= self.busy_limit:
            return f"ping {oldest} unanswered after {waited:.0f} s, longer than any task may take"
        if oldest not in self.excused:
            self.excused.add(oldest)
            log.info("Ping %d waits behind %d busy workers.", oldest, len(states))
        return None

    def _stop_child(self) -> None:
        child = self.child
        if child is None:
            return
        if child.poll() is None:
            # The cluster's main process stops it gracefully: workers finish the task they run.
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                log.warning("The worker cluster did not stop within %g s: killing it.", self.stop_seconds)
        # Whatever is left of the group (a wedged pool, an ffmpeg a task started) goes too.
        kill_group(child.pid)
        child.wait()
