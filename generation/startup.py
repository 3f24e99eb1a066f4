"""Checks that long-running processes make before they start."""

from django.conf import settings
from django.core.management.base import CommandError


def check_runway_configured() -> None:
    """Refuse to start when DEBUG is off and no RUNWAY_API_KEY is set, unless RUNWAY_SIMULATE asks
    for the simulator: a production deployment that lost its key must not quietly fake Runway and
    hand clients simulated films. With DEBUG on the simulator is the default and nothing changes."""
    if settings.DEBUG or not settings.RUNWAY_SIMULATED or settings.RUNWAY_SIMULATE:
        return
    raise CommandError(
        "DEBUG is off and RUNWAY_API_KEY is not set, so Runway would be simulated. "
        "Set RUNWAY_API_KEY to use Runway, or RUNWAY_SIMULATE=true to run the simulator on purpose."
    )
