"""`manage.py` for the commands the tests start as child processes (helpers.Cluster): the same
commands, except that against the test simulator a take is polled every RUNWAY_POLL_INTERVAL.

A process with a RUNWAY_API_KEY keeps Runway's floor of RUNWAY_MIN_POLL_SECONDS (5 s) between polls
of a task (generation/pipeline.py, `_poll_delay`). The children are given the test simulator's key,
so without this every take would wait at least 5 s for its first poll. TEST_RUNWAY_MIN_POLL_SECONDS
sets the floor; the django-q workers fork from the cluster after it is set, so they keep it."""

import os
import sys
from pathlib import Path

# Run as a script, this file's folder is first on the path; the project's root is where it looks.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import django  # noqa: E402


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videogen.settings")
    django.setup()
    from django.core.management import execute_from_command_line

    from generation import pipeline

    floor = os.environ.get("TEST_RUNWAY_MIN_POLL_SECONDS")
    if floor is not None:
        pipeline.RUNWAY_MIN_POLL_SECONDS = float(floor)
    execute_from_command_line(["manage.py", *sys.argv[1:]])


if __name__ == "__main__":
    main()
