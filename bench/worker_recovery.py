"""How long the studio's workers take to run tasks again after the worker waiting on the task queue
is killed with SIGKILL (as an OOM kill would), which wedges a plain django-q cluster for good.

Runs `manage.py studio` (runserver, the supervised workers, the poller, the simulator) on a scratch
database with the default WORKER_PING_INTERVAL and WORKER_PING_TIMEOUT, kills the idle worker
that holds the queue's read lock, and from then on queues a ping every second: the figure is the
time from the death to the first answer. Prints one line per round.

    .venv/bin/python bench/worker_recovery.py [--rounds 3] [--database-url postgres://...]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import time
from pathlib import Path

from _common import Child, manage, migrate, scratch_database, setup_django, temp_folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    try:
        return sorted(
            int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()
        )
    except FileNotFoundError:
        return []


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def queue_reader(studio: Child) -> int | None:
    """The idle worker in a pipe read on the task queue (the others wait on its lock)."""
    ready = {
        int(p) for p in re.findall(r"ready for work at (\d+)", studio.log_path.read_text(errors="replace"))
    }
    supervisors = [p for p in children(studio.pid) if cmdline(p).endswith("manage.py workers ")]
    for supervisor in supervisors:
        for cluster in children(supervisor):
            for sentinel in children(cluster):
                for pid in children(sentinel):
                    try:
                        if pid in ready and "pipe" in Path(f"/proc/{pid}/wchan").read_text():
                            return pid
                    except FileNotFoundError:
                        pass
    return None


def wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def one_round(studio: Child, number: int) -> float:
    from generation import supervisor

    def steady_reader() -> int | None:
        # The same worker in the read twice, a moment apart: not one about to run a ping.
        first = queue_reader(studio)
        time.sleep(0.3)
        return first if first and queue_reader(studio) == first else None

    reader = wait(steady_reader, 120, "an idle worker on the queue")
    token = supervisor.new_token("bench")
    supervisor.open_heartbeat(token)
    try:
        os.kill(reader, signal.SIGKILL)
        died = time.monotonic()
        seq = 0
        next_ping = died
        while time.monotonic() - died < 300:
            if time.monotonic() >= next_ping:
                seq += 1
                supervisor.send_ping(token, seq)
                next_ping += 1.0
            if supervisor.answered_seq(token) > 0:
                recovered = time.monotonic() - died
                print(f"round {number}: worker {reader} killed; a ping was answered {recovered:.1f} s later")
                return recovered
            time.sleep(0.1)
        raise SystemExit("no ping answered within 300 s of the kill")
    finally:
        supervisor.close_heartbeat(token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with temp_folder("vg-bench-recovery-") as folder:
        folder = Path(folder)
        with scratch_database(args.database_url, folder=folder) as url:
            env = {
                "DATABASE_URL": url,
                "MEDIA_ROOT": str(folder / "media"),
                "Q_NAME": f"bench-recovery-{os.getpid()}",
                "RUNWAY_SIMULATOR_PORT": str(free_port()),
                "DEBUG": "True",
            }
            setup_django(**env)
            migrate()
            from django.conf import settings

            print(
                f"pings every {settings.WORKER_PING_INTERVAL:g} s, answered within "
                f"{settings.WORKER_PING_TIMEOUT:g} s; {settings.Q_CLUSTER['workers']} workers"
            )
            child_env = {k: v for k, v in os.environ.items() if k != "RUNWAY_API_KEY"}
            studio = Child(
                "studio",
                manage("studio", "--addr", f"127.0.0.1:{free_port()}"),
                env=child_env,
                log_dir=folder,
            )
            try:
                figures = [one_round(studio, n + 1) for n in range(args.rounds)]
            finally:
                studio.stop(timeout=40)
            print(f"death to work resumed: min {min(figures):.1f} s, max {max(figures):.1f} s")


if __name__ == "__main__":
    main()
