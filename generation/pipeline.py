"""The sequence state machine: start, submit, poll, finish, advance, assemble, retake, cancel.

State lives in the database; queued work (django-q2) only says "look at row N again", so every
task may run twice and any process may die at any point:
- work is claimed with compare-and-set UPDATEs, and acted on only if exactly one row changed;
- Runway and ffmpeg are never called inside a transaction: save the intent, commit, call, save
  the outcome;
- the poller (`manage.py runway_poller`) sweeps in-flight takes at Runway's cadence and also
  re-enqueues work whose claim lapsed (a worker killed mid-download or mid-assembly).

Money: a sequence holds its whole estimate (one hold per take) before its first Runway call;
a take settles at Runway's reported cost when it succeeds and releases its hold otherwise. Where
nobody can know what Runway charged (a create with no answer, a cancel Runway may have found
running) the hold stays open as "unconfirmed" until an admin resolves it.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, Sum
from django.utils import timezone
from PIL import Image

from generation import (
    alerts,
    catalog,
    credits,
    estimates,
    failures,
    keyframes,
    kinds,
    leases,
    media,
    notifications,
    runway,
    tiers,
)
from generation.estimates import (
    KeyframesEstimate,
    SequenceEstimate,
    ShotEstimate,
    build_keyframe_request,
    describe_keyframe,
    estimate_generation,
    estimate_keyframe_retake,
    estimate_keyframes,
    estimate_retake,
    estimate_shots,
    estimate_stale,
)
from generation.failures import Code
from generation.models import Take
from generation.runway import TaskStatus
from projects.models import FilmVersion, Keyframe, Project, Sequence, Shot, film_contents

T = TypeVar("T")
log = logging.getLogger(__name__)

Status = Take.Status
SeqStatus = Sequence.Status
ACTIVE = Take.ACTIVE
MAX_SUBMIT_ATTEMPTS = 5
MAX_DOWNLOAD_ATTEMPTS = 4
# Runway documents 502 and 503 as load shedding: the request was refused, not half-done.
LOAD_SHEDDING = (502, 503)
# How often recovery tries again to save an output Runway made but that could not be downloaded.
REFETCH_DELAY = dt.timedelta(minutes=10)
# Takes sent as soon as they are held, apart from a run (generation/kinds.py): keyframe images,
# narrations, master parts.
STANDALONE = Q(kind__in=[kind.value for kind in kinds.KINDS.values() if not kind.in_run])


class PipelineError(Exception):
    """A request the pipeline refuses, with a message a user can act on."""


DailyLimitReached = tiers.DailyLimitReached


class StoryboardNotApproved(PipelineError):
    """Video is not paid for: the project requires the client's approval of the storyboard, and
    none covers it as it is now. The message says which, and what to do."""


def require_storyboard_approval(sequence: Sequence, *, retake: bool = False) -> None:
    """Refuse (StoryboardNotApproved) to spend on video when the sequence's project requires the
    client's approval of the storyboard and none covers what is about to be made. Generate needs
    an approval of the storyboard and of the estimate as they are now. A retake or a regeneration
    of stale shots (`retake`) needs the shots to be those approved, prices aside: making a clip
    again of an approved shot is within the approval, while a changed prompt, duration or frame
    must be approved again. Reads only; every path that spends on video calls it before holding
    anything (keyframe images are part of the storyboard and are not gated)."""
    if not Project.objects.filter(pk=sequence.project_id, requires_storyboard_approval=True).exists():
        return
    state = estimates.storyboard_approval(sequence)
    approval = state["approval"]
    if approval is None:
        what = "a retake" if retake else "Generate"
        raise StoryboardNotApproved(
            f"This project needs the client's approval of the storyboard before {what} spends on "
            "video. Share the storyboard from the sequence page and ask the client to approve it."
        )
    if retake and state["shots_unchanged"]:
        return
    if not retake and state["state"] == "standing":
        return
    if not retake and state["state"] == "estimate":
        raise StoryboardNotApproved(
            f"The client approved the storyboard at {approval.estimate_credits} credits; the estimate "
            f"is now {state['estimate_credits']} credits. Ask the client to approve it again."
        )
    raise StoryboardNotApproved(
        "The storyboard changed since the client approved it. Ask the client to approve it again."
    )


def _daily_limit_recheck() -> dt.timedelta:
    # Runway's window is a rolling 24 hours, and it does not say when a slot frees up, so a take
    # waiting for it simply asks again now and then.
    return dt.timedelta(seconds=settings.RUNWAY_DAILY_LIMIT_RECHECK)


def current_origin(client: runway.RunwayClient | None = None) -> str:
    """This process's Runway (API base and key fingerprint): the takes and sequences it may touch."""
    return (client or runway.client_from_settings()).origin


def _ours(origin: str | None = None) -> Q:
    """Rows of this process's Runway (and rows from before origins were recorded)."""
    return Q(runway_origin__in=(origin or current_origin(), ""))


# --- starting work ------------------------------------------------------------------------------


def _new_take(shot: Shot, estimate: ShotEstimate, *, user, attempt: int = 0) -> Take:
    built, plan = estimate.built, estimate.plan
    return Take.objects.create(
        kind=Take.Kind.CLIP,
        sequence_id=shot.sequence_id,
        shot=shot,
        user=user,
        status=Status.QUEUED,
        endpoint=built.endpoint,
        request=built.body,
        notices=list(built.notices),
        estimated_credits=built.estimated_credits,
        attempt=attempt,
        first_frame_from=plan.first,
        first_frame_image=plan.first_image if plan.first == Take.FirstFrame.REFERENCE else None,
        last_frame_image=plan.last_image,
    )


def _copy_of(field_file) -> ContentFile:
    with field_file.open("rb") as fh:
        return ContentFile(fh.read())


def _create_takes(sequence: Sequence, shots: list[Shot], *, user, reason: str) -> list[Take]:
    """Create a queued take per shot and hold the credits for all of them, all or nothing.

    Must run inside a transaction. Raises PipelineError for a shot the catalog refuses and
    credits.InsufficientCredits when the holds do not fit.
    """
    estimate = estimate_shots(sequence, shots)
    if not estimate.shots:
        raise PipelineError("There are no shots to generate. Add a shot first.")
    return _hold_takes(sequence, estimate, user=user, reason=reason)


def _hold_takes(sequence: Sequence, estimate: SequenceEstimate, *, user, reason: str) -> list[Take]:
    """Create a queued take per estimated shot and hold exactly the estimate, all or nothing.

    Must run inside a transaction; raises as `_create_takes` does.
    """
    for e in estimate.shots:
        if any(
            k is not None and k.chosen_take_id is None for k in (e.plan.first_keyframe, e.plan.last_keyframe)
        ):
            raise PipelineError(f"Choose a keyframe image for shot {e.shot.position + 1} before generating.")
    errors = [f"Shot {e.shot.position + 1}: {e.error}" for e in estimate.shots if e.error]
    if errors:
        raise PipelineError(" ".join(errors))
    takes = [_new_take(e.shot, e, user=user) for e in estimate.shots]
    credits.reserve_many(
        user,
        holds=[{"credits": t.estimated_credits, "project": sequence.project, "take": t} for t in takes],
        reason=reason,
    )
    return takes


def start_sequence(
    sequence: Sequence, *, user, expected_credits: int | None = None, daily_limit: str | None = None
) -> list[Take]:
    """Validate, estimate and hold the shots to make (`estimate_generation`), then queue their
    first submissions. Shots with a valid chosen take keep it and cost nothing; when every shot
    has one, the film is only assembled again.

    Before anything is held, Runway's daily generation limit is checked (`tiers.check_daily_room`):
    a run that needs more clips than today leaves raises DailyLimitReached (with the figures and the
    choices), unless `daily_limit` says what to do: "wait" holds the whole run, and what Runway
    refuses today waits for the reset; "fit" holds and makes only the shots that fit today, in order.

    Nothing reaches Runway before the holds are written. Raises PipelineError (shot problems,
    already running, an estimate other than `expected_credits`, the amount the user confirmed;
    StoryboardNotApproved while the project waits for the client's approval),
    DailyLimitReached or credits.InsufficientCredits (with the amounts), writing nothing.
    Safe against double clicks: only one caller moves the sequence out of a startable state.
    """
    fits: int | None = None
    planned = estimate_generation(sequence)
    if planned.shots:
        require_storyboard_approval(sequence)
    if daily_limit != "wait":
        # Outside the transaction: this may ask Runway for the organisation.
        try:
            tiers.check_daily_room({catalog.VIDEO: len(planned.shots)})
        except tiers.DailyLimitReached as refusal:
            if daily_limit != "fit" or not refusal.fits:
                refusal.fit_credits = sum(e.credits for e in planned.shots[: refusal.fits])
                raise tiers.DailyLimitReached(
                    refusal.limits, needed=refusal.needed, fit_credits=refusal.fit_credits
                ) from None
            fits = refusal.fits
    with transaction.atomic():
        claimed = Sequence.objects.filter(pk=sequence.pk, status__in=Sequence.STARTABLE).update(
            status=SeqStatus.RUNNING,
            runway_origin=current_origin(),
            status_message="",
            started_by=user,
            started_at=timezone.now(),
            finished_at=None,
            claimed_until=None,
        )
        if not claimed:
            raise PipelineError(
                "This sequence is already generating or finished. Retake single shots instead."
            )
        sequence.refresh_from_db()
        if not sequence.shots.exists():
            raise PipelineError("There are no shots to generate. Add a shot first.")
        estimate = estimate_generation(sequence)
        check_expected(estimate.total_credits, expected_credits)
        if fits is not None:
            # The shots that fit today's limit, in order; the rest keep no take until generated again.
            estimate = SequenceEstimate(shots=estimate.shots[:fits])
        takes = []
        if estimate.shots:
            takes = _hold_takes(sequence, estimate, user=user, reason=f"Generate '{sequence.title}'")
        enqueue("advance_sequence", sequence.pk)
    return takes


