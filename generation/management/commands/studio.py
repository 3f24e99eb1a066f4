"""Run the whole studio in the foreground: web server, background workers (supervised, see
generation/supervisor.py), Runway poller and, without RUNWAY_API_KEY, the Runway simulator. Ctrl-C
or SIGTERM stops them all within a bounded time: each child runs in its own process group, and a
group that has not stopped by then is killed."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from generation import startup

# How long the web server, the poller and the simulator get to stop after SIGTERM; the workers get
# WORKER_STOP_SECONDS on top, as their supervisor gives the cluster that long to finish its tasks.
STOP_SECONDS = 5.0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "Serve the site and run the supervised workers, the Runway poller and (without a key) the simulator."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Where the site listens.")
        parser.add_argument(
            "--gunicorn", action="store_true", help="Serve with gunicorn (production) instead of runserver."
        )
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes.")
        parser.add_argument("--web-threads", type=int, default=8, help="Threads per gunicorn worker.")

    def handle(self, *args, addr: str, gunicorn: bool, web_workers: int, web_threads: int, **options) -> None:
        startup.check_runway_configured()
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        env = dict(os.environ)
        commands: list[list[str]] = []
        if settings.RUNWAY_SIMULATED:
            commands.append([*manage, "runway_simulator", "--port", str(settings.RUNWAY_SIMULATOR_PORT)])
            env.setdefault("RUNWAY_API_BASE", settings.RUNWAY_API_BASE)
            self.stdout.write(
                f"Simulating Runway at {settings.RUNWAY_API_BASE} (set RUNWAY_API_KEY to use Runway)."
            )
        commands += [
            [*manage, "workers"],
            [*manage, "runway_poller"],
        ]
        if gunicorn:
            commands.append(gunicorn_command(addr, workers=web_workers, threads=web_threads))
        else:
            commands.append([*manage, "runserver", addr, "--noreload"])
        # A TERM (from systemd or `timeout`) stops the children like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        # Each child leads its own process group, so that what it started (a gunicorn worker, an
        # ffmpeg) can be killed with it; a Ctrl-C in the terminal reaches only this process.
        children = [subprocess.Popen(cmd, env=env, start_new_session=True) for cmd in commands]
        self.stdout.write(f"Studio running on http://{addr}/ (Ctrl-C stops everything).")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            stop_children(children, seconds=STOP_SECONDS + settings.WORKER_STOP_SECONDS)
        failed = [_name(c) for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
        if failed:
            self.stderr.write(f"Stopped because {', '.join(failed)} exited.")


def gunicorn_command(addr: str, *, workers: int, threads: int) -> list[str]:
    """gunicorn with threaded workers (videogen/gunicorn.conf.py), so slow clients cannot starve it."""
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "videogen.wsgi",
        "--config",
        str(settings.BASE_DIR / "videogen" / "gunicorn.conf.py"),
        "--bind",
        addr,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]


def _name(child: subprocess.Popen) -> str:
    return child.args[2] if child.args[1].endswith("manage.py") else Path(child.args[0]).name


def stop_children(children: list[subprocess.Popen], *, seconds: float) -> None:
    """SIGTERM each child, wait up to `seconds` for all, then SIGKILL the process group of each."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + seconds
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.wait()
