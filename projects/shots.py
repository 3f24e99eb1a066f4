"""Changing a sequence's shots, which is allowed only while nothing generates them.

The rule is checked on the sequence row locked (SELECT ... FOR UPDATE; on SQLite the IMMEDIATE
transaction takes the write lock), in the transaction that makes the change. `pipeline.start_sequence`
claims the sequence with an UPDATE of that same row, so a change and a start are serialised: a change
either lands before the start, which then estimates and holds for the shots as changed, or sees the
sequence generating and is refused. Checked outside the lock, a delete could remove a shot, and with
it a take, that a start had just queued and holds credits for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from generation import credits
from projects.forms import ShotForm
from projects.models import Sequence, Shot

# While a sequence is in one of these, its shots are being made or assembled into the film.
GENERATING = (Sequence.Status.RUNNING, Sequence.Status.ASSEMBLING)


class SequenceIsGenerating(Exception):
    """The shots cannot change now; the message says what to do instead."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "This sequence is generating. Wait for it to finish, or cancel it, before editing."
        )


@contextmanager
def _editable(sequence_id: int) -> Iterator[Sequence]:
    """The sequence, locked until the block's changes commit; SequenceIsGenerating if it is busy."""
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=sequence_id)
        if sequence.status in GENERATING:
            raise SequenceIsGenerating()
        yield sequence


def save_shot(form: ShotForm) -> Shot:
    """Save a validated ShotForm of an existing shot. Raises SequenceIsGenerating, saving nothing."""
    with _editable(form.instance.sequence_id):
        return form.save()


def delete_shot(shot: Shot) -> None:
    """Delete the shot with its takes and their clips.

    Raises SequenceIsGenerating, deleting nothing, while the sequence generates or while one of the
    shot's takes still holds credits (a cancelled take that is still being sent to Runway, or one
    waiting for an admin to confirm what Runway did): its hold must be closed by the take first.
    """
    with _editable(shot.sequence_id):
        if credits.open_holds().filter(take__shot=shot).exists():
            raise SequenceIsGenerating(
                f"{shot} still has credits held for a take that Runway has not confirmed yet. "
                "Try again in a minute."
            )
        shot.delete()