def retake_shot(shot: Shot, *, user, expected_credits: int | None = None) -> Take:
    """Queue a new take of one shot, and in a stitched sequence of the later shots that need one
    (`estimate_retake`), holding all of them at once. The sequence runs again if idle (after a
    failure it goes on from the retake's new last frame). Returns the shot's new take.

    Raises PipelineError (already generating, assembling, an estimate other than
    `expected_credits`, StoryboardNotApproved) or credits.InsufficientCredits, writing nothing.
    """
    require_storyboard_approval(shot.sequence, retake=True)
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=shot.sequence_id)
        if shot.takes.filter(kind=Take.Kind.CLIP, status__in=ACTIVE).exists():
            raise PipelineError(f"Shot {shot.position + 1} is already generating.")
        if sequence.status == SeqStatus.ASSEMBLING:
            raise PipelineError("The film is being assembled; retake when it is done.")
        shot.sequence = sequence
        estimate = estimate_retake(shot)
        check_expected(estimate.total_credits, expected_credits)
        reason = f"Retake shot {shot.position + 1}"
        if len(estimate.shots) > 1:
            reason += " and the shots after it"
        take, *later = _hold_takes(sequence, estimate, user=user, reason=reason)
        _reopen(sequence, user=user, takes=[take, *later])
        enqueue("advance_sequence", sequence.pk)
    return take


def regenerate_stale_shots(sequence: Sequence, *, user, expected_credits: int | None = None) -> list[Take]:
    """Queue new takes for every stale shot and, in a stitched sequence, the shots made from its last
    frame (`estimate_stale`), holding all of them at once: one priced action, so that the film is
    assembled only once the whole chain is made again.

    Raises PipelineError (nothing stale, an estimate other than `expected_credits`, the amount the
    user confirmed, StoryboardNotApproved) or credits.InsufficientCredits, writing nothing.
    """
    require_storyboard_approval(sequence, retake=True)
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
        if sequence.status == SeqStatus.ASSEMBLING:
            raise PipelineError("The film is being assembled; regenerate when it is done.")
        estimate = estimate_stale(sequence)
        if not estimate.shots:
            if sequence.shots.filter(is_stale=True).exists():
                raise PipelineError("Some of these shots are already generating.")
            raise PipelineError("No shot is stale.")
        check_expected(estimate.total_credits, expected_credits)
        takes = _hold_takes(sequence, estimate, user=user, reason="Regenerate stale shots")
        _reopen(sequence, user=user, takes=takes)
        enqueue("advance_sequence", sequence.pk)
    return takes


def _reopen(sequence: Sequence, *, user, takes: list[Take]) -> None:
    # The process that queues new takes submits them, on its own Runway.
    if sequence.status != SeqStatus.RUNNING:
        Sequence.objects.filter(pk=sequence.pk).update(
            status=SeqStatus.RUNNING,
            runway_origin=current_origin(),
            status_message="",
            started_by=user,
            # A new run: what a cancel reports counts its takes only, not every earlier run's.
            started_at=min(take.created_at for take in takes),
            finished_at=None,
            claimed_until=None,
        )
    else:
        Sequence.objects.filter(pk=sequence.pk).update(runway_origin=current_origin())


def choose_take(take: Take) -> None:
    """Make `take` the one used in the film. In a stitched sequence the shots after it that start
    on the previous shot's last frame become stale."""
    if not take.is_clip:
        raise PipelineError("This take is a keyframe image; choose it as the keyframe's image.")
    if take.status != Status.SUCCEEDED:
        raise PipelineError("Only a finished take can be chosen.")
    with transaction.atomic():
        shot = Shot.objects.select_for_update().get(pk=take.shot_id)
        if shot.chosen_take_id == take.pk:
            return
        shot.chosen_take = take
        shot.is_stale = False
        shot.save(update_fields=["chosen_take", "is_stale"])
        made_stale = _mark_followers_stale(shot)
        sequence = shot.sequence
        # A film with the later shots of the chain stale would not say so: the page offers to make
        # them again (`regenerate_stale_shots`, one priced action), and that run assembles the film.
        if sequence.status == SeqStatus.DONE and not made_stale:
            # The film no longer matches the chosen takes; assemble it again. Nothing is to be
            # generated, so the run is an assembly from the start (the page says so, and a cancel
            # counts no earlier take); `recover` restarts it if the queued task is lost.
            Sequence.objects.filter(pk=sequence.pk, status=SeqStatus.DONE).update(
                status=SeqStatus.ASSEMBLING,
                started_at=timezone.now(),
                finished_at=None,
                taken_over_at=None,
                runway_origin=current_origin(),
                **leases.RELEASED,
            )
            enqueue("assemble_sequence", sequence.pk)


def _mark_followers_stale(shot: Shot) -> int:
    """Mark stale the finished shots after `shot` that start on its last frame; how many were."""
    sequence = shot.sequence
    if not sequence.is_stitched:
        return 0
    followers = list(sequence.shots.filter(position__gt=shot.position).order_by("position", "pk"))
    stale_ids = []
    for follower in followers:
        if follower.first_frame != Shot.FirstFrame.PREVIOUS:
            break
        if follower.chosen_take_id is not None:
            stale_ids.append(follower.pk)
    return Shot.objects.filter(pk__in=stale_ids).update(is_stale=True)


# --- keyframe images ----------------------------------------------------------------------------
# A keyframe image is a take too (`Take.keyframe` set, endpoint text_to_image): held, submitted,
# polled, saved, settled, cancelled and recovered like a clip. It is not part of a sequence's run:
# it is submitted as soon as it is held, a failure stops nothing (the user makes another image),
# and a finished image is only offered: the user chooses it before any video is paid for.


def make_keyframes(sequence: Sequence, *, user, expected_credits: int | None = None) -> list[Take]:
    """Make one image of every keyframe of the sequence that has no chosen image and none on its
    way (`estimate_keyframes`), holding all of them at once, and send them to Runway.

    Raises PipelineError (nothing to make, a keyframe the catalog refuses, an estimate other than
    `expected_credits`, the amount the user confirmed) or credits.InsufficientCredits, writing
    nothing. Double clicks are harmless: the sequence row is locked, and the second call sees the
    first one's images on their way.
    """
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=sequence.pk)
        estimate = estimate_keyframes(sequence)
        if not estimate.keyframes:
            if not Keyframe.objects.filter(shot__sequence=sequence).exists():
                raise PipelineError(
                    "No shot starts on an image made from reference images. Set a shot's keyframe first."
                )
            raise PipelineError(
                "Every keyframe has a chosen image or one on its way. Retake a keyframe for another image."
            )
        check_expected(estimate.total_credits, expected_credits)
        takes = _hold_keyframe_takes(sequence, estimate, user=user, reason=f"Keyframes of '{sequence.title}'")
    return takes


def retake_keyframe(keyframe: Keyframe, *, user, expected_credits: int | None = None) -> Take:
    """Make another image of one keyframe (`estimate_keyframe_retake`); its chosen image, if any,
    stays chosen until the user chooses the new one.

    Raises PipelineError (an image of it is already on its way, the catalog refuses it, an
    estimate other than `expected_credits`) or credits.InsufficientCredits, writing nothing.
    """
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().get(pk=keyframe.shot.sequence_id)
        keyframe = Keyframe.objects.select_related("shot").get(pk=keyframe.pk)
        if keyframe.takes.filter(status__in=ACTIVE).exists():
            raise PipelineError(f"An image of {describe_keyframe(keyframe).lower()} is already being made.")
        estimate = estimate_keyframe_retake(keyframe)
        check_expected(estimate.total_credits, expected_credits)
        (take,) = _hold_keyframe_takes(
            sequence, estimate, user=user, reason=f"Retake {describe_keyframe(keyframe).lower()}"
        )
    return take


def choose_keyframe_take(take: Take) -> None:
    """Make a finished image the one its keyframe uses. A shot whose chosen clip was made from
    another image of this keyframe becomes stale ("Regenerate stale shots" remakes it). Choosing the
    chosen image changes nothing. Raises PipelineError for a take that is not a finished keyframe
    image, or while the shot's clip is being made (it may be made from either image)."""
    if not take.is_keyframe_image:
        raise PipelineError("This take is a clip, not a keyframe image; choose it as the shot's take.")
    if take.status != Status.SUCCEEDED:
        raise PipelineError("Only a finished image can be chosen.")
    with transaction.atomic():
        # The shot first, then its keyframe: the order in which set_keyframe locks them.
        shot = Shot.objects.select_for_update().get(pk=take.shot_id)
        keyframe = Keyframe.objects.select_for_update().get(pk=take.keyframe_id)
        if keyframe.chosen_take_id == take.pk:
            return
        if shot.takes.filter(kind=Take.Kind.CLIP, status__in=ACTIVE).exists():
            raise PipelineError(
                f"Shot {shot.position + 1} is being generated; choose its keyframe image when it is done."
            )
        Keyframe.objects.filter(pk=keyframe.pk).update(chosen_take=take)
        clip = shot.chosen_take
        if clip is not None and not shot.is_stale and not _made_from(clip, take, slot=keyframe.slot):
            Shot.objects.filter(pk=shot.pk).update(is_stale=True)


def _made_from(clip: Take, image: Take, *, slot: str) -> bool:
    """Whether `clip` started (ended) on the keyframe image `image`: its input file is a copy of
    the image, which keeps the image's file name."""
    source = clip.input_first_frame if slot == Keyframe.Slot.FIRST else clip.input_last_frame
    if not source or not image.output:
        return False
    return Path(source.name).name.endswith("-" + Path(image.output.name).name)


class EstimateChanged(PipelineError):
    """The estimate is not the amount the user confirmed (prices, shots or frames changed since):
    nothing is held, and the user is asked to confirm the new amount."""

    def __init__(self, credits: int) -> None:
        self.credits = credits
        super().__init__(f"The estimate is now {credits} credits. Check it and confirm again.")


def check_expected(total: int, expected_credits: int | None) -> None:
    """Raise EstimateChanged unless `total` is what the user confirmed (None: nothing to compare)."""
    if expected_credits is not None and total != expected_credits:
        raise EstimateChanged(total)


def _hold_keyframe_takes(sequence: Sequence, estimate: KeyframesEstimate, *, user, reason: str) -> list[Take]:
    """Create a queued take per estimated keyframe, hold exactly the estimate and queue their
    submissions after the commit, all or nothing. Must run inside a transaction."""
    if estimate.errors:
        raise PipelineError(" ".join(estimate.errors))
    origin = current_origin()
    takes = [
        Take.objects.create(
            kind=Take.Kind.KEYFRAME_IMAGE,
            sequence=sequence,
            shot_id=item.keyframe.shot_id,
            keyframe=item.keyframe,
            user=user,
            status=Status.QUEUED,
            endpoint=item.built.endpoint,
            request=item.built.body,
            estimated_credits=item.built.estimated_credits,
            runway_origin=origin,
        )
        for item in estimate.keyframes
    ]
    credits.reserve_many(
        user,
        holds=[{"credits": t.estimated_credits, "project": sequence.project, "take": t} for t in takes],
        reason=reason,
    )
    for take in takes:
        enqueue("submit_take", take.pk)
    return takes


