"""Run the whole studio in the foreground: web server, background workers, Runway poller and,
without RUNWAY_API_KEY, the Runway simulator. Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve the site and run the qcluster, the Runway poller and (without a key) the simulator."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Where the site listens.")
        parser.add_argument(
            "--gunicorn", action="store_true", help="Serve with gunicorn (production) instead of runserver."
        )
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes.")

    def handle(self, *args, addr: str, gunicorn: bool, web_workers: int, **options) -> None:
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
            [*manage, "qcluster"],
            [*manage, "runway_poller"],
        ]
        if gunicorn:
            commands.append(
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "videogen.wsgi",
                    "--bind",
                    addr,
                    "--workers",
                    str(web_workers),
                    "--access-logfile",
                    "-",
                ]
            )
        else:
            commands.append([*manage, "runserver", addr, "--noreload"])
        # A TERM (from a supervisor or `timeout`) stops the children like Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
        children = [subprocess.Popen(cmd, env=env) for cmd in commands]
        self.stdout.write(f"Studio running on http://{addr}/ (Ctrl-C stops everything).")
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [c.args[2] for c in children if c.returncode not in (0, -signal.SIGINT, None)]
        if failed:
            self.stderr.write(f"Stopped because {', '.join(failed)} exited.")
