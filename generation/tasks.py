"""django-q2 entry points. Each takes a primary key, and the service it calls returns early when
the row's state has moved on, so running a task twice is harmless."""

from generation import pipeline


def advance_sequence(sequence_pk: int) -> None:
    """Submit what can go next, or assemble, or mark the sequence failed."""
    pipeline.advance_sequence(sequence_pk)


def submit_take(take_pk: int) -> None:
    """Send a queued take to Runway (claimed: only one worker submits it)."""
    pipeline.submit_take(take_pk)


def finish_take(take_pk: int) -> None:
    """Download, check and settle a take that Runway finished."""
    pipeline.finish_take(take_pk)


def assemble_sequence(sequence_pk: int) -> None:
    """Concatenate the chosen takes into the film."""
    pipeline.assemble_sequence(sequence_pk)