def cancel_sequence(sequence: Sequence, *, client: runway.RunwayClient | None = None) -> CancelResult:
    """Stop a sequence and everything it has on its way, paying what Runway keeps.

    Takes not yet sent are released. A take Runway saw RUNNING is deleted but settled at its cost,
    since Runway keeps that charge; one Runway already finished is saved (it was paid). A take Runway
    had not started (PENDING, THROTTLED) is deleted, and its hold stays open as unconfirmed unless
    Runway says what it kept: it may have started between our GET and the DELETE (`_stop_at_runway`).
    A take being submitted is left to its submitter, which stops it as soon as Runway answers.
    Idempotent; a take whose state moves while we look is looked at again.
    """
    was = Sequence.objects.filter(pk=sequence.pk).values_list("status", flat=True).first()
    Sequence.objects.filter(pk=sequence.pk, status__in=Sequence.UNFINISHED).update(
        status=SeqStatus.CANCELLED, status_message="Cancelled.", finished_at=timezone.now()
    )
    started = Sequence.objects.filter(pk=sequence.pk).values_list("started_at", flat=True).first()
    client = client or runway.client_from_settings()
    result = CancelResult(what="Assembly" if was == SeqStatus.ASSEMBLING else "Generation")
    for take in Take.objects.filter(takes_of(sequence), status__in=ACTIVE):
        for _ in range(5):
            done = cancel_take(take, client)
            if done is not None:
                break
            take.refresh_from_db()
        if done:
            result.cancelled += 1
    charges = charges_of(sequence, since=started)
    result.charged, result.released, result.still_held = charges.charged, charges.released, charges.held
    result.unconfirmed = charges.unconfirmed
    return result


def takes_of(sequence: Sequence) -> Q:
    """Every take of a sequence: its shots' clips and keyframe images, its narrations and master parts."""
    return Q(sequence=sequence)


@dataclass
class Charges:
    charged: int = 0  # settled: what Runway charged
    released: int = 0  # returned to the budget
    held: int = 0  # still held: takes under way, or unconfirmed ones waiting for an admin
    unconfirmed: int = 0  # of `held`, what waits for an admin to confirm Runway's charge

    @property
    def words(self) -> str:
        return charges_words(self)


def charges_words(charges: Charges) -> str:
    """What a run charged, holds and returned, in the words every surface uses (the sequence page,
    the command line, the usage page, the finish mail, a cancel), as one sentence without its full
    stop: "Runway charged 40 credits; 50 held for work in progress; 10 returned"."""
    parts = [
        f"Runway charged {charges.charged} credit{'' if charges.charged == 1 else 's'}"
        if charges.charged
        else "Nothing charged"
    ]
    in_progress = charges.held - charges.unconfirmed
    if in_progress:
        parts.append(f"{in_progress} held for work in progress")
    if charges.unconfirmed:
        parts.append(
            f"{charges.unconfirmed} credit{'' if charges.unconfirmed == 1 else 's'} stay held until an admin "
            "confirms with Runway whether they were charged"
        )
    if charges.released:
        parts.append(f"{charges.released} returned")
    return "; ".join(parts)


def charges_of(sequence: Sequence, *, since: dt.datetime | None = None) -> Charges:
    """What the sequence's takes (those created since `since`) cost so far, from the ledger."""
    takes = Take.objects.filter(takes_of(sequence))
    if since is not None:
        takes = takes.filter(created_at__gte=since)
    entries = credits.LedgerEntry.objects.filter(take__in=takes)
    totals = {row["kind"]: row["total"] for row in entries.values("kind").annotate(total=Sum("credits"))}
    open_holds = credits.open_holds().filter(take__in=takes)
    held = open_holds.aggregate(total=Sum("credits"))["total"] or 0
    unconfirmed = 0
    if held:
        unconfirmed = (
            open_holds.filter(take__status=Status.UNCONFIRMED).aggregate(total=Sum("credits"))["total"] or 0
        )
    return Charges(
        charged=totals.get(credits.Kind.SETTLE, 0),
        released=totals.get(credits.Kind.RELEASE, 0),
        held=held,
        unconfirmed=unconfirmed,
    )


def run_charges(sequence: Sequence) -> Charges:
    """What the sequence's latest run (its takes since it last started) cost so far."""
    return charges_of(sequence, since=sequence.started_at)


@dataclass
class CancelResult:
    what: str = "Generation"  # what was stopped: "Assembly" when only the film was being made
    cancelled: int = 0
    charged: int = 0  # what Runway kept for work it had started
    released: int = 0
    # Takes whose charge at Runway is not known (being sent, stopped before they started, unreachable).
    still_held: int = 0
    unconfirmed: int = 0  # of `still_held`, what waits for an admin

    def __str__(self) -> str:
        charges = Charges(
            charged=self.charged, released=self.released, held=self.still_held, unconfirmed=self.unconfirmed
        )
        text = f"{self.what} cancelled. {charges_words(charges)}."
        if self.still_held:
            text += (
                " Runway keeps the charge of a task that starts just as it is cancelled, and does not say "
                "whether one did: an admin confirms the credits still held with Runway."
            )
        return text


