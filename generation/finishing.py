"""Finishing a sequence: its narration (Runway's text_to_speech) and the 4K master of a film
version (Runway's video_upscale).

Both are takes (`Take.sequence` set, no shot), held, submitted, polled, saved, settled, cancelled and
recovered by the pipeline like any take; the pipeline asks this module for their request bodies
(`request_body`) and to store their outputs (`finish`). Like keyframe images they are not part of a
sequence's run: each is sent as soon as it is held, and a failure stops nothing (it is settled at
what Runway charged, refunded failures cost nothing, and the user makes another).

- A narration is said over the whole film and mixed over it when the film is assembled
  (`pipeline.assemble_sequence`); the sequence names the chosen one. A script that would take longer
  to say than the film lasts is refused before anything is held.
- Runway upscales at most 30 s, so a master is made in parts: the film is cut at frame numbers into
  the fewest equal parts under that limit, each part is one take, and the parts are joined into
  `FilmVersion.master` when all have succeeded. A part that failed is made again by asking for the
  master again; the parts already made are kept and not paid for twice.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum

from generation import catalog, credits, estimates, leases, media, pipeline, runway
from generation.models import Take
from projects.models import FilmVersion, Sequence

log = logging.getLogger(__name__)

Status = Take.Status
# Parts stay this far under Runway's 30 s limit: a part's sound may end a few milliseconds after its
# last frame (AAC frames), and Runway measures the whole file.
PART_MARGIN_SECONDS = 0.5
MASTER_RESOLUTION = "4k"
# A master part may differ from its cut by this much (Runway's frame timing, AAC padding).
PART_DURATION_TOLERANCE = 0.25
# Runway has not published its 4K geometry (runway-api.md section 11: only 1k and 2k were captured),
# so the guessed size may be a few pixels off: a part is accepted when its long side is within this
# many pixels of the guess and its shape matches the film's (within the 16-pixel rounding Runway
# applies to the short side). A part paid for is never thrown away over a rounding guess.
PART_LONG_SIDE_TOLERANCE = 16
PART_ASPECT_TOLERANCE = 0.01


# --- narration -----------------------------------------------------------------------------------


def film_seconds(sequence: Sequence) -> float | None:
    """How long the film lasts: the latest assembled film, or before there is one, the shots'
    durations added up. None for a sequence without shots."""
    if sequence.film_duration:
        return sequence.film_duration
    total = sum(sequence.shots.values_list("duration", flat=True))
    return float(total) or None


@dataclass
class NarrationEstimate:
    sequence: Sequence
    film_seconds: float | None
    built: catalog.BuiltSpeechRequest | None = None
    error: str = ""

    @property
    def total_credits(self) -> int:
        return self.built.estimated_credits if self.built else 0

    @property
    def speech_seconds(self) -> float | None:
        """About how long the saved script takes to say, also when it cannot be made."""
        sequence = self.sequence
        if not (sequence.narration_script or "").strip():
            return None
        return catalog.estimate_speech_seconds(
            sequence.narration_script, speed=float(sequence.narration_speed or 1.0)
        )

    @property
    def over_seconds(self) -> float | None:
        """By how many seconds the script would overrun the film; None when it fits."""
        speech = self.speech_seconds
        if speech is None or self.film_seconds is None or speech <= self.film_seconds:
            return None
        return round(speech - self.film_seconds, 1)


def estimate_narration(sequence: Sequence) -> NarrationEstimate:
    """What "Make narration" holds for the sequence's script, voice and model, or why it cannot be
    made (`error`): no script, too long for the model, or longer to say than the film lasts. The
    pages and `make_narration` both use this, so the amount confirmed is the amount held."""
    seconds = film_seconds(sequence)
    estimate = NarrationEstimate(sequence=sequence, film_seconds=seconds)
    if seconds is None:
        estimate.error = "Add shots first: a narration is said over the film, and there is no film yet."
        return estimate
    try:
        estimate.built = catalog.build_speech_request(
            prices=estimates.price_book(),
            model=sequence.narration_model,
            script=sequence.narration_script,
            voice=sequence.narration_voice,
            speed=sequence.narration_speed,
            film_seconds=seconds,
        )
    except catalog.UnsupportedRequest as exc:
        estimate.error = str(exc)
    return estimate


def make_narration(sequence: Sequence, *, user, expected_credits: int | None = None) -> Take:
    """Make a narration of the sequence's script (`estimate_narration`): hold its estimate and send
    it to Runway after the commit. A sequence with a narration gets another take (a retake); the
    chosen one stays chosen until the user chooses the new one.

    Raises PipelineError (a narration already on its way, a script that cannot be said as it is, an
    estimate other than `expected_credits`, the amount the user confirmed) or
    credits.InsufficientCredits, writing nothing. The sequence row is locked, so a double click
    makes one narration and is refused the second.
    """
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().select_related("project").get(pk=sequence.pk)
        if narration_takes(sequence).filter(status__in=Take.ACTIVE).exists():
            raise pipeline.PipelineError("A narration is already being made; wait for it or stop it.")
        estimate = estimate_narration(sequence)
        if estimate.error:
            raise pipeline.PipelineError(estimate.error)
        pipeline.check_expected(estimate.total_credits, expected_credits)
        built = estimate.built
        take = Take.objects.create(
            kind=Take.Kind.NARRATION,
            sequence=sequence,
            user=user,
            status=Status.QUEUED,
            endpoint=built.endpoint,
            request=built.body,
            notices=list(built.notices),
            estimated_credits=built.estimated_credits,
            runway_origin=pipeline.current_origin(),
        )
        credits.reserve(
            user,
            credits=take.estimated_credits,
            reason=f"Narration of '{sequence.title}'",
            project=sequence.project,
            take=take,
        )
        pipeline.enqueue("submit_take", take.pk)
    return take


retake_narration = make_narration


def narration_takes(sequence: Sequence):
    return Take.objects.filter(sequence=sequence, kind=Take.Kind.NARRATION).order_by("created_at", "pk")


def choose_narration_take(take: Take) -> None:
    """Make a finished narration the one mixed over the film from the next assembly on ("Assemble
    again" makes a new version with it; clips are not made again). Idempotent."""
    if not take.is_narration:
        raise pipeline.PipelineError("This take is not a narration.")
    if take.status != Status.SUCCEEDED or not take.output:
        raise pipeline.PipelineError("Only a finished narration can be chosen.")
    Sequence.objects.filter(pk=take.sequence_id).update(narration_take=take)


def drop_narration(sequence: Sequence) -> None:
    """Assemble the film without a narration from now on; the narrations are kept to choose again."""
    Sequence.objects.filter(pk=sequence.pk).update(narration_take=None)


def needs_assembly_for_narration(sequence: Sequence) -> bool:
    """Whether the latest film does not have the narration now chosen (or has one no longer chosen)."""
    latest = sequence.versions.order_by("-number").first()
    return latest is not None and latest.narration_id != sequence.narration_take_id


def assemble_again(sequence: Sequence, *, user) -> None:
    """Assemble a finished sequence's film again from its chosen takes, with the chosen narration,
    as a new version. Costs nothing: no clip is made. Raises PipelineError unless the sequence is
    done (a run makes its film itself). Double clicks assemble once."""
    moved = Sequence.objects.filter(pk=sequence.pk, status=Sequence.Status.DONE).update(
        status=Sequence.Status.RUNNING,
        runway_origin=pipeline.current_origin(),
        status_message="",
        started_by=user,
        finished_at=None,
        claimed_until=None,
    )
    if not moved:
        raise pipeline.PipelineError("Only a finished film can be assembled again; this one is on its way.")
    pipeline.enqueue("advance_sequence", sequence.pk)


# --- the 4K master -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilmFacts:
    width: int
    height: int
    fps: float
    duration: float
    frames: int


def film_facts_key(version_pk: int, film_name: str) -> str:
    """Where `film_facts` keeps a version's facts in the cache."""
    return f"film-facts:{version_pk}:{film_name}"


def film_facts(version: FilmVersion) -> FilmFacts:
    """The size, frame rate, length and frame count of a version's film, read with ffmpeg once and
    then kept (a version's film never changes). Raises media.MediaError or OSError for a film that
    is missing or unreadable. Runs ffmpeg: never inside a transaction."""
    key = film_facts_key(version.pk, version.film.name)
    kept = cache.get(key)
    if kept is not None:
        return FilmFacts(**kept)
    with tempfile.TemporaryDirectory(prefix="master-") as tmp:
        path = Path(tmp) / "film.mp4"
        _copy_to(version.film, path)
        info = media.probe(path)
        facts = FilmFacts(
            width=info.width,
            height=info.height,
            fps=info.fps or 24,
            duration=info.duration,
            frames=media.count_video_frames(path),
        )
    cache.set(key, dataclasses.asdict(facts), None)
    return facts


def part_bounds(frames: int, fps: float, *, max_seconds: float) -> list[tuple[int, int]]:
    """The film's frames cut into the fewest equal parts of at most `max_seconds` less
    PART_MARGIN_SECONDS each: (first frame, end frame) pairs, end exclusive, back to back."""
    per_part = max(1, math.floor((max_seconds - PART_MARGIN_SECONDS) * fps))
    count = max(1, math.ceil(frames / per_part))
    return [(round(i * frames / count), round((i + 1) * frames / count)) for i in range(count)]


@dataclass
class MasterPart:
    number: int
    start_frame: int
    end_frame: int
    fps: float
    built: catalog.BuiltUpscaleRequest | None = None
    # A finished part from an earlier try, kept: it is not made (or paid for) again.
    take: Take | None = None

    @property
    def credits(self) -> int:
        return 0 if self.take is not None or self.built is None else self.built.estimated_credits

    @property
    def start_seconds(self) -> float:
        return self.start_frame / self.fps

    @property
    def seconds(self) -> float:
        return (self.end_frame - self.start_frame) / self.fps

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame


@dataclass
class MasterEstimate:
    version: FilmVersion
    parts: list[MasterPart] = field(default_factory=list)
    width: int = 0  # of the master
    height: int = 0
    error: str = ""

    @property
    def to_make(self) -> list[MasterPart]:
        return [p for p in self.parts if p.take is None]

    @property
    def total_credits(self) -> int:
        return sum(p.credits for p in self.parts)


def estimate_master(
    version: FilmVersion, facts: FilmFacts | None = None, *, takes: list[Take] | None = None
) -> MasterEstimate:
    """The parts of a version's 4K master, what each costs (Runway bills per output frame) and which
    are already made (from `takes`, its master takes, when the caller has them); `error` says why no
    master can be made. Reads the film's facts with ffmpeg unless given (`film_facts`): call outside
    any transaction, or pass `facts`."""
    estimate = MasterEstimate(version=version)
    if not version.film:
        estimate.error = "This version has no film to master."
        return estimate
    if facts is None:
        try:
            facts = film_facts(version)
        except (media.MediaError, OSError) as exc:
            estimate.error = f"The film of version {version.number} could not be read: {exc}"
            return estimate
    model = catalog.UPSCALE_MODELS[catalog.DEFAULT_UPSCALE_MODEL]
    kept = _finished_parts(version, takes)
    prices = estimates.price_book()
    for number, (start, end) in enumerate(
        part_bounds(facts.frames, facts.fps, max_seconds=model.max_seconds), 1
    ):
        part = MasterPart(number=number, start_frame=start, end_frame=end, fps=facts.fps)
        try:
            part.built = catalog.build_upscale_request(
                prices=prices,
                duration=part.seconds,
                fps=facts.fps,
                width=facts.width,
                height=facts.height,
                frames=part.frames,
                model=model.id,
                resolution=MASTER_RESOLUTION,
            )
        except catalog.UnsupportedRequest as exc:
            estimate.error = str(exc)
            return estimate
        part.take = kept.get((start, end))
        if part.take is not None and part.take.request != part.built.body:
            part.take = None
        estimate.parts.append(part)
    estimate.width, estimate.height = estimate.parts[0].built.width, estimate.parts[0].built.height
    return estimate


def _finished_parts(version: FilmVersion, takes: list[Take] | None = None) -> dict[tuple[int, int], Take]:
    """The newest finished take of each part of the version's master, by (first frame, end frame),
    from its master takes when given, else from the database."""
    if takes is None:
        takes = Take.objects.filter(version=version, status=Status.SUCCEEDED).exclude(output="")
    found = {}
    for take in sorted(takes, key=lambda t: t.pk):
        if take.version_id == version.pk and take.status == Status.SUCCEEDED and take.output:
            found[(take.part_start_frame, take.part_end_frame)] = take
    return found


def master_takes(version: FilmVersion):
    return Take.objects.filter(version=version, endpoint=catalog.VIDEO_UPSCALE).order_by("created_at", "pk")


def make_master(version: FilmVersion, *, user, expected_credits: int | None = None) -> list[Take]:
    """Make the 4K master of a film version: hold the parts still to make (`estimate_master`), all at
    once, and send them to Runway after the commit; when every part is done they are joined into
    `version.master`. With every part already made, only the joining is queued (nothing is held).

    Raises PipelineError (a master already made or on its way, a film that cannot be mastered, an
    estimate other than `expected_credits`) or credits.InsufficientCredits, writing nothing. Reads
    the film with ffmpeg before its transaction; the sequence row is locked while holding, so a
    double click makes one master.
    """
    if version.master:
        raise pipeline.PipelineError(f"Version {version.number} already has a 4K master.")
    facts = None
    if version.film:
        try:
            facts = film_facts(version)
        except (media.MediaError, OSError) as exc:
            raise pipeline.PipelineError(
                f"The film of version {version.number} could not be read: {exc}"
            ) from exc
    with transaction.atomic():
        sequence = Sequence.objects.select_for_update().select_related("project").get(pk=version.sequence_id)
        version = FilmVersion.objects.get(pk=version.pk)
        if version.master:
            raise pipeline.PipelineError(f"Version {version.number} already has a 4K master.")
        if master_takes(version).filter(status__in=Take.ACTIVE).exists():
            raise pipeline.PipelineError(f"A 4K master of version {version.number} is already being made.")
        estimate = estimate_master(version, facts)
        if estimate.error:
            raise pipeline.PipelineError(estimate.error)
        pipeline.check_expected(estimate.total_credits, expected_credits)
        origin = pipeline.current_origin()
        takes = [
            Take.objects.create(
                kind=Take.Kind.MASTER_PART,
                sequence=sequence,
                version=version,
                user=user,
                status=Status.QUEUED,
                endpoint=part.built.endpoint,
                request=part.built.body,
                estimated_credits=part.built.estimated_credits,
                part_start_frame=part.start_frame,
                part_end_frame=part.end_frame,
                runway_origin=origin,
            )
            for part in estimate.to_make
        ]
        if takes:
            credits.reserve_many(
                user,
                holds=[
                    {"credits": t.estimated_credits, "project": sequence.project, "take": t} for t in takes
                ],
                reason=f"4K master of '{sequence.title}' version {version.number}",
            )
        for take in takes:
            pipeline.enqueue("submit_take", take.pk)
        if not takes:
            pipeline.enqueue("join_master", version.pk)
    return takes


def join_master(version_pk: int) -> FilmVersion | None:
    """Join the finished parts of a version's master into `version.master` once all are made.

    Safe to run twice or concurrently: it does nothing while a part is missing or once the master is
    there. One worker joins at a time: the join is claimed with a lease on the first part's take (its
    `claimed_until`, unused once a take has succeeded), renewed while ffmpeg runs; a worker that died
    mid-join is taken over when the lease lapses, and a join that failed is tried again then. The
    master is recorded only while the claim is still ours and the version has none (compare-and-set),
    else the file is removed. Runs ffmpeg: never inside a transaction.
    """
    version = FilmVersion.objects.filter(pk=version_pk).select_related("sequence").first()
    if version is None or version.master:
        return None
    estimate = estimate_master(version)
    if estimate.error or not estimate.parts or estimate.to_make:
        return None
    lead = estimate.parts[0].take
    claim = leases.claim(Take, lead.pk, status=Status.SUCCEEDED)
    if claim is None:
        return None
    with leases.hold(claim):
        name = _join_parts(version, estimate)
    if not name:
        return None  # the lease is left to lapse: the join is tried again then
    with transaction.atomic():
        recorded = claim.release() and FilmVersion.objects.filter(pk=version.pk, master="").update(
            master=name
        )
    if not recorded:
        default_storage.delete(name)
        return None
    version.refresh_from_db()
    return version


def _join_parts(version: FilmVersion, estimate: MasterEstimate) -> str:
    """Join the master's parts with ffmpeg and save the master: its storage name, or "" when the
    join failed (logged; it is tried again when the claim lapses)."""
    version_pk = version.pk
    with tempfile.TemporaryDirectory(prefix="master-") as tmp:
        paths = []
        for part in estimate.parts:
            path = Path(tmp) / f"part-{part.number:03d}.mp4"
            _copy_to(part.take.output, path)
            paths.append(path)
        out = Path(tmp) / "master.mp4"
        try:
            # The parts' real size, not the guessed one: assemble keeps the first part's frame.
            first = media.probe(paths[0])
            media.assemble(paths, out)
            info = media.probe(out)
        except media.MediaError:
            log.exception("Could not join the master parts of film version %s", version_pk)
            return ""
        if (info.width, info.height) != (first.width, first.height):
            log.error("The master of film version %s is %sx%s, not its parts' %sx%s", version_pk,
                      info.width, info.height, first.width, first.height)  # fmt: skip
            return ""
        with out.open("rb") as fh:
            # The name says the master's real size: the download shows what Runway delivered.
            return default_storage.save(
                f"films/{version.sequence_id}/v{version.number}-master-4k-{info.width}x{info.height}.mp4",
                File(fh),
            )


def master_size(version: FilmVersion) -> tuple[int, int] | None:
    """The real width and height of a version's joined master (from its name), or None."""
    match = re.search(r"-(\d+)x(\d+)(?:_[A-Za-z0-9]+)?\.mp4$", version.master.name or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def recovery_tasks() -> list[tuple[str, tuple]]:
    """What recovery queues for masters (generation/kinds.py): the joining of every master whose
    parts are all made but whose joining died with its worker."""
    return [("join_master", (pk,)) for pk in versions_to_join()]


def versions_to_join() -> list[int]:
    """Versions without a master whose every part's newest take has succeeded (a join that did not
    happen: its worker died). Read from the takes alone: the join checks the film itself."""
    candidates = (
        Take.objects.filter(kind=Take.Kind.MASTER_PART, version__master="", status=Status.SUCCEEDED)
        .values_list("version_id", flat=True)
        .distinct()
    )
    return [version_id for version_id in candidates if _all_parts_made(version_id)]


def is_joining(version: FilmVersion) -> bool:
    """Whether every part of the version's master is made and the master is still to be joined."""
    return not version.master and _all_parts_made(version.pk)


def _all_parts_made(version_id: int) -> bool:
    """Whether the newest takes of a version's master parts cover the film back to back from its
    first frame and have all succeeded."""
    newest: dict[tuple[int, int], Take] = {}
    for take in Take.objects.filter(version_id=version_id).order_by("pk"):
        newest[(take.part_start_frame, take.part_end_frame)] = take
    bounds = sorted(newest)
    back_to_back = (
        bool(bounds) and bounds[0][0] == 0 and all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    )
    return back_to_back and all(t.status == Status.SUCCEEDED for t in newest.values())


@dataclass(frozen=True)
class MasterPrice:
    credits: int
    # False when the film has not been measured yet: the price is then worked out from the
    # version's length at ASSUMED_FPS, and the confirmation page shows the exact one.
    exact: bool


ASSUMED_FPS = 24


def master_price(version: FilmVersion, takes: list[Take]) -> MasterPrice | None:
    """What "Make a 4K master" would hold, for the sequence page, without running ffmpeg or a query
    (`takes` are the version's master takes): exact when the film's facts have been read before
    (`film_facts` keeps them), else from its stored length. None when no price can be given (no
    film, no length, or a film that cannot be mastered)."""
    if not version.film:
        return None
    kept = cache.get(film_facts_key(version.pk, version.film.name))
    if kept is not None:
        estimate = estimate_master(version, FilmFacts(**kept), takes=takes)
        return None if estimate.error else MasterPrice(estimate.total_credits, exact=True)
    if not version.duration:
        return None
    frames = round(version.duration * ASSUMED_FPS)
    facts = FilmFacts(width=1280, height=720, fps=ASSUMED_FPS, duration=version.duration, frames=frames)
    estimate = estimate_master(version, facts, takes=takes)
    return None if estimate.error else MasterPrice(estimate.total_credits, exact=False)


# --- cancelling -----------------------------------------------------------------------------------


@dataclass
class StopResult:
    stopped: int = 0
    charged: int = 0
    released: int = 0
    still_held: int = 0
    unconfirmed: int = 0  # of `still_held`, what waits for an admin

    def __str__(self) -> str:
        if not self.stopped:
            return "Nothing was on its way."
        charges = pipeline.Charges(
            charged=self.charged, released=self.released, held=self.still_held, unconfirmed=self.unconfirmed
        )
        # The words of a run's charges everywhere (pipeline.charges_words).
        return f"Stopped. {pipeline.charges_words(charges)}."


def stop_takes(takes, *, client: runway.RunwayClient | None = None) -> StopResult:
    """Cancel these takes as `pipeline.cancel_sequence` cancels a sequence's: unsent ones are
    released, ones Runway has not started are deleted and released, ones it saw RUNNING are deleted
    and settled at their cost, finished ones are saved. Idempotent."""
    client = client or runway.client_from_settings()
    ids = [t.pk for t in takes]
    result = StopResult()
    for take in Take.objects.filter(pk__in=ids, status__in=Take.ACTIVE):
        for _ in range(5):
            done = pipeline.cancel_take(take, client)
            if done is not None:
                break
            take.refresh_from_db()
        if done:
            result.stopped += 1
    entries = credits.LedgerEntry.objects.filter(take_id__in=ids)
    totals = {row["kind"]: row["total"] for row in entries.values("kind").annotate(total=Sum("credits"))}
    result.charged = totals.get(credits.Kind.SETTLE, 0)
    result.released = totals.get(credits.Kind.RELEASE, 0)
    held = credits.open_holds().filter(take_id__in=ids)
    result.still_held = held.aggregate(s=Sum("credits"))["s"] or 0
    result.unconfirmed = (
        held.filter(take__status=Take.Status.UNCONFIRMED).aggregate(s=Sum("credits"))["s"] or 0
    )
    return result


def stop_narration(sequence: Sequence, *, client: runway.RunwayClient | None = None) -> StopResult:
    """Stop the narration on its way, paying what Runway keeps."""
    return stop_takes(list(narration_takes(sequence).filter(status__in=Take.ACTIVE)), client=client)


def stop_master(version: FilmVersion, *, client: runway.RunwayClient | None = None) -> StopResult:
    """Stop the master parts on their way, paying what Runway keeps; finished parts are kept."""
    return stop_takes(list(master_takes(version).filter(status__in=Take.ACTIVE)), client=client)


# --- what the pipeline asks of a narration or master part ----------------------------------------


def request_body(client: runway.RunwayClient, take: Take) -> dict:
    """The Runway body of a narration (as held) or a master part (as held, with its stretch of the
    film cut out with ffmpeg and sent as a data URI, or uploaded when larger). Runs ffmpeg and may
    call Runway: never inside a transaction. Raises PipelineError, media.MediaError, OSError or
    runway.RunwayError; the pipeline then releases the take (nothing reached Runway)."""
    if take.is_narration:
        return dict(take.request)
    version = FilmVersion.objects.filter(pk=take.version_id).first()
    if version is None or not version.film:
        raise pipeline.PipelineError("The film version of this master part is gone.")
    with tempfile.TemporaryDirectory(prefix="master-part-") as tmp:
        film, part = Path(tmp) / "film.mp4", Path(tmp) / f"part-{take.part_start_frame}.mp4"
        _copy_to(version.film, film)
        media.cut(film, part, start_frame=take.part_start_frame, end_frame=take.part_end_frame)
        uri = client.video_uri(f"v{version.number}-part-{take.part_start_frame}.mp4", part.read_bytes())
    return {**take.request, "videoUri": uri}


def finish(take: Take, client: runway.RunwayClient, claim: leases.Claim) -> None:
    """`pipeline.finish_take` for a narration or master part (claimed by the caller): save the
    output, check it (a narration is audio; a part has the master's size and its stretch's length),
    settle at Runway's cost. The first narration of a sequence is chosen; a master part queues the
    joining, which waits for the other parts."""
    with tempfile.TemporaryDirectory(prefix="take-") as tmp:
        path = Path(tmp) / "output"
        check = _check_narration if take.is_narration else functools.partial(_check_part, take)
        downloaded = pipeline.download_checked(take, claim, client, path, check)
        if downloaded is None:
            return
        state, duration = downloaded
        if take.is_narration:
            name = f"takes/{take.sequence_id}/narration-{take.pk}.mp3"
        else:
            name = f"takes/{take.sequence_id}/master-v{take.version_id}-part-{take.pk}.mp4"
        with path.open("rb") as fh:
            output_name = default_storage.save(name, File(fh))

    def then() -> None:
        if take.is_narration:
            Sequence.objects.filter(pk=take.sequence_id, narration_take__isnull=True).update(
                narration_take=take
            )
        else:
            pipeline.enqueue("join_master", take.version_id)

    pipeline.record_success(take, claim, state, output=output_name, duration=duration, then=then)


def _check_narration(path: Path) -> float:
    """A narration's length, after checking that it is audio."""
    return media.probe_audio(path).duration


def _check_part(take: Take, path: Path) -> float:
    """A master part's length, after checking it against its stretch of the film: the same shape,
    a long side within PART_LONG_SIDE_TOLERANCE of the guessed one, the same number of frames."""
    info = media.probe(path)
    version = FilmVersion.objects.get(pk=take.version_id)
    facts = film_facts(version)
    model = catalog.UPSCALE_MODELS[take.request.get("model", catalog.DEFAULT_UPSCALE_MODEL)]
    width, height = model.output_size(
        facts.width, facts.height, take.request.get("resolution", MASTER_RESOLUTION)
    )
    check_part_size((info.width, info.height), film=(facts.width, facts.height), guessed=(width, height))
    frames = take.part_end_frame - take.part_start_frame
    counted = media.count_video_frames(path)
    if counted != frames:
        raise media.MediaError(f"Runway's master part has {counted} frames, not {frames}")
    expected = frames / facts.fps
    if abs(info.duration - expected) > PART_DURATION_TOLERANCE:
        raise media.MediaError(f"Runway's master part lasts {info.duration:.2f} s, not {expected:.2f} s")
    return info.duration


def check_part_size(size: tuple[int, int], *, film: tuple[int, int], guessed: tuple[int, int]) -> None:
    """Raise media.MediaError unless a master part of `size` has the film's shape and a long side
    within PART_LONG_SIDE_TOLERANCE pixels of the `guessed` one."""
    width, height = size
    if width <= 0 or height <= 0:
        raise media.MediaError(f"Runway's master part has no picture ({width}x{height})")
    shape, film_shape = width / height, film[0] / film[1]
    # The short side is rounded to 16 pixels, so the shape may differ by that much over it.
    slack = max(PART_ASPECT_TOLERANCE, 16 / min(width, height))
    if abs(shape / film_shape - 1) > slack or (width >= height) != (film[0] >= film[1]):
        raise media.MediaError(
            f"Runway's master part is {width}x{height}, not the film's shape ({film[0]}x{film[1]})"
        )
    if abs(max(width, height) - max(guessed)) > PART_LONG_SIDE_TOLERANCE:
        raise media.MediaError(
            f"Runway's master part is {width}x{height}, more than {PART_LONG_SIDE_TOLERANCE} pixels "
            f"from the expected {guessed[0]}x{guessed[1]}"
        )


def _copy_to(field_file, path: Path) -> None:
    with field_file.open("rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
