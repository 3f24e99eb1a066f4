"""django-q2 entry points. Each takes a primary key, and the service it calls returns early when
the row's state has moved on, so running a task twice is harmless."""

from django.conf import settings

from generation import finishing, pipeline, reconcile, runway, supervisor


def advance_sequence(sequence_pk: int) -> None:
    """Submit what can go next, or assemble, or mark the sequence failed."""
    pipeline.advance_sequence(sequence_pk, client=runway.client_from_settings())


def submit_take(take_pk: int) -> None:
    """Send a queued take to Runway (claimed: only one worker submits it)."""
    pipeline.submit_take(take_pk, client=runway.client_from_settings())


def finish_take(take_pk: int) -> None:
    """Download, check and settle a take that Runway finished."""
    pipeline.finish_take(take_pk, client=runway.client_from_settings())


def assemble_sequence(sequence_pk: int) -> None:
    """Concatenate the chosen takes into the film."""
    pipeline.assemble_sequence(sequence_pk)


def reconcile_usage_task(days: int | None = None) -> str:
    """Daily: compare the ledger with Runway's usage report, store the rows, mail admins about
    differences. Returns the summary line (kept as django-q's task result). Running it twice
    stores the same rows; while a difference lasts, every run mails it again."""
    days = settings.RECONCILE_DAYS if days is None else days
    return reconcile.summary(reconcile.reconcile_usage(days=days), days=days)


def join_master(version_pk: int) -> None:
    """Join the finished parts of a film version's 4K master, once all are made."""
    finishing.join_master(version_pk)


def ping(token: str, seq: int) -> None:
    """Answer a worker supervisor's (or `worker_health`'s) ping: proves that a worker of the queue
    takes tasks. Running it twice, or late, changes nothing."""
    supervisor.answer_ping(token, seq)