def _stop_at_runway(take: Take, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """Finish cancelling a CANCELLED take that Runway knows: read the task, delete it, and close the
    hold at what Runway keeps (runway-api.md section 5: no refund once Runway saw the task RUNNING).

    The GET that says PENDING or THROTTLED cannot promise what the DELETE will find: Runway may start
    the task in between, and then it keeps the charge. Runway decides the refund when the DELETE
    arrives and says nothing about it (204, then 404 for the task), so the task is read once more
    after the DELETE: a Runway that still shows it (CANCELLED, with its cost) settles it exactly; one
    that has forgotten it leaves the outcome unknown, and the take becomes UNCONFIRMED with its whole
    estimate held, as an unconfirmed create does, until an admin checks Runway's usage. Releasing it
    would let the ledger show less than Runway charged whenever the race is lost; settling it at the
    estimate would charge the user for what Runway nearly always refunds.

    If Runway cannot be asked now, the hold stays open and recovery tries again. Every outcome is
    written only while `claim` (the cancelling worker's) is still ours.
    """
    if take.runway_origin not in (client.origin, ""):
        # Another Runway's process (a command line) made it: its recovery finishes the cancel.
        claim.release(status=Status.CANCELLED)
        return
    task_id = take.runway_task_id
    try:
        state = client.get_task(task_id)
    except runway.RunwayTaskNotFound:
        state = None
    except runway.RunwayError as exc:
        log.warning("Could not read Runway task %s to cancel it; will try again: %s", task_id, exc)
        claim.release(status=Status.CANCELLED)
        return
    if state is None:
        if take.was_running:
            _close_cancelled(
                take,
                claim,
                charge=take.estimated_credits,
                message="Cancelled. Runway had started this take, so it keeps the charge.",
            )
        else:
            _mark_unconfirmed(
                take,
                from_statuses=(Status.CANCELLED,),
                claim=claim,
                message="Cancelled, but Runway no longer knows the task, so whether it charged for it "
                "is unknown.",
            )
        return
    if state.status == TaskStatus.SUCCEEDED:
        # Runway made the clip and charged for it: save it rather than throw it away.
        moved = claim.rows(status=Status.CANCELLED).update(
            status=Status.DOWNLOADING,
            progress=1,
            was_running=True,
            cost_credits=state.cost_credits,
            failure_message="",
            finished_at=None,
            **leases.RELEASED,
        )
        if moved:
            _enqueue_now("finish_take", take.pk)
        return
    if state.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        charge = _charge(take, state)
        _close_cancelled(
            take, claim, charge=charge, message="Cancelled. Runway had already stopped this task."
        )
        return
    try:
        client.cancel_task(task_id)
    except runway.RunwayError as exc:
        log.warning("Could not cancel Runway task %s; will try again: %s", task_id, exc)
        claim.release(status=Status.CANCELLED)
        return
    after = _read_after_delete(client, task_id)
    if after is not None and after.is_final:
        charge = _charge(take, after)
        _close_cancelled(
            take,
            claim,
            charge=charge,
            message="Cancelled while Runway was generating it; Runway keeps the charge."
            if charge
            else "Cancelled before Runway started it.",
        )
    elif (
        state.status == TaskStatus.RUNNING
        or take.was_running
        or (after is not None and after.status == TaskStatus.RUNNING)
    ):
        charge = state.estimated_credits if state.estimated_credits is not None else take.estimated_credits
        _close_cancelled(
            take,
            claim,
            charge=charge,
            message="Cancelled while Runway was generating it; Runway keeps the charge.",
        )
    else:
        _mark_unconfirmed(
            take,
            from_statuses=(Status.CANCELLED,),
            claim=claim,
            message="Cancelled while it waited to start at Runway. Runway keeps the charge of a task "
            "that started just as it was cancelled, and it does not show a cancelled task, so whether "
            "it charged for this one is unknown.",
        )


def _read_after_delete(client: runway.RunwayClient, task_id: str) -> runway.TaskState | None:
    """The task as Runway shows it after a DELETE, or None when it does not (404, as observed at
    Runway, or no answer): then what the DELETE found is unknown."""
    try:
        return client.get_task(task_id)
    except runway.RunwayError as exc:
        if not isinstance(exc, runway.RunwayTaskNotFound):
            log.warning("Could not read Runway task %s after cancelling it: %s", task_id, exc)
        return None


def _close_cancelled(take: Take, claim: leases.Claim, *, charge: int | None, message: str) -> None:
    with transaction.atomic():
        moved = claim.rows(status=Status.CANCELLED).update(
            cost_credits=charge, failure_message=message[:1000], **leases.RELEASED
        )
        if moved:
            _close_hold(take, charge=charge, reason=f"Take cancelled (Runway task {take.runway_task_id})")


def _charge(take: Take, state: runway.TaskState) -> int:
    """What Runway charged for a finished task: its reported cost (0 means refunded), or, where an
    older API leaves the cost out, the most it could have charged."""
    if state.cost_credits is not None:
        return state.cost_credits
    return take.estimated_credits


def _close_hold(take: Take, *, charge: int | None, reason: str) -> None:
    """Settle the take's hold at `charge` and release the rest, or release it whole when nothing was
    charged (`charge` None). Idempotent: a closed hold is left as it is."""
    hold = credits.hold_for_take(take)
    if hold is None:
        return
    if charge is None:
        credits.release(hold, reason=reason)
    else:
        credits.settle(hold, credits=charge, reason=reason)


def _mark_unconfirmed(
    take: Take, *, message: str, from_statuses=ACTIVE, claim: leases.Claim | None = None
) -> bool:
    """Nobody can know whether Runway made (and charged) this take's task: keep its credits held
    and leave the decision to an admin (`resolve_unconfirmed`). Never resends. With `claim`, only
    while that claim is still ours."""
    rows = claim.rows() if claim is not None else Take.objects.filter(pk=take.pk)
    with transaction.atomic():
        moved = rows.filter(status__in=from_statuses).update(
            status=Status.UNCONFIRMED,
            failure_code=Code.UNCONFIRMED,
            failure_message=message[:1000],
            finished_at=timezone.now(),
            **leases.RELEASED,
        )
        if moved:
            enqueue("advance_sequence", take.sequence_id)
    return bool(moved)


def resolve_unconfirmed(take: Take, *, charged: bool, reason: str, by=None) -> bool:
    """An admin's decision on an unconfirmed take, after checking with Runway: settle its hold at
    the estimate (Runway made and charged the task) or release it. Idempotent."""
    if not reason.strip():
        raise PipelineError("Say why (for example what Runway's usage report shows).")
    who = f" by {by}" if by is not None else ""
    # Runway's own estimate is the most it could have charged, where it asked more than was held.
    most = max(take.estimated_credits, take.runway_estimated_credits or 0)
    if charged:
        message = f"Runway did charge this take ({most} credits), as confirmed{who}: {reason}"
    else:
        message = f"Runway did not charge this take, as confirmed{who}: {reason}"
    with transaction.atomic():
        moved = Take.objects.filter(pk=take.pk, status=Status.UNCONFIRMED).update(
            status=Status.FAILED,
            cost_credits=most if charged else None,
            failure_message=message[:1000],
        )
        if moved:
            _close_hold(
                take,
                charge=most if charged else None,
                reason=f"Resolved{who}: {reason}"[:500],
            )
    return bool(moved)


def fetch_take_again(take: Take, *, client: runway.RunwayClient | None = None) -> None:
    """Download again the output of a take that Runway made (and was paid for) but that could not
    be saved. Runway gives a fresh URL on every GET; the take is not charged again."""
    origin = current_origin(client)
    if take.runway_origin not in (origin, ""):
        raise PipelineError(
            f"This {_output_word(take)} was made on another Runway ({runway.origin_base(take.runway_origin)}); fetch it "
            "again from the studio or command line that uses that Runway."
        )
    moved = Take.objects.filter(
        pk=take.pk, status=Status.FAILED, failure_code=Code.DOWNLOAD, runway_task_id__isnull=False
    ).update(
        status=Status.DOWNLOADING,
        failure_code="",
        failure_message="",
        download_attempts=0,
        finished_at=None,
        taken_over_at=None,
        **leases.RELEASED,
    )
    if not moved:
        raise PipelineError("This take has no saved output to fetch again.")
    _enqueue_now("finish_take", take.pk)


def cancel_take(take: Take, client: runway.RunwayClient) -> bool | None:
    """Cancel one take. True if cancelled, False if there is nothing to cancel (finished, or saving
    an output Runway already made and charged), None if its state moved meanwhile (look again)."""
    now = timezone.now()
    if take.status == Status.QUEUED:
        with transaction.atomic():
            moved = Take.objects.filter(pk=take.pk, status=Status.QUEUED).update(
                status=Status.CANCELLED,
                finished_at=now,
                failure_message="Cancelled before it was sent to Runway; nothing was charged.",
            )
            if moved:
                _release_take(take, reason="Take cancelled before it was sent to Runway")
        return True if moved else None
    if take.status == Status.SUBMITTING:
        # The submitter owns the money from here: it releases if the request never left, and stops
        # the task at Runway (paying what Runway keeps) once Runway answers. Its lease is kept, so
        # that recovery takes over only if the submitter dies.
        moved = Take.objects.filter(pk=take.pk, status=Status.SUBMITTING).update(
            status=Status.CANCELLED, finished_at=now, failure_message="Cancelled while it was sent to Runway."
        )
        return True if moved else None
    if take.status in Take.IN_FLIGHT:
        claim = leases.Claim(Take, take.pk, leases.new_token())
        moved = Take.objects.filter(pk=take.pk, status=take.status).update(
            status=Status.CANCELLED,
            finished_at=now,
            failure_message="Cancelled.",
            claimed_until=leases.lease_until(now),
            claim_token=claim.token,
        )
        if not moved:
            return None
        take.refresh_from_db()
        with leases.hold(claim):
            _stop_at_runway(take, client, claim)
        return True
    return False


def _release_take(take: Take, *, reason: str) -> None:
    hold = credits.hold_for_take(take)
    if hold is not None:
        credits.release(hold, reason=reason)


# --- advancing ----------------------------------------------------------------------------------


def advance_sequence(sequence_pk: int, *, client: runway.RunwayClient | None = None) -> None:
    """Decide what a running sequence does next: submit queued takes, assemble, or stop.

    Idempotent and safe to run concurrently: submissions and assembly are claimed with
    compare-and-set updates by the tasks that do them.
    """
    sequence = Sequence.objects.filter(_ours(current_origin(client)), pk=sequence_pk).first()
    if sequence is None or sequence.status != SeqStatus.RUNNING:
        return  # moved on, or another Runway's process drives it
    shots = list(sequence.shots.order_by("position", "pk"))
    takes_by_shot: dict[int, list[Take]] = {s.pk: [] for s in shots}
    # The shots' clips; keyframe images are made apart from the run (see make_keyframes).
    for take in Take.objects.filter(sequence=sequence, kind=Take.Kind.CLIP).order_by("pk"):
        takes_by_shot[take.shot_id].append(take)
    now = timezone.now()

    def ready(take: Take) -> bool:
        return take.status == Status.QUEUED and (take.next_poll_at is None or take.next_poll_at <= now)

    to_submit: list[Take] = []
    if sequence.is_stitched:
        stuck = stuck_shots(sequence, [(s, takes_by_shot[s.pk]) for s in shots])
        if stuck:
            # The chain cannot pass this shot: stop the later ones now rather than hold their
            # credits until someone notices.
            _ask_for_attention(sequence, stuck=stuck, takes_by_shot=takes_by_shot, shots=shots)
            return
        # The chain goes one shot at a time, except that a shot starting on a keyframe image
        # needs nothing from the shot before it and goes at once.
        waiting = False
        for shot in shots:
            queued = [t for t in takes_by_shot[shot.pk] if t.status in ACTIVE]
            if not queued:
                continue
            if (not waiting or queued[0].first_frame_from == Take.FirstFrame.KEYFRAME) and ready(queued[0]):
                to_submit.append(queued[0])
            waiting = True
    else:
        queued = [t for ts in takes_by_shot.values() for t in ts if ready(t)]
        limit = concurrency_limit(sequence.model, client=client)
        if limit is None:
            to_submit = queued
        else:
            kind = catalog.model_kind(sequence.video_model.id) or catalog.VIDEO
            to_submit = queued[: max(0, limit - _in_flight_of_kind(kind, client=client))]

    for take in to_submit:
        _enqueue_now("submit_take", take.pk)

    if any(t.status in ACTIVE for ts in takes_by_shot.values() for t in ts):
        return
    stuck = stuck_shots(sequence, [(s, takes_by_shot[s.pk]) for s in shots])
    if stuck:
        _ask_for_attention(sequence, stuck=stuck, takes_by_shot=takes_by_shot, shots=shots)
        return
    claimed = Sequence.objects.filter(pk=sequence.pk, status=SeqStatus.RUNNING).update(
        status=SeqStatus.ASSEMBLING, taken_over_at=None, **leases.RELEASED
    )
    if claimed:
        _enqueue_now("assemble_sequence", sequence.pk)


def stuck_shots(sequence: Sequence, rows: list[tuple[Shot, list[Take]]]) -> list[Shot]:
    """The shots that stop a sequence: none of their takes is on its way and none is chosen (the
    last one failed, was cancelled or is unconfirmed, or there is none).

    `rows` are the shots in order with their takes. In a stitched sequence only the first such shot
    counts, and only when no earlier shot is still generating: the chain cannot pass it.
    """
    stuck = []
    for shot, takes in rows:
        if any(t.status in ACTIVE for t in takes):
            if sequence.is_stitched:
                break
            continue
        if shot.chosen_take_id is None:
            stuck.append(shot)
            if sequence.is_stitched:
                break
    return stuck


def attention_message(shot: Shot, takes: list[Take]) -> str:
    """Why a stuck shot stops its sequence, in words for the sequence page and the command line."""
    number = shot.position + 1
    last = takes[-1] if takes else None
    if last is None:
        return f"Shot {number} has no take yet. Retake it, or generate again."
    what = {
        Status.FAILED: "failed",
        Status.CANCELLED: "was cancelled",
        Status.UNCONFIRMED: "is unconfirmed",
    }.get(last.status, "has no finished take")
    reason = last.failure_message.strip()
    return f"Shot {number} {what}: {reason}" if reason else f"Shot {number} {what}."


def _ask_for_attention(
    sequence: Sequence, *, stuck: list[Shot], takes_by_shot: dict[int, list[Take]], shots: list[Shot]
) -> None:
    """Move a running sequence to NEEDS_ATTENTION, naming its stuck shots and why.

    In a stitched sequence the queued takes after the (single) stuck shot are cancelled and their
    holds released in the same transaction: they were never sent to Runway, and a retake of the
    stuck shot queues them again. Takes already at Runway are left to finish. Idempotent: the
    sequence row is locked and moved only from RUNNING, and only while the stuck shots still have
    nothing on its way and nothing chosen (a retake may have queued one since the read).
    """
    message = " ".join(attention_message(s, takes_by_shot[s.pk]) for s in stuck)
    later: list[Take] = []
    if sequence.is_stitched:
        after = [s.pk for s in shots[shots.index(stuck[0]) + 1 :]]
        later = [t for pk in after for t in takes_by_shot[pk] if t.status == Status.QUEUED]
    with transaction.atomic():
        locked = Sequence.objects.select_for_update().filter(pk=sequence.pk, status=SeqStatus.RUNNING).first()
        if (
            locked is None
            or Take.objects.filter(shot__in=stuck, kind=Take.Kind.CLIP, status__in=ACTIVE).exists()
        ):
            return
        if Shot.objects.filter(pk__in=[s.pk for s in stuck], chosen_take__isnull=False).exists():
            return
        Sequence.objects.filter(pk=sequence.pk, status=SeqStatus.RUNNING).update(
            status=SeqStatus.NEEDS_ATTENTION, status_message=message[:500], finished_at=timezone.now()
        )
        notifications.run_ended(sequence.pk)
        number = stuck[0].position + 1
        for take in later:
            unsent = Take.objects.filter(pk=take.pk, status=Status.QUEUED, runway_task_id__isnull=True)
            stopped = unsent.update(
                status=Status.CANCELLED,
                finished_at=timezone.now(),
                claimed_until=None,
                failure_message=f"Not generated: shot {number} before it has no finished take. "
                f"Retaking shot {number} generates this shot again.",
            )
            if stopped:
                _release_take(take, reason=f"Shot {number} failed; later shots stopped")


def concurrency_limit(model: str, *, client: runway.RunwayClient | None = None) -> int | None:
    """How many tasks of the model's kind Runway runs at once for the organisation (`tiers`; None:
    no limit), else RUNWAY_MAX_CONCURRENCY."""
    resolved, _ = catalog.resolve_model(model)
    return tiers.concurrency_limit(catalog.model_kind(resolved.id) or catalog.VIDEO, client)


def _in_flight_of_kind(kind: str, *, client: runway.RunwayClient | None = None) -> int:
    """This Runway's takes of a kind that are being sent or are at Runway: the limit is shared by
    every model of the kind, across sequences."""
    endpoints = [e for e, k in catalog.ENDPOINT_KINDS.items() if k == kind]
    return Take.objects.filter(
        _ours(current_origin(client)),
        endpoint__in=endpoints,
        status__in=(Status.SUBMITTING, *Take.IN_FLIGHT),
    ).count()


# --- submitting ---------------------------------------------------------------------------------


def submit_take(take_pk: int, *, client: runway.RunwayClient | None = None) -> None:
    """Send one queued take to Runway and store the task id at once.

    Claims the take (QUEUED -> SUBMITTING) so that only one worker submits it. The Runway call
    happens after that commit; its outcome is saved right after. `create_sent_at` is written just
    before the create request leaves: a submission that died before it may be sent again, one that
    died after it may have made a task and is never resent (see `recover`). The lease is renewed
    while the body is made (a master part is cut and uploaded) and the create call runs; a submitter
    that was taken over writes nothing more.
    """
    token = leases.new_token()
    client = client or runway.client_from_settings()
    origin = client.origin
    claimed = Take.objects.filter(
        # On the take, not across the join: Django would put a joined condition, status included,
        # in a subquery that PostgreSQL does not re-check after waiting for a cancel's row lock.
        # Keyframe images, narrations and master parts are not part of a run: each carries its own origin.
        Q(~STANDALONE, sequence__in=Sequence.objects.filter(runway_origin__in=(origin, "")))
        | Q(STANDALONE, runway_origin__in=(origin, "")),
        pk=take_pk,
        status=Status.QUEUED,
        runway_task_id__isnull=True,
    ).update(
        status=Status.SUBMITTING,
        claimed_until=leases.lease_until(),
        claim_token=token,
        create_sent_at=None,
        runway_origin=origin,
    )
    if not claimed:
        return
    with leases.hold(leases.Claim(Take, take_pk, token)) as held:
        _submit(take_pk, client, held.claim)


def _submit(take_pk: int, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """`submit_take` for a claimed take, under its held lease."""
    take = Take.objects.select_related("shot__sequence", "first_frame_image", "last_frame_image").get(
        pk=take_pk
    )
    Take.objects.filter(pk=take_pk).update(submit_attempts=take.submit_attempts + 1)
    try:
        body = kinds.of(take).build_request(client, take)
    except (runway.RunwayError, PipelineError, media.MediaError, OSError) as exc:
        _not_created(take, claim, code=Code.SUBMIT, message=_user_message(exc))
        return
    if not claim.rows(status=Status.SUBMITTING).update(create_sent_at=timezone.now()):
        # Cancelled before the request left (nothing can have been charged), or taken over by
        # recovery after our lease lapsed: then the take is queued again and is not ours to release.
        if claim.rows(status=Status.CANCELLED).update(**leases.RELEASED):
            _release_take(take, reason="Take cancelled before it was sent to Runway")
        return
    try:
        created = client.create_task(take.endpoint, body)
    except runway.RunwayRateLimited as exc:
        # Runway refused before creating anything. A daily cap is waited out, never failed for; a
        # rate limit is sent again after a backoff. The organisation's figures tell the two apart
        # where Runway's words do not.
        if isinstance(exc, runway.RunwayDailyLimit) or _is_at_daily_limit(take, client):
            _wait_for_daily_limit(take, claim)
        else:
            _requeue_or_fail(take, claim, exc)
        return
    except runway.RunwayUnavailable as exc:
        if exc.maybe_created and exc.status not in LOAD_SHEDDING:
            # The request reached Runway and no clear answer came back: the task may exist. Runway
            # has no idempotency key and no task listing, so sending it again could pay twice.
            _mark_unconfirmed(
                take,
                from_statuses=(Status.SUBMITTING, Status.CANCELLED),
                claim=claim,
                message="Runway did not confirm the submission, so it was not sent again (that could "
                "charge twice). Retake the shot to go on.",
            )
            return
        # 429, and 502/503 (Runway's load shedding: the request was not taken): send it again later.
        _requeue_or_fail(take, claim, exc)
        return
    except runway.RunwayError as exc:
        _not_created(take, claim, code=Code.SUBMIT, message=_user_message(exc))
        return
    now = timezone.now()
    # The task exists whoever holds the take now: its id is a fact, kept unconditionally.
    Take.objects.filter(pk=take_pk).update(
        runway_task_id=created.id, runway_estimated_credits=created.estimated_credits
    )
    if created.estimated_credits is not None and created.estimated_credits > take.estimated_credits:
        take.runway_task_id = created.id
        _refuse_price_drift(take, client, claim, asked=created.estimated_credits)
        return
    moved = claim.rows(status=Status.SUBMITTING).update(
        status=Status.PENDING,
        submitted_at=now,
        next_poll_at=now + _poll_delay(),
        poll_errors=0,
        is_waiting_for_daily_limit=False,
        **leases.RELEASED,
    )
    if not moved:
        # Cancelled while we were submitting: stop the task we just started, paying what Runway keeps.
        take.refresh_from_db()
        if take.status == Status.CANCELLED and take.claim_token == claim.token:
            Take.objects.filter(pk=take_pk).update(submitted_at=now)
            _stop_at_runway(take, client, claim)


def _refuse_price_drift(take: Take, client: runway.RunwayClient, claim: leases.Claim, *, asked: int) -> None:
    """Runway's create answered an `estimatedCost` above the take's hold: Runway's price went up.
    Delete the task at once, while it is still PENDING or THROTTLED, and close the hold at what
    Runway then shows (`_stop_at_runway`, as a cancel does: nothing when it had not started, its
    charge when it started meanwhile, unconfirmed when Runway shows nothing), so the budget is
    never exceeded by the difference. The take says both figures and the admins are told once per
    model (`alerts.price_drift`)."""
    model = str(take.request.get("model") or "")
    words = (
        f"Runway now asks up to {asked} credits for this {take.output_word}; our price table says "
        f"{take.estimated_credits}, which is what was held. It was stopped before it ran; an admin "
        "has been told to correct the price. Retake it then."
    )
    now = timezone.now()
    # The claim stays ours (token and lease kept) so that the cancel below writes the outcome.
    claim.rows(status__in=(Status.SUBMITTING, Status.CANCELLED)).update(
        status=Status.CANCELLED, submitted_at=now, finished_at=now, failure_message=words
    )
    take.refresh_from_db()
    if take.status == Status.CANCELLED and take.claim_token == claim.token:
        _stop_at_runway(take, client, claim)
    take.refresh_from_db()
    said = take.failure_message if take.failure_message != words else ""
    Take.objects.filter(pk=take.pk).update(
        failure_code=take.failure_code or Code.PRICE_DRIFT, failure_message=f"{words} {said}".strip()[:1000]
    )
    alerts.price_drift(take=take, model=model, asked=asked, held=take.estimated_credits)
    enqueue("advance_sequence", take.sequence_id)


def video_request_body(client: runway.RunwayClient, take: Take) -> dict:
    body = dict(take.request)
    first, last = _keyframe_files(take)
    if first is not None:
        fit = take.shot.sequence.image_fit
        images = [{"uri": _image_uri(client, first, fit=fit), "position": "first"}]
        if last is not None:
            images.append({"uri": _image_uri(client, last, fit=fit), "position": "last"})
        body["promptImage"] = images if len(images) > 1 else images[0]["uri"]
    return body


def image_request_body(client: runway.RunwayClient, take: Take) -> dict:
    """A keyframe image's request with its reference images as `referenceImages` [{uri, tag}].

    The keyframe cannot be edited while this take is on its way, but a reference image may have
    been deleted since it was held: then the request is not what was held, and is not sent.
    """
    keyframe = Keyframe.objects.select_related("shot__sequence").get(pk=take.keyframe_id)
    sequence = keyframe.shot.sequence
    try:
        built = build_keyframe_request(sequence, keyframe)
    except catalog.UnsupportedRequest as exc:
        raise PipelineError(f"{describe_keyframe(keyframe)} cannot be made as it is now: {exc}") from exc
    if built.body != take.request or built.estimated_credits > take.estimated_credits:
        raise PipelineError(
            f"{describe_keyframe(keyframe)} changed (a reference image was removed) before it was sent. "
            "Check the keyframe and retake it."
        )
    references = list(keyframe.references.select_related("image"))
    uris = [_image_uri(client, r.image.image, fit=sequence.image_fit) for r in references]
    return built.with_images(uris)


def _not_created(take: Take, claim: leases.Claim, *, code: str, message: str) -> None:
    """Runway refused the request or it never left: nothing was charged. Nothing is written once
    the take was taken over (recovery queued it again after this submitter's lease lapsed)."""
    if _fail_take(take, code=code, message=message, claim=claim):
        return
    # A take cancelled meanwhile is no longer active, so _fail_take left its hold alone.
    if claim.release(status=Status.CANCELLED):
        _release_take(take, reason="Take cancelled; Runway did not create it")


def _keyframe_files(take: Take) -> tuple[object | None, object | None]:
    """The take's first and last keyframe files, copied into the take on its first submission:
    a reference image, the last frame of the previous shot's chosen take, or the chosen image of
    the shot's keyframe (the copy keeps the image's file name: see `_made_from`)."""
    if not take.input_first_frame and take.first_frame_from != Take.FirstFrame.NONE:
        source = _first_frame_source(take)
        take.input_first_frame.save(Path(source.name).name, _copy_of(source), save=False)
        Take.objects.filter(pk=take.pk).update(input_first_frame=take.input_first_frame.name)
    if not take.input_last_frame and (take.last_frame_image_id or _ends_on_keyframe(take)):
        if take.last_frame_image_id:
            source = take.last_frame_image.image
        else:
            source = _keyframe_image(take.shot, Keyframe.Slot.LAST)
        take.input_last_frame.save(Path(source.name).name, _copy_of(source), save=False)
        Take.objects.filter(pk=take.pk).update(input_last_frame=take.input_last_frame.name)
    return (take.input_first_frame or None), (take.input_last_frame or None)


def _ends_on_keyframe(take: Take) -> bool:
    """Whether the clip ends on the shot's LAST keyframe image (Veo; the take was planned so)."""
    sequence = take.shot.sequence
    return (
        take.shot.has_made_last_frame and sequence.video_model.has_last_frame and bool(take.input_first_frame)
    )


def _keyframe_image(shot: Shot, slot: str):
    """The chosen image of the shot's keyframe in `slot`; PipelineError when there is none."""
    keyframe = Keyframe.objects.filter(shot=shot, slot=slot).select_related("chosen_take").first()
    if keyframe is None or keyframe.chosen_take is None or not keyframe.chosen_take.output:
        raise PipelineError(f"Choose a keyframe image for shot {shot.position + 1} before generating.")
    return keyframe.chosen_take.output


def _first_frame_source(take: Take):
    shot = take.shot
    if take.first_frame_from == Take.FirstFrame.KEYFRAME:
        return _keyframe_image(shot, Keyframe.Slot.FIRST)
    if take.first_frame_from == Take.FirstFrame.REFERENCE:
        if take.first_frame_image is None:
            raise PipelineError(
                f"The first-frame image of shot {shot.position + 1} was removed; choose another."
            )
        return take.first_frame_image.image
    previous = (
        Shot.objects.filter(sequence=shot.sequence, position__lt=shot.position)
        .order_by("-position", "-pk")
        .select_related("chosen_take")
        .first()
    )
    if previous is None or previous.chosen_take is None or not previous.chosen_take.last_frame:
        raise PipelineError(
            f"Shot {shot.position + 1} starts on the previous shot, which has no finished take."
        )
    return previous.chosen_take.last_frame


def _image_uri(client: runway.RunwayClient, field_file, *, fit: str) -> str:
    with field_file.open("rb") as fh:
        data = keyframes.prepare_image(fh, fit=fit)
    return keyframes.image_uri(data, client=client)


def _is_at_daily_limit(take: Take, client: runway.RunwayClient) -> bool:
    """Whether the organisation (read now) has no daily generations left for the take's kind."""
    tiers.forget_organization(client)
    limits = tiers.limits_for(catalog.ENDPOINT_KINDS.get(take.endpoint, catalog.VIDEO), client)
    return limits is not None and limits.remaining_today == 0


def _wait_for_daily_limit(take: Take, claim: leases.Claim) -> None:
    """Runway's daily limit for the take's kind is reached: queue the take again, marked, to be
    sent after `_daily_limit_recheck()` (by its sequence's advance, or recovery for a standalone
    take). It never fails for this and keeps its hold; submit attempts start again from zero."""
    recheck = _daily_limit_recheck()
    at = timezone.localtime(timezone.now() + recheck).strftime("%H:%M")
    moved = claim.rows(status=Status.SUBMITTING).update(
        status=Status.QUEUED,
        create_sent_at=None,
        submit_attempts=0,
        is_waiting_for_daily_limit=True,
        next_poll_at=timezone.now() + recheck,
        failure_message=f"Waiting for Runway's daily limit: Runway makes no more of these today; "
        f"trying again at {at}, and it goes on by itself once the limit resets.",
        **leases.RELEASED,
    )
    if not moved and claim.release(status=Status.CANCELLED):
        _release_take(take, reason="Take cancelled; Runway did not create it")


def _requeue_or_fail(take: Take, claim: leases.Claim, exc: Exception) -> None:
    """Runway refused the create without taking it (429, load shedding): send it again later."""
    attempts = take.submit_attempts + 1
    if attempts >= MAX_SUBMIT_ATTEMPTS:
        _not_created(take, claim, code=Code.SUBMIT, message=_user_message(exc))
        return
    delay = min(300.0, settings.RUNWAY_POLL_INTERVAL * 2**attempts)
    moved = claim.rows(status=Status.SUBMITTING).update(
        status=Status.QUEUED,
        create_sent_at=None,
        next_poll_at=timezone.now() + dt.timedelta(seconds=delay),
        failure_message=f"Runway is busy; trying again in {delay:.0f} s.",
        **leases.RELEASED,
    )
    if not moved and claim.release(status=Status.CANCELLED):
        _release_take(take, reason="Take cancelled; Runway did not create it")


def _user_message(exc: Exception) -> str:
    return str(exc)[:1000] or exc.__class__.__name__


# --- polling ------------------------------------------------------------------------------------


# Runway asks for polls 5 s or more apart (settings.RUNWAY_MIN_POLL_SECONDS), with jitter, backing
# off when it does not answer (runway-api.md sections 5 and 9). The jitter only lengthens a wait,
# so polls never come sooner.
POLL_JITTER = 0.25
POLL_BACKOFF_MAX_SECONDS = 120.0


def _poll_delay(errors: int = 0) -> dt.timedelta:
    """How long until a take is polled again, after `errors` polls in a row that got no answer:
    RUNWAY_POLL_INTERVAL (at least RUNWAY_MIN_POLL_SECONDS with a key), doubled per error up to two
    minutes, lengthened by up to a quarter at random so that takes sent together spread out."""
    base = settings.RUNWAY_POLL_INTERVAL
    if not settings.RUNWAY_SIMULATED:
        base = max(base, settings.RUNWAY_MIN_POLL_SECONDS)
    seconds = min(base * 2 ** min(errors, 16), max(base, POLL_BACKOFF_MAX_SECONDS))
    return dt.timedelta(seconds=seconds * (1 + POLL_JITTER * random.random()))


def claim_due_takes(*, origin: str | None = None, limit: int = 1000) -> list[int]:
    """Claim in-flight takes whose poll is due, pushing their next poll one interval ahead.

    Several pollers may run (one per host): rows locked by another are skipped.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            Take.objects.select_for_update(skip_locked=True)
            .filter(_ours(origin), status__in=Take.IN_FLIGHT, next_poll_at__lte=now)
            .order_by("next_poll_at")
            .values_list("pk", flat=True)[:limit]
        )
        Take.objects.filter(pk__in=ids).update(
            next_poll_at=now + dt.timedelta(seconds=settings.RUNWAY_POLL_INTERVAL)
        )
    return ids


def poll_once(*, client: runway.RunwayClient | None = None, threads: int = 16) -> int:
    """One sweep: one GET per due in-flight take, then record what changed. Returns takes polled.

    A failed GET is not retried here: the take is simply polled again at the next interval.
    """
    client = client or runway.client_from_settings(max_retries=0)
    ids = claim_due_takes(origin=client.origin)
    if not ids:
        return 0
    takes = {t.pk: t for t in Take.objects.filter(pk__in=ids)}

    def fetch(take: Take):
        try:
            return take, client.get_task(take.runway_task_id)
        except runway.RunwayError as exc:
            return take, exc

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(takes)))) as pool:
        results = list(pool.map(fetch, takes.values()))
    for take, state in results:
        try:
            apply_task_state(take, state)
        except Exception:
            log.exception("Could not record the state of take %s", take.pk)
    return len(results)


def apply_task_state(take: Take, state) -> None:
    """Record what Runway said about a take. Idempotent: a take that moved on is left alone."""
    if isinstance(state, runway.RunwayTaskNotFound):
        if take.was_running:
            _fail_take(
                take,
                code=Code.NOT_FOUND,
                message="Runway no longer knows this task (it was deleted outside the studio). Runway had "
                "started it, so it keeps the charge. Retake the shot.",
                charge=take.estimated_credits,
            )
        else:
            _mark_unconfirmed(
                take,
                from_statuses=Take.IN_FLIGHT,
                message="Runway no longer knows this task (it was deleted outside the studio), so whether "
                "it was charged is unknown. Retake the shot to go on.",
            )
        return
    if isinstance(state, Exception):
        errors = take.poll_errors + 1
        delay = _poll_delay(errors)
        log.info("Polling take %s failed, will retry in %.0f s: %s", take.pk, delay.total_seconds(), state)
        Take.objects.filter(pk=take.pk, status__in=Take.IN_FLIGHT).update(
            poll_errors=errors, next_poll_at=timezone.now() + delay
        )
        return
    if state.status in runway.IN_FLIGHT_STATUSES:
        seen = {"was_running": True} if state.status == TaskStatus.RUNNING else {}
        Take.objects.filter(pk=take.pk, status__in=Take.IN_FLIGHT).update(
            status=runway.IN_FLIGHT_STATUSES[state.status],
            progress=state.progress or 0,
            poll_errors=0,
            next_poll_at=timezone.now() + _poll_delay(),
            **seen,
        )
    elif state.status == TaskStatus.SUCCEEDED:
        moved = Take.objects.filter(pk=take.pk, status__in=Take.IN_FLIGHT).update(
            status=Status.DOWNLOADING,
            progress=1,
            was_running=True,
            cost_credits=state.cost_credits,
            claimed_until=None,
        )
        if moved:
            _enqueue_now("finish_take", take.pk)
    elif state.status == TaskStatus.FAILED:
        _handle_failure(
            take, code=state.failure_code or "", failure=state.failure or "", charge=_charge(take, state)
        )
    elif state.status == TaskStatus.CANCELLED:
        charge = _charge(take, state)
        _fail_take(
            take,
            code=Code.CANCELLED,
            message="The task was cancelled at Runway.",
            status=Status.CANCELLED,
            charge=charge,
        )


def _handle_failure(take: Take, *, code: str, failure: str, charge: int = 0) -> None:
    """A FAILED task: settle at what Runway charged, and start a new take of the same request
    automatically where the failure table says so (`failures.lookup`: at once after an INTERNAL
    failure, after a delay when a provider or preprocessing was unavailable, never when the input
    has to change, as after INTERNAL.BAD_OUTPUT) while attempts remain. The new take inherits the
    hold when the failure was refunded; otherwise it needs a new hold, and without room for it the
    shot stops. A delayed take waits in the queue (`next_poll_at`) for recovery or its sequence."""
    row = failures.lookup(code)
    if row.retry is not failures.Retry.NEVER and take.attempt < settings.RUNWAY_INTERNAL_RETAKES:
        delayed = row.retry is failures.Retry.AFTER_DELAY
        with transaction.atomic():
            moved = Take.objects.filter(pk=take.pk, status__in=Take.IN_FLIGHT).update(
                status=Status.FAILED,
                failure_code=code,
                failure_message=failures.retry_message(code),
                finished_at=timezone.now(),
                cost_credits=charge,
            )
            if not moved:
                return
            hold = credits.hold_for_take(take)
            reason = "Automatic retake after a Runway internal failure"
            if charge:
                _close_hold(take, charge=charge, reason=f"Runway task {take.runway_task_id} failed ({code})")
                try:
                    with transaction.atomic():
                        retake = _copy_for_retake(take)
                        credits.reserve(
                            take.user,
                            credits=take.estimated_credits,
                            reason=reason,
                            project=Sequence.objects.get(pk=take.sequence_id).project,
                            take=retake,
                        )
                except credits.InsufficientCredits as exc:
                    Take.objects.filter(pk=take.pk).update(
                        failure_message=f"{failures.user_message(code)} {exc}"[:1000]
                    )
                    enqueue("advance_sequence", take.sequence_id)
                    return
            else:
                retake = _copy_for_retake(take)
                if hold is not None:
                    credits.transfer_hold(hold, take=retake, reason=reason)
            if delayed:
                Take.objects.filter(pk=retake.pk).update(
                    next_poll_at=timezone.now() + failures.RETRY_DELAY,
                    failure_message=failures.retry_message(code)[:1000],
                )
            elif not kinds.of(take).in_run:
                enqueue("submit_take", retake.pk)
            if kinds.of(take).in_run:
                enqueue("advance_sequence", take.sequence_id)
        return
    _fail_take(take, code=code, message=failures.user_message(code), charge=charge)


def _copy_for_retake(take: Take) -> Take:
    return Take.objects.create(
        kind=take.kind,
        sequence_id=take.sequence_id,
        shot_id=take.shot_id,
        keyframe_id=take.keyframe_id,
        version_id=take.version_id,
        part_start_frame=take.part_start_frame,
        part_end_frame=take.part_end_frame,
        # A keyframe image, narration or master part carries its own origin (it is not part of a run).
        runway_origin="" if kinds.of(take).in_run else take.runway_origin,
        user_id=take.user_id,
        endpoint=take.endpoint,
        request=take.request,
        notices=take.notices,
        first_frame_from=take.first_frame_from,
        first_frame_image_id=take.first_frame_image_id,
        last_frame_image_id=take.last_frame_image_id,
        input_first_frame=take.input_first_frame.name,
        input_last_frame=take.input_last_frame.name,
        estimated_credits=take.estimated_credits,
        attempt=take.attempt + 1,
    )


def _fail_take(
    take: Take,
    *,
    code: str,
    message: str,
    status: str = Status.FAILED,
    charge: int | None = None,
    claim: leases.Claim | None = None,
) -> bool:
    """End an active take (only while `claim` is still ours, when given). `charge` is what Runway
    charged for its task (settled, the rest released); None means Runway never made it or nothing
    was charged (the hold is released whole). False when the take had moved on."""
    rows = claim.rows() if claim is not None else Take.objects.filter(pk=take.pk)
    with transaction.atomic():
        moved = rows.filter(status__in=ACTIVE).update(
            status=status,
            failure_code=code[:100],
            failure_message=message[:1000],
            finished_at=timezone.now(),
            cost_credits=charge,
            **leases.RELEASED,
        )
        if moved:
            what = f"Take {status}: {code}" if code else f"Take {status}"
            if charge is not None and take.runway_task_id:
                what = f"Runway task {take.runway_task_id} {status} ({code})" if code else what
            _close_hold(take, charge=charge, reason=what)
            enqueue("advance_sequence", take.sequence_id)
    return bool(moved)


# --- finishing a take ---------------------------------------------------------------------------


def finish_take(take_pk: int, *, client: runway.RunwayClient | None = None) -> None:
    """Store a succeeded take: stream the output to storage, check it, grab its exact last frame,
    settle its hold at Runway's cost, choose it, and advance the sequence.

    Idempotent: claimed with a lease, renewed while the download and checks run; a lapsed lease
    (the worker died) is taken over, and a worker taken over records nothing. An expired or broken
    output link is refreshed by getting the task again.
    """
    client = client or runway.client_from_settings()
    claim = leases.claim(Take, take_pk, _ours(client.origin), status=Status.DOWNLOADING)
    if claim is None:
        return
    with leases.hold(claim):
        _finish(take_pk, client, claim)


def _finish(take_pk: int, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """`finish_take` for a claimed take, under its held lease."""
    take = Take.objects.select_related("shot__sequence").get(pk=take_pk)
    kinds.of(take).store_output(take, client, claim)


def finish_clip(take: Take, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """A clip's output (claimed by the caller): check it, keep its last frame, choose it for its
    shot and let the run go on."""
    expected = float(take.request.get("duration") or 0) or None

    def check(clip: Path) -> tuple[media.Probe, Path]:
        probe = media.verify_clip(clip, expected_duration=expected) if expected else media.probe(clip)
        frame = clip.with_name("last.png")
        media.extract_last_frame(clip, frame)
        return probe, frame

    with tempfile.TemporaryDirectory(prefix="take-") as tmp:
        clip = Path(tmp) / "clip.mp4"
        downloaded = download_checked(take, claim, client, clip, check)
        if downloaded is None:
            return
        state, (probe, frame) = downloaded
        with clip.open("rb") as fh:
            output_name = default_storage.save(f"takes/{take.shot.sequence_id}/take-{take.pk}.mp4", File(fh))
        with frame.open("rb") as fh:
            frame_name = default_storage.save(
                f"takes/{take.shot.sequence_id}/take-{take.pk}-last.png", File(fh)
            )

    def then() -> None:
        take.refresh_from_db()
        choose_take(take)
        enqueue("advance_sequence", take.shot.sequence_id)

    record_success(
        take, claim, state, output=output_name, last_frame=frame_name, duration=probe.duration, then=then
    )


def finish_image(take: Take, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """`finish_take` for a keyframe image (claimed by the caller): save the image, check that it
    decodes, settle at Runway's cost. The image is offered, not chosen: the user chooses."""
    with tempfile.TemporaryDirectory(prefix="take-") as tmp:
        path = Path(tmp) / "image"
        downloaded = download_checked(take, claim, client, path, _check_image)
        if downloaded is None:
            return
        state, kind = downloaded
        with path.open("rb") as fh:
            output_name = default_storage.save(
                f"takes/{take.shot.sequence_id}/keyframe-take-{take.pk}.{kind}", File(fh)
            )
    record_success(take, claim, state, output=output_name)


def _check_image(path: Path) -> str:
    """Check that a downloaded keyframe image decodes; its file extension ("png", "jpg", "webp")."""
    try:
        with Image.open(path) as image:
            image.load()
            kind = (image.format or "PNG").lower()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise OSError(f"The image Runway made could not be read: {exc}") from exc
    return {"jpeg": "jpg"}.get(kind, kind)


def _settled_cost(take: Take, state) -> int:
    cost = state.cost_credits if state.cost_credits is not None else take.cost_credits
    return take.estimated_credits if cost is None else cost


def download_checked(
    take: Take, claim: leases.Claim, client: runway.RunwayClient, dest: Path, check: Callable[[Path], T]
):
    """Download a succeeded take's output into `dest` and `check` it (which raises MediaError or
    OSError for an output that will not do); (Runway's task state, what `check` returned).

    A failure counts as one download attempt and is raised for the queue (or recovery) to try
    again; after MAX_DOWNLOAD_ATTEMPTS the take is settled as paid and left to be fetched again
    (`_download_failed`), and None is returned. None too, with nothing written, when the take was
    taken over meanwhile (this worker's lease lapsed): the other worker records it."""
    try:
        state = _download_output(client, take, dest)
        checked = check(dest)
    except (runway.RunwayError, media.MediaError, OSError) as exc:
        attempts = take.download_attempts + 1
        if attempts >= MAX_DOWNLOAD_ATTEMPTS:
            _download_failed(take, claim, exc)
            return None
        if not claim.rows().update(download_attempts=attempts, **leases.RELEASED):
            return None
        raise
    if not claim.is_ours():
        return None
    return state, checked


def record_success(
    take: Take, claim: leases.Claim, state, *, then: Callable[[], None] | None = None, **files_and_fields
) -> bool:
    """Record a downloading take as succeeded with its saved files and fields, settle its hold at
    Runway's cost and run `then` (what follows from it: choosing it, queueing the next step), all
    in one transaction, while `claim` is still ours. False, and the files saved for it deleted,
    when another worker took it over or recorded it first: every finish may run twice."""
    cost = _settled_cost(take, state)
    with transaction.atomic():
        moved = claim.rows(status=Status.DOWNLOADING).update(
            status=Status.SUCCEEDED,
            cost_credits=cost,
            finished_at=timezone.now(),
            failure_message="",
            **leases.RELEASED,
            **files_and_fields,
        )
        if not moved:
            for name in ("output", "last_frame"):
                if files_and_fields.get(name):
                    default_storage.delete(files_and_fields[name])
            return False
        hold = credits.hold_for_take(take)
        if hold is not None:
            credits.settle(hold, credits=cost, reason=f"Runway task {take.runway_task_id} succeeded")
        if then is not None:
            then()
    return True


def _download_failed(take: Take, claim: leases.Claim, exc: Exception) -> None:
    """Runway made the clip (so it was paid) but it could not be saved: settle at its cost and keep
    the take ready to be fetched again, by the user or by recovery, without paying again."""
    charge = take.cost_credits if take.cost_credits is not None else take.estimated_credits
    now = timezone.now()
    with transaction.atomic():
        moved = claim.rows(status=Status.DOWNLOADING).update(
            status=Status.FAILED,
            failure_code=Code.DOWNLOAD,
            failure_message=f"Runway made this {_output_word(take)}, but it could not "
            f"be saved ({exc}). Fetch it again: "
            "that is not charged twice."[:1000],
            cost_credits=charge,
            finished_at=now,
            next_poll_at=now + REFETCH_DELAY,
            **leases.RELEASED,
        )
        if moved:
            _close_hold(
                take,
                charge=charge,
                reason=f"Runway task {take.runway_task_id} succeeded; its output could not be saved yet",
            )
            enqueue("advance_sequence", take.sequence_id)


def _output_word(take: Take) -> str:
    return take.output_word


def _download_output(client: runway.RunwayClient, take: Take, dest: Path):
    """Download the output, getting the task again for a fresh URL when a link fails."""
    last_error: Exception | None = None
    for _ in range(3):
        state = client.get_task(take.runway_task_id)
        if not state.output:
            raise runway.RunwayError("Runway reported success but gave no output.")
        try:
            with dest.open("wb") as fh:
                client.download_output(state.output[0], fh)
            return state
        except runway.RunwayDownloadError as exc:
            last_error = exc
            log.info("Download of take %s failed (%s); getting a fresh URL", take.pk, exc)
    raise last_error


# --- assembling ---------------------------------------------------------------------------------


def assemble_sequence(sequence_pk: int) -> None:
    """Concatenate the chosen takes into the film and make a poster. Idempotent: claimed with a
    lease, renewed while ffmpeg runs; a lapsed lease (the worker died) is taken over, and a worker
    taken over records no film (one version per assembly)."""
    claim = leases.claim(Sequence, sequence_pk, status=SeqStatus.ASSEMBLING)
    if claim is None:
        return
    with leases.hold(claim):
        _assemble(sequence_pk, claim)


def _assemble(sequence_pk: int, claim: leases.Claim) -> None:
    """`assemble_sequence` for a claimed sequence, under its held lease."""
    sequence = Sequence.objects.get(pk=sequence_pk)
    shots = list(sequence.shots.order_by("position", "pk").select_related("chosen_take"))
    with tempfile.TemporaryDirectory(prefix="film-") as tmp:
        clips = []
        for index, shot in enumerate(shots):
            path = Path(tmp) / f"clip-{index:03d}.mp4"
            with shot.chosen_take.output.open("rb") as src, path.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            clips.append(path)
        film = Path(tmp) / "film.mp4"
        poster = Path(tmp) / "poster.jpg"
        narration = _narration_file(sequence, Path(tmp))
        try:
            result = media.assemble(clips, film)
            if narration is not None:
                film = _mix_narration(film, narration)
            media.make_poster(film, poster)
        except media.MediaError as exc:
            failed = claim.rows(status=SeqStatus.ASSEMBLING).update(
                status=SeqStatus.FAILED,
                status_message=f"The film could not be assembled: {exc}"[:500],
                finished_at=timezone.now(),
                **leases.RELEASED,
            )
            if failed:
                notifications.run_ended(sequence_pk)
            return
        if not claim.is_ours():
            return  # taken over: the other worker makes the film
        # New files every time: earlier versions keep theirs (storage picks a free name).
        with film.open("rb") as fh:
            film_name = default_storage.save(f"films/{sequence_pk}/film.mp4", File(fh))
        with poster.open("rb") as fh:
            poster_name = default_storage.save(f"films/{sequence_pk}/poster.jpg", File(fh))
    recorded = _record_film_version(
        sequence_pk,
        token=claim.token,
        film=film_name,
        poster=poster_name,
        duration=result.duration,
        narration_id=sequence.narration_take_id if narration is not None else None,
    )
    if not recorded:
        for name in (film_name, poster_name):
            default_storage.delete(name)


def _narration_file(sequence: Sequence, workdir: Path) -> Path | None:
    """The chosen narration of the sequence copied into `workdir`, or None without one."""
    take = (
        Take.objects.filter(pk=sequence.narration_take_id, status=Status.SUCCEEDED).exclude(output="").first()
    )
    if take is None:
        return None
    path = workdir / "narration.mp3"
    with take.output.open("rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    return path


def _mix_narration(film: Path, narration: Path) -> Path:
    """The film with the narration over it, the clips' own sound lowered under the voice; same length."""
    mixed = film.with_name("film-narrated.mp4")
    media.mix_narration(film, narration, mixed)
    return mixed


def _record_film_version(
    sequence_pk: int,
    *,
    film: str,
    poster: str,
    duration: float,
    narration_id: int | None = None,
    token: str = "",
) -> FilmVersion | None:
    """Finish the assembly: the sequence moves from assembling to done (compare-and-set on the
    assembler's claim `token`, "" for a sequence nobody claimed) and the film becomes its next
    numbered version, in one transaction. The sequence's own film, poster and duration point at
    this latest version. None when another worker finished first or took the assembly over.

    The UPDATE locks the sequence's row until commit, so two assemblies of one sequence take their
    numbers one after the other; the unique (sequence, number) constraint stands behind it."""
    with transaction.atomic():
        moved = Sequence.objects.filter(
            pk=sequence_pk, status=SeqStatus.ASSEMBLING, claim_token=token
        ).update(
            status=SeqStatus.DONE,
            film=film,
            poster=poster,
            film_duration=duration,
            finished_at=timezone.now(),
            status_message="",
            **leases.RELEASED,
        )
        if not moved:
            return None
        notifications.run_ended(sequence_pk)
        last = FilmVersion.objects.filter(sequence_id=sequence_pk).aggregate(last=Max("number"))["last"]
        return FilmVersion.objects.create(
            sequence_id=sequence_pk,
            number=(last or 0) + 1,
            film=film,
            poster=poster,
            duration=duration,
            narration_id=narration_id,
            # What it is made of, read now while the sequence's row is held.
            contents=film_contents(sequence_pk),
        )


# --- recovery -----------------------------------------------------------------------------------


def recover(*, client: runway.RunwayClient | None = None) -> int:
    """Re-enqueue work whose worker died: lapsed downloads and assemblies, stuck submissions,
    cancellations that could not reach Runway, outputs to fetch again, and running sequences with
    queued takes. Duplicates are harmless (every task claims first). Never resends a create that
    may have reached Runway."""
    now = timezone.now()
    lapsed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ours = _ours(current_origin(client))
    count = 0
    for pk in Take.objects.filter(lapsed, ours, status=Status.DOWNLOADING).values_list("pk", flat=True):
        _enqueue_now("finish_take", pk)
        count += 1
    # A submission whose worker died before Runway answered: the task id was never stored.
    for take in Take.objects.filter(
        ours, status=Status.SUBMITTING, claimed_until__lt=now, runway_task_id__isnull=True
    ).select_related("shot"):
        if take.create_sent_at is None:
            # It died before the request left: sending it is safe.
            Take.objects.filter(
                pk=take.pk, status=Status.SUBMITTING, claimed_until=take.claimed_until, create_sent_at=None
            ).update(status=Status.QUEUED, taken_over_at=now, **leases.RELEASED)
        else:
            _mark_unconfirmed(
                take,
                from_statuses=(Status.SUBMITTING,),
                message="The worker sending this take to Runway stopped before Runway answered, so whether "
                "Runway made (and charged) it is unknown. Retake the shot to go on.",
            )
        count += 1
    # A take whose worker died after Runway answered and the id was stored.
    Take.objects.filter(
        ours, status=Status.SUBMITTING, claimed_until__lt=now, runway_task_id__isnull=False
    ).update(status=Status.PENDING, next_poll_at=now, **leases.RELEASED)
    count += _finish_cancellations(now, ours, client=client)
    # Outputs Runway made (and was paid for) that could not be saved: try again now and then while
    # Runway keeps them (output URLs last 24-48 hours; a GET gives fresh ones).
    for take in Take.objects.filter(
        ours,
        status=Status.FAILED,
        failure_code=Code.DOWNLOAD,
        next_poll_at__lte=now,
        finished_at__gte=now - dt.timedelta(hours=24),
    ):
        try:
            fetch_take_again(take, client=client)
            count += 1
        except PipelineError:
            pass
    for pk in Sequence.objects.filter(lapsed, ours, status=SeqStatus.ASSEMBLING).values_list("pk", flat=True):
        _enqueue_now("assemble_sequence", pk)
        count += 1
    moving_clips = Take.objects.filter(
        sequence=OuterRef("pk"),
        kind=Take.Kind.CLIP,
        status__in=(Status.SUBMITTING, *Take.IN_FLIGHT, Status.DOWNLOADING),
    )
    running = Sequence.objects.filter(ours, status=SeqStatus.RUNNING).exclude(Exists(moving_clips))
    for pk in running.values_list("pk", flat=True).distinct():
        _enqueue_now("advance_sequence", pk)
        count += 1
    # Keyframe images are submitted as soon as they are held, not by a run: send those whose
    # submission was lost (a worker died before it claimed them) or put off (Runway was busy).
    for pk in Take.objects.filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now),
        STANDALONE,
        ours,
        status=Status.QUEUED,
        created_at__lt=now - dt.timedelta(seconds=settings.RUNWAY_POLL_INTERVAL),
    ).values_list("pk", flat=True):
        _enqueue_now("submit_take", pk)
        count += 1
    # What a kind queues beyond its takes (a master whose parts are made but whose joining died).
    for kind in kinds.KINDS.values():
        for task, args in kind.recovery_tasks():
            _enqueue_now(task, *args)
            count += 1
    return count


def _finish_cancellations(now: dt.datetime, ours: Q, *, client: runway.RunwayClient | None = None) -> int:
    """Close the holds of cancelled takes whose cancelling process died or could not reach Runway."""
    open_hold = credits.open_holds().filter(take=OuterRef("pk"))
    pending = Take.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        ours,
        Exists(open_hold),
        status=Status.CANCELLED,
    )
    count = 0
    for take in pending:
        claim = leases.claim(Take, take.pk, status=Status.CANCELLED)
        if claim is None:
            continue
        with leases.hold(claim):
            if take.runway_task_id:
                client = client or runway.client_from_settings()
                _stop_at_runway(take, client, claim)
            elif take.create_sent_at is not None:
                _mark_unconfirmed(
                    take,
                    from_statuses=(Status.CANCELLED,),
                    claim=claim,
                    message="Cancelled while it was sent to Runway, and Runway's answer was lost, so "
                    "whether Runway made (and charged) it is unknown.",
                )
            elif claim.release():
                _release_take(take, reason="Take cancelled before it was sent to Runway")
        count += 1
    return count


# --- queueing -----------------------------------------------------------------------------------


def enqueue(task: str, *args) -> None:
    """Queue a task once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: _enqueue_now(task, *args))


@contextlib.contextmanager
def running_inline() -> Iterator[None]:
    """Within this block, in this thread, queued work runs at once in this process, as with
    PIPELINE_INLINE: a command line drives its job without a qcluster."""
    token = _inline.set(True)
    try:
        yield
    finally:
        _inline.reset(token)


# Per thread, so that a job running inline never changes how other work is queued.
_inline: contextvars.ContextVar[bool] = contextvars.ContextVar("pipeline_inline", default=False)


def _enqueue_now(task: str, *args) -> None:
    if settings.PIPELINE_INLINE or _inline.get():
        from generation import tasks

        try:
            getattr(tasks, task)(*args)
        except Exception:
            # Inline runs (the CLI) recover the same way the queue does: the poller's recover().
            log.exception("Inline task %s%s failed", task, args)
        return
    from django_q.tasks import async_task

    async_task(f"generation.tasks.{task}", *args, group=task)
