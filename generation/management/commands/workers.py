"""Run the background workers under a supervisor: `manage.py workers`.

The supervisor (generation/supervisor.py) runs the django-q cluster as its child, pings it through
the task queue, and kills and restarts it when it dies or wedges. `--child` is the cluster itself,
as the supervisor starts it; run by hand it is a plain qcluster that nothing watches."""

import os
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from generation import startup, supervisor


class Command(BaseCommand):
    help = "Run the django-q cluster under a supervisor that restarts it when it dies or wedges."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--child", action="store_true", help="Run the cluster itself (the supervisor starts this)."
        )
        parser.add_argument(
            "--state-dir", type=Path, default=None, help="Where workers record whether they are busy."
        )

    def handle(self, *args: Any, child: bool, state_dir: Path | None, **options: Any) -> None:
        startup.check_runway_configured()
        if not child:
            supervisor.Supervisor().run()
            return
        if state_dir is not None:
            supervisor.record_worker_states(state_dir)
            supervisor.watch_parent(os.getppid())
        call_command("qcluster")
