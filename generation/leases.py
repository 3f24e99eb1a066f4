"""Leases on claimed work that follow their holder.

A worker claims a row (a take to send or save, a sequence to assemble, a master to join) with a
compare-and-set UPDATE that writes a short lease (`claimed_until`, PIPELINE_LEASE_SECONDS from
now) and a token of its own (`claim_token`). While it works it holds the lease (`hold`): a daemon
thread renews it every third of the lease, by compare-and-set on the token, so a live holder is
never taken over however long its download or ffmpeg run lasts, and a dead one's lease lapses
within one lease. The poller's recovery then queues the work again, and the next claim takes it
over (recording `taken_over_at`, which the pages show).

The holder writes its outcome only through `Claim.rows()`, the row while its token is still there:
a holder that was taken over (its renewals stalled) writes nothing, so the same work is never
recorded twice. Releasing a claim clears both the lease and the token (`RELEASED`).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass
from types import TracebackType

from django.conf import settings
from django.db import connection, connections, models
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

log = logging.getLogger(__name__)

# What an outcome writes with its other fields: nobody holds the row any more.
RELEASED = {"claimed_until": None, "claim_token": ""}


def new_token() -> str:
    return secrets.token_hex(8)


def lease_until(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) + dt.timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


@dataclass(frozen=True)
class Claim:
    """One worker's claim on one row (a Take or a projects.Sequence): its token proves it is ours."""

    model: type[models.Model]
    pk: int
    token: str

    def rows(self, **filters) -> models.QuerySet:
        """The claimed row while it is still ours (and matches `filters`): outcomes update this."""
        return self.model.objects.filter(pk=self.pk, claim_token=self.token, **filters)

    def release(self, **filters) -> bool:
        """Give the row up without writing an outcome (a failure to be tried again). False if it was
        no longer ours."""
        return bool(self.rows(**filters).update(**RELEASED))

    def is_ours(self) -> bool:
        return self.rows().exists()


def claim(model: type[models.Model], pk: int, *conditions: Q, **filters) -> Claim | None:
    """Claim a row that nobody holds, or whose holder's lease lapsed (it died): then the row records
    when it was taken over. None when another worker holds it or the row does not match."""
    now = timezone.now()
    token = new_token()
    claimed = model.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), *conditions, pk=pk, **filters
    ).update(
        claimed_until=lease_until(now),
        claim_token=token,
        # A lease still set but lapsed was never released: its holder stopped mid-work.
        taken_over_at=Case(When(claimed_until__isnull=False, then=Value(now)), default=F("taken_over_at")),
    )
    return Claim(model, pk, token) if claimed else None


class hold:  # noqa: N801 - used as a verb: `with leases.hold(claim) as held:`
    """Renew a claim's lease from a daemon thread while the block runs; stop on exit.

    The thread renews every third of the lease (or `every` seconds) with its own database
    connection, which it closes when it stops. A renewal that finds the token gone means another
    worker took the work over: `lost` becomes true, renewals stop, and the holder must not write
    its outcome (its compare-and-set on the token would fail anyway).
    """

    def __init__(self, claim: Claim, *, every: float | None = None) -> None:
        self.claim = claim
        self.every = every if every is not None else settings.PIPELINE_LEASE_SECONDS / 3
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._thread: threading.Thread | None = None
        self.renewals = 0

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def __enter__(self) -> hold:
        # Inside a transaction (only tests run the pipeline so) the claim is not visible to another
        # connection, and a renewal would wait on the row lock until the transaction ends.
        if not connection.in_atomic_block:
            self._thread = threading.Thread(
                target=self._run, name=f"lease-{self.claim.model.__name__}-{self.claim.pk}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                if not self.renew():
                    self._lost.set()
                    if not self._stop.is_set():  # not the holder's own outcome, written just now
                        log.warning("Lost the lease on %s %s: another worker took it over",
                                    self.claim.model.__name__, self.claim.pk)  # fmt: skip
                    return
        finally:
            connections.close_all()

    def renew(self) -> bool:
        """Push the lease one length ahead if the claim is still ours."""
        try:
            renewed = self.claim.rows().update(claimed_until=lease_until())
        except Exception:
            # A database hiccup: keep the lease as it is and try again at the next beat; the lease
            # is three beats long.
            log.exception("Could not renew the lease on %s %s", self.claim.model.__name__, self.claim.pk)
            connection.close()
            return True
        if renewed:
            self.renewals += 1
        return bool(renewed)
