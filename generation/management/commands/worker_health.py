"""Exit 0 if a worker answers a ping through the task queue in time, 1 if not (a liveness probe):
`manage.py worker_health [--timeout S]`."""

import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from generation import supervisor


class Command(BaseCommand):
    help = "Ping the background workers through the task queue; exit 1 if none answers in time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout",
            type=float,
            default=settings.WORKER_PING_TIMEOUT,
            help="Seconds to wait for the answer (default WORKER_PING_TIMEOUT).",
        )

    def handle(self, *args: Any, timeout: float, **options: Any) -> None:
        token = supervisor.new_token("health")
        supervisor.open_heartbeat(token)
        started = time.monotonic()
        try:
            supervisor.send_ping(token, 1)
            answered = supervisor.wait_for_answer(token, 1, timeout=timeout)
        finally:
            supervisor.close_heartbeat(token)
        if answered:
            self.stdout.write(f"ok: a worker answered in {time.monotonic() - started:.1f} s")
            return
        self.stdout.write(f"unhealthy: no worker answered a ping within {timeout:g} s")
        sys.exit(1)
