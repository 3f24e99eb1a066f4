"""`manage.py studio` and the commands it runs: with DEBUG off and no Runway key they refuse to
start unless simulation is asked for, and a SIGTERM stops the whole studio within a bounded time
even when its worker cluster is wedged."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import MANAGE, cluster_env, wait_for
from tests.test_workers_supervisor import Supervised, _children, _group_alive


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RUNWAY_API_KEY", "RUNWAY_SIMULATE")}
    return {**env, "DEBUG": "False", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "localhost", **extra}


@pytest.mark.parametrize("command", ["studio", "workers", "runway_simulator"])
def test_without_a_key_in_production_it_refuses_to_simulate(command):
    result = subprocess.run(
        [sys.executable, MANAGE, command], env=production_env(), capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1
    assert "RUNWAY_API_KEY is not set" in result.stderr
    assert "RUNWAY_SIMULATE=true" in result.stderr


@pytest.mark.parametrize("env", [production_env(RUNWAY_SIMULATE="true"), {**os.environ, "DEBUG": "True"}])
def test_simulation_asked_for_or_in_debug_starts(env):
    env = {k: v for k, v in env.items() if k != "RUNWAY_API_KEY"}
    proc = subprocess.Popen(
        [sys.executable, MANAGE, "runway_simulator", "--port", str(free_port())],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert "listening on" in proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class _Pid:
    def __init__(self, pid: int) -> None:
        self.pid = pid


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_stops_the_studio_with_a_wedged_cluster(settings, runway, tmp_path):
    env = cluster_env(settings, runway)
    # Pings would take a minute to count as unanswered: the cluster stays wedged until the stop.
    env.update({"WORKER_PING_INTERVAL": "0.5", "WORKER_PING_TIMEOUT": "60", "WORKER_STOP_SECONDS": "2"})
    log = (tmp_path / "workers.log").open("ab")
    studio = subprocess.Popen(
        [sys.executable, MANAGE, "studio", "--addr", f"127.0.0.1:{free_port()}"],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        view = Supervised(env, tmp_path)

        def supervisor() -> int | None:
            return next((p for p in _children(studio.pid) if b"workers" in _cmdline(p)), None)

        view.procs["workers"] = _Pid(wait_for(supervisor, timeout=60, what="the workers' supervisor"))
        view.kill_queue_reader()
        groups = _children(studio.pid) + [view.cluster_pid()]

        studio.send_signal(signal.SIGTERM)

        # 5 s for the web server and the poller plus WORKER_STOP_SECONDS; a studio that waited on
        # its wedged cluster would never return.
        studio.wait(timeout=30)
        wait_for(
            lambda: not any(_group_alive(g) for g in groups), timeout=10, what="every child's processes to go"
        )
    finally:
        if studio.poll() is None:
            os.killpg(studio.pid, signal.SIGKILL)
            studio.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""
