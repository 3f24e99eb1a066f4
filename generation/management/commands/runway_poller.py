"""The poller: one sweep over all in-flight Runway tasks per interval (one GET each), plus
recovery of work whose worker died. Runs beside `qcluster`; several may run (one per host)."""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from generation import pipeline, runway

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Poll Runway for in-flight takes and recover stalled work, until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one sweep and exit.")

    def handle(self, *args, once: bool, **options) -> None:
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        # Takes carry their own next poll time; waking often keeps the delay after it short.
        interval = min(settings.RUNWAY_POLL_INTERVAL, 0.25)
        # One client (one connection pool) for every sweep; GETs are not retried within a sweep.
        client = runway.client_from_settings(max_retries=0)
        next_recover = 0.0
        while not stopping:
            started = time.monotonic()
            close_old_connections()
            try:
                pipeline.poll_once(client=client)
                if started >= next_recover:
                    pipeline.recover(client=client)
                    next_recover = started + settings.PIPELINE_RECOVER_INTERVAL
            except Exception:
                log.exception("Poller sweep failed")
            if once:
                return
            time.sleep(max(0.05, interval - (time.monotonic() - started)))
