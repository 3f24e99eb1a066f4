"""Runway's tier limits as the organisation reports them (GET /v1/organization): daily generations
and concurrency, shared by every model of one kind (video, image, audio; runway-api.md section 9).

The organisation is read through `generation.runway` and kept in the cache for
ORGANIZATION_CACHE_SECONDS, so a page or a sweep does not call Runway each time. Reading it is a
call to Runway: never inside a transaction. When it cannot be read, nothing is refused here (a
create beyond the cap still answers 429, which the pipeline waits out).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.template.defaultfilters import pluralize

from generation import catalog, runway

log = logging.getLogger(__name__)

ORGANIZATION_CACHE_SECONDS = 30


@dataclass(frozen=True)
class KindLimits:
    """One kind's limits and today's use: None means Runway states no limit."""

    kind: str
    max_daily: int | None
    used_today: int
    max_concurrent: int | None

    @property
    def remaining_today(self) -> int | None:
        return None if self.max_daily is None else max(0, self.max_daily - self.used_today)


class DailyLimitReached(Exception):
    """A run needs more generations of a kind than Runway's daily limit leaves today. Nothing was
    held. `choices` are what the user may do instead: hold the run until the limit resets ("wait"),
    or run the part that fits now ("fit", absent when nothing fits)."""

    def __init__(self, limits: KindLimits, *, needed: int, fit_credits: int | None = None) -> None:
        self.limits = limits
        self.needed = needed
        self.fits = limits.remaining_today or 0
        self.fit_credits = fit_credits
        message = (
            f"Runway allows {limits.max_daily} {limits.kind} generation{pluralize(limits.max_daily)} a day on "
            f"this account; {limits.used_today} {'is' if limits.used_today == 1 else 'are'} used; this run "
            f"needs {needed}."
        )
        super().__init__(message)
        self.message = message
        self.choices: list[tuple[str, str]] = [
            ("wait", "Hold the run: what does not fit today is sent when Runway's daily limit resets")
        ]
        if self.fits:
            cost = f" for {fit_credits} credits" if fit_credits is not None else ""
            self.choices.append(("fit", f"Run the first {self.fits} now{cost}, the rest later"))


def _cache_key(client: runway.RunwayClient) -> str:
    return f"runway-organization:{client.origin}"


def organization(
    client: runway.RunwayClient | None = None, *, fresh: bool = False
) -> runway.Organization | None:
    """The organisation's balance, tier limits and daily use, at most ORGANIZATION_CACHE_SECONDS
    old (`fresh`: read now); None when Runway cannot be asked."""
    # One attempt: a page or a sweep does not wait through retries for figures it can do without.
    client = client or runway.client_from_settings(max_retries=0)
    key = _cache_key(client)
    if not fresh:
        kept = cache.get(key)
        if kept is not None:
            return kept
    try:
        org = client.organization()
    except runway.RunwayError as exc:
        log.info("Runway's organisation could not be read: %s", exc)
        return None
    cache.set(key, org, ORGANIZATION_CACHE_SECONDS)
    return org


def forget_organization(client: runway.RunwayClient | None = None) -> None:
    """Drop the kept organisation (after a 429 or a new day, its figures are stale)."""
    cache.delete(_cache_key(client or runway.client_from_settings()))


def kind_limits(org: runway.Organization, kind: str) -> KindLimits | None:
    """A kind's limits from the organisation: the daily cap and concurrency its models report
    (shared, so the smallest stated one), and its models' daily generations added up. None when
    the organisation lists no model of the kind."""
    models = [limits for name, limits in org.models.items() if catalog.model_kind(name) == kind]
    if not models:
        return None
    daily = [m.max_daily for m in models if m.max_daily is not None]
    concurrent = [m.max_concurrent for m in models if m.max_concurrent is not None]
    return KindLimits(
        kind=kind,
        max_daily=min(daily) if daily else None,
        used_today=sum(m.daily_generations for m in models),
        max_concurrent=min(concurrent) if concurrent else None,
    )


def limits_for(kind: str, client: runway.RunwayClient | None = None) -> KindLimits | None:
    org = organization(client)
    return kind_limits(org, kind) if org is not None else None


def concurrency_limit(kind: str, client: runway.RunwayClient | None = None) -> int | None:
    """How many tasks of a kind Runway runs at once for the organisation (None: no limit), else
    RUNWAY_MAX_CONCURRENCY when the organisation cannot be read or does not list the kind."""
    limits = limits_for(kind, client)
    if limits is None:
        return settings.RUNWAY_MAX_CONCURRENCY
    return limits.max_concurrent


def check_daily_room(needs: Mapping[str, int], *, client: runway.RunwayClient | None = None) -> None:
    """Raise DailyLimitReached for the first kind whose `needs` (generations) exceed what Runway's
    daily limit leaves today. The organisation may be up to ORGANIZATION_CACHE_SECONDS old: a
    create beyond the limit still answers 429, which the pipeline waits out."""
    wanted = {kind: n for kind, n in needs.items() if n > 0}
    if not wanted:
        return
    org = organization(client)
    if org is None:
        return
    for kind, needed in wanted.items():
        limits = kind_limits(org, kind)
        remaining = limits.remaining_today if limits is not None else None
        if remaining is not None and needed > remaining:
            raise DailyLimitReached(limits, needed=needed)
