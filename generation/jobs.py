"""The command line's job runner: the original product's jobs, run through the same pipeline and
ledger as the app (`manage.py image2video`, `fetch_take`, and the Python functions that
`generation.api` keeps importable).

A job creates a project of the paying user ("Command line"), a sequence and its shots, holds the
estimate, runs the pipeline in this process (no qcluster needed) and writes `runway_clip_N.mp4`
files, plus the assembled film, into the output directory. Without RUNWAY_API_KEY a Runway
simulator serves the requests, as in the app.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from generation import catalog, credits, estimates, failures, pipeline, runway
from generation.models import Take
from projects import services
from projects.images import add_reference_images
from projects.models import Keyframe, Membership, Project, ReferenceImage, ReferenceSet, Sequence, Shot

CLI_PROJECT = "Command line"


class JobError(Exception):
    """A job the command line refuses or that failed, with a message a user can act on."""


@dataclass
class JobResult:
    sequence: Sequence
    clips: list[Path]
    film: Path | None
    notices: list[str] = field(default_factory=list)
    estimated_credits: int = 0
    # What Runway charged for the job: its clips and keyframe images.
    charged_credits: int = 0


# The image model that makes keyframes from reference images on the command line.
KEYFRAME_MODEL = "gen4_image"


def default_user():
    """The only superuser, for jobs that name no user."""
    superusers = list(get_user_model().objects.filter(is_superuser=True, is_active=True)[:2])
    if len(superusers) != 1:
        raise JobError(
            "Say whose budget pays with --user USERNAME "
            f"(there {'is no superuser' if not superusers else 'are several superusers'})."
        )
    return superusers[0]


def _project_for(user) -> Project:
    project = Project.objects.filter(
        name=CLI_PROJECT, memberships__user=user, memberships__role=Membership.Role.OWNER
    ).first()
    if project is None:
        project = services.create_project(name=CLI_PROJECT, owner=user)
    return project


def build_job(
    *,
    user,
    prompts: list[str],
    images: list[Path],
    model: str | None,
    duration: float | None,
    width: int | None,
    height: int | None,
    seed: int | None,
    stitch: bool,
    audio: bool = True,
    fit: str = "pad",
    keyframes: list[list[int]] | None = None,
) -> tuple[Sequence, list[str]]:
    """Translate the old product's arguments into a sequence, with the notices of every translation.

    With `keyframes` (one list per prompt of indexes into `images`, at most three each), a shot
    whose list is not empty starts on an image made by gen4_image from those images, each tagged
    by its file stem, described by the shot's prompt (which may cite the tags as @tag); the images
    are then references, not frames. Without it, the images are the old product's keyframes.

    The shots are planned as the pages and the pipeline plan them (`estimates`), first with
    stand-ins for the images, so that a request the catalog refuses stores nothing. Raises
    catalog.UnsupportedRequest (with what would work) or JobError; leaves nothing then (the
    reference set stored for the job is deleted again).
    """
    if not prompts:
        raise JobError("Give a prompt, or several with -p.")
    video_model, notices = catalog.resolve_model(model)
    if keyframes is not None:
        keyframes = [list(k) for k in keyframes] + [[]] * (len(prompts) - len(keyframes))
    sequence = Sequence(
        title=prompts[0][:80],
        model=video_model.id,
        ratio="",  # chosen from the width and height below
        is_stitched=stitch,
        has_audio=audio,
        image_fit=fit,
        created_by=user,
    )
    stand_ins = [ReferenceImage(position=index) for index in range(len(images))]
    tags = _tags_of(images)
    shots = _shots(sequence, prompts, stand_ins, seed=seed, duration=duration, keyframes=keyframes)
    plans = [estimates.plan_shot(sequence, shot, index, stand_ins) for index, shot in enumerate(shots)]
    if keyframes is None:
        used = estimates.images_used(plans, stand_ins)
        notices += catalog.plan_images(video_model.id, len(images), used=used).notices
    built = [
        estimates.build_shot_request(sequence, shot, plan, width=width, height=height)
        for shot, plan in zip(shots, plans, strict=True)
    ]
    for request in built:
        notices += [n for n in request.notices if n not in notices]
    sequence.ratio = built[0].ratio
    for index, wanted in enumerate(keyframes or []):
        if wanted:
            try:
                estimates.check_keyframe_request(
                    sequence, model=KEYFRAME_MODEL, prompt=prompts[index], tags=[tags[i] for i in wanted]
                )
            except catalog.UnsupportedRequest as exc:
                raise catalog.UnsupportedRequest(f"Clip {index + 1}'s keyframe: {exc}") from None
    if keyframes:
        image_model = catalog.with_prices(catalog.IMAGE_MODELS[KEYFRAME_MODEL], estimates.price_book())
        each = image_model.estimate(ratio=estimates.image_ratio_for(sequence.ratio))
        notices += keyframe_notices(images, tags, keyframes, each=each)
        if any(catalog.CITATION_RE.search(p) for p in prompts):
            notices.append("The video prompts are sent without the @ of the tags they cite.")
    files = []
    for path in images:
        try:
            files.append(SimpleUploadedFile(path.name, path.read_bytes()))
        except OSError as exc:
            raise JobError(f"Cannot read image {path}: {exc.strerror}.") from exc
    project = _project_for(user)
    references = []
    # The images are decoded and stored outside any transaction (each is its own row once its
    # files are written); the sequence and its shots are then saved in one, and a failure of
    # either deletes the reference set again.
    if files:
        sequence.reference_set = ReferenceSet.objects.create(
            project=project, name=", ".join(p.name for p in images)[:200]
        )
    try:
        if files:
            result = add_reference_images(sequence.reference_set, files=files)
            if result.rejected:
                name, reason = result.rejected[0]
                raise JobError(f"Image {name} {reason}")
            references = result.added
        sequence.project = project
        with transaction.atomic():
            sequence.save()
            saved = _shots(sequence, prompts, references, seed=seed, keyframes=keyframes)
            for index, (shot, request) in enumerate(zip(saved, built, strict=True)):
                shot.duration = request.duration  # as the catalog snapped it
                shot.save()
                wanted = (keyframes or [])[index] if keyframes else []
                if wanted:
                    services.set_keyframe(
                        shot,
                        slot="first",
                        model=KEYFRAME_MODEL,
                        prompt=prompts[index],
                        references=[(references[i], tags[i]) for i in wanted],
                    )
    except BaseException:
        if sequence.reference_set_id is not None:
            _discard(sequence.reference_set)
        raise
    return sequence, notices


def _discard(reference_set: ReferenceSet) -> None:
    """Delete a reference set stored for a job that failed, its rows first, then its files."""
    files = [(i.image, i.thumbnail) for i in reference_set.images.all()]
    reference_set.delete()
    for stored in (f for pair in files for f in pair if f):
        stored.storage.delete(stored.name)


def _tags_of(images: list[Path]) -> list[str]:
    """A tag per image, from its file stem ('Front door.jpg' -> 'Front_door'), all different."""
    tags: list[str] = []
    for path in images:
        tags.append(catalog.suggest_tag(path.name, tags))
    return tags


def keyframe_notices(
    images: list[Path], tags: list[str], keyframes: list[list[int]], *, each: int
) -> list[str]:
    """What the old guide's "up to 3 reference images" does here: one notice per set of images,
    naming the clips (1-based) whose keyframe is made from it and what an image costs."""
    clips: dict[tuple[int, ...], list[int]] = {}
    for index, wanted in enumerate(keyframes):
        if wanted:
            clips.setdefault(tuple(wanted), []).append(index + 1)
    notices = []
    for wanted, numbers in clips.items():
        cited = ", ".join(f"{images[i].name} as @{tags[i]}" for i in wanted)
        which = f"clip{'s' if len(numbers) > 1 else ''} {', '.join(map(str, numbers))} start{'' if len(numbers) > 1 else 's'}"
        notices.append(
            f'The old guide\'s "up to 3 reference images" now means: {which} on a keyframe image made by '
            f"{KEYFRAME_MODEL} from {cited}, at {each} credits an image (in the estimate). Runway's video "
            "models take no reference images; a prompt may cite the images by their @tags."
        )
    return notices


def _shots(
    sequence: Sequence,
    prompts: list[str],
    references: list[ReferenceImage],
    *,
    seed: int | None,
    duration: float | None = None,
    keyframes: list[list[int]] | None = None,
) -> list[Shot]:
    """The old product's keyframes as shot settings (unsaved). Stitched: S1 starts on R1 and each
    next shot on the previous shot's last frame, and on a model with a last frame S(i) ends on
    R(i+1). Otherwise every clip starts on R1 and, on such a model, ends on R2.

    With `keyframes` the images are references: a shot with a list starts on a keyframe image made
    from them; a later stitched shot without one on the previous shot's last frame; any other
    shot on no image."""
    has_last_frame = sequence.video_model.has_last_frame
    shots = []
    for index, prompt in enumerate(prompts):
        if keyframes is not None:
            if keyframes[index]:
                first, first_image, last_image = Shot.FirstFrame.KEYFRAME, None, None
            elif sequence.is_stitched and index > 0:
                first, first_image, last_image = Shot.FirstFrame.PREVIOUS, None, None
            else:
                first, first_image, last_image = Shot.FirstFrame.NONE, None, None
            # The video is not told about the tags: "@kitchen" reads as "kitchen".
            prompt = catalog.CITATION_RE.sub(r"\1", prompt)
        elif sequence.is_stitched:
            first = Shot.FirstFrame.PREVIOUS if index > 0 or references else Shot.FirstFrame.NONE
            first_image = references[0] if index == 0 and references else None
            last_image = references[index + 1] if has_last_frame and index + 1 < len(references) else None
        else:
            first = Shot.FirstFrame.REFERENCE if references else Shot.FirstFrame.NONE
            first_image = references[0] if references else None
            last_image = references[1] if has_last_frame and len(references) > 1 else None
        shots.append(
            Shot(
                sequence=sequence,
                position=index,
                prompt=prompt,
                duration=duration,
                seed=seed,
                first_frame=first,
                first_frame_image=first_image,
                last_frame_image=last_image,
            )
        )
    return shots


@contextlib.contextmanager
def runway_for_job() -> Iterator[None]:
    """Within this block, in this thread, the pipeline runs in this process (`running_inline`),
    against Runway or, without a key, a simulator: the studio's when one answers (so the studio and
    this job follow each other's takes), else one of its own with a key of its own, whose takes no
    other process mistakes for its own (`runway.connected_to`)."""
    with contextlib.ExitStack() as stack:
        connection = None
        if settings.RUNWAY_SIMULATED and not _simulator_answers():
            from generation.simulator.server import SimulatorServer

            key = "key_" + secrets.token_hex(64)
            server = SimulatorServer.for_settings(api_key=key)
            connection = runway.Connection(base_url=server.start(), api_key=key)
            stack.callback(server.stop)
        stack.enter_context(runway.connected_to(connection))
        stack.enter_context(pipeline.running_inline())
        yield


def _simulator_answers() -> bool:
    """Whether a Runway simulator (the studio's) answers at RUNWAY_API_BASE with the configured key."""
    try:
        runway.client_from_settings(max_retries=0).organization()
    except runway.RunwayError:
        return False
    return True


def run_sequence(
    sequence: Sequence,
    *,
    user,
    progress: Callable[[str], None],
    expected_credits: int | None = None,
    timeout: float = 3 * 3600,
) -> Sequence:
    """Start a sequence, holding `expected_credits` (what the user confirmed), and drive it to a
    final state in this process (polling and recovering)."""
    pipeline.start_sequence(sequence, user=user, expected_credits=expected_credits)
    interval = settings.RUNWAY_POLL_INTERVAL if not settings.RUNWAY_SIMULATED else 0.5
    deadline = time.monotonic() + timeout
    try:
        return _drive(sequence, interval=interval, deadline=deadline, progress=progress)
    except KeyboardInterrupt:
        result = pipeline.cancel_sequence(sequence)
        raise JobError(f"Interrupted. {result}") from None


def _drive(
    sequence: Sequence, *, interval: float, deadline: float, progress: Callable[[str], None]
) -> Sequence:
    last_report = ""
    next_recover = 0.0
    while True:
        now = time.monotonic()
        pipeline.poll_once()
        if now >= next_recover:
            pipeline.recover()
            next_recover = now + max(interval * 4, 2.0)
        sequence.refresh_from_db()
        report = _progress_line(sequence)
        if report != last_report:
            progress(report)
            last_report = report
        if sequence.status in Sequence.STOPPED:
            return sequence
        if now > deadline:
            result = pipeline.cancel_sequence(sequence)
            raise JobError(f"Gave up waiting for Runway. {result}")
        time.sleep(interval)


def charges_line(sequence: Sequence) -> str:
    """What the job's takes cost, and what to do about takes that need it, in one line."""
    line = pipeline.charges_of(sequence).words + "."
    lost = Take.objects.filter(
        shot__sequence=sequence, status=Take.Status.FAILED, failure_code=failures.Code.DOWNLOAD
    ).values_list("pk", flat=True)
    for take_pk in lost:
        line += f" A paid clip could not be saved: fetch it with `manage.py fetch_take {take_pk}`."
    return line


def _progress_line(sequence: Sequence) -> str:
    parts = []
    for shot in sequence.shots.order_by("position"):
        take = shot.takes.filter(kind=Take.Kind.CLIP).order_by("-pk").first()
        if take is None:
            parts.append(f"clip {shot.position + 1}: waiting")
        elif take.status == take.Status.RUNNING:
            parts.append(
                f"clip {shot.position + 1}: {take.get_status_display().lower()} {int(take.progress * 100)}%"
            )
        else:
            parts.append(f"clip {shot.position + 1}: {take.get_status_display().lower()}")
    return f"[{sequence.get_status_display()}] " + ", ".join(parts)


def make_keyframes(
    sequence: Sequence,
    *,
    user,
    progress: Callable[[str], None],
    expected_credits: int | None = None,
    timeout: float = 3600,
) -> list[Take]:
    """Make the sequence's keyframe images, holding `expected_credits` (what the user confirmed), drive
    them to a final state in this process, and choose each keyframe's first finished image: nobody
    reviews them on the command line. Raises JobError, saying why and what was charged, when a
    keyframe has no image."""
    pipeline.make_keyframes(sequence, user=user, expected_credits=expected_credits)
    interval = settings.RUNWAY_POLL_INTERVAL if not settings.RUNWAY_SIMULATED else 0.5
    deadline = time.monotonic() + timeout
    keyframes = list(
        Keyframe.objects.filter(shot__sequence=sequence).select_related("shot").order_by("shot__position")
    )
    last_report = ""
    next_recover = 0.0
    try:
        while True:
            now = time.monotonic()
            pipeline.poll_once()
            if now >= next_recover:
                pipeline.recover()
                next_recover = now + max(interval * 4, 2.0)
            takes = list(Take.objects.filter(keyframe__in=keyframes).order_by("pk"))
            report = _keyframes_line(keyframes, takes)
            if report != last_report:
                progress(report)
                last_report = report
            if all(take.is_final for take in takes):
                break
            if now > deadline:
                result = pipeline.cancel_sequence(sequence)
                raise JobError(f"Gave up waiting for Runway. {result}")
            time.sleep(interval)
    except KeyboardInterrupt:
        result = pipeline.cancel_sequence(sequence)
        raise JobError(f"Interrupted. {result}") from None
    chosen = []
    for keyframe in keyframes:
        mine = [take for take in takes if take.keyframe_id == keyframe.pk]
        done = next((take for take in mine if take.status == Take.Status.SUCCEEDED and take.output), None)
        if done is None:
            reason = _failure_words(mine[-1]) if mine else "It was not made."
            raise JobError(
                f"Clip {keyframe.shot.position + 1}'s keyframe image could not be made: {reason} "
                "No video was made. " + charges_line(sequence)
            )
        pipeline.choose_keyframe_take(done)
        chosen.append(done)
    return chosen


def _failure_words(take: Take) -> str:
    message = take.failure_message or failures.user_message(take.failure_code)
    return f"{message} {take.charge_note}"


def _keyframes_line(keyframes: list[Keyframe], takes: list[Take]) -> str:
    parts = []
    for keyframe in keyframes:
        take = next((t for t in reversed(takes) if t.keyframe_id == keyframe.pk), None)
        name = f"keyframe of clip {keyframe.shot.position + 1}"
        if take is None:
            parts.append(f"{name}: waiting")
        elif take.status == take.Status.RUNNING:
            parts.append(f"{name}: {take.get_status_display().lower()} {int(take.progress * 100)}%")
        else:
            parts.append(f"{name}: {take.get_status_display().lower()}")
    return "[Keyframes] " + ", ".join(parts)


class OutputExists(JobError):
    """The output path is taken (by a file, a directory or a symbolic link) and may not be replaced."""


def clip_name(position: int) -> str:
    """The old product's name for the clip of the shot at `position` (0-based)."""
    return f"runway_clip_{position + 1}.mp4"


def write_output(src: IO[bytes], path: Path, *, overwrite: bool) -> None:
    """Write `src` to `path` without ever writing through a symbolic link.

    Without `overwrite` the file is created exclusively (O_EXCL: an existing file or link, even a
    dangling one, raises OutputExists). With it the bytes go to a new file beside `path`, which is
    then renamed over it: an existing link is replaced itself and its target is left alone, and a
    reader never sees half a file.
    """
    if not overwrite:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            raise OutputExists(f"{path} already exists; pass --overwrite to replace it.") from None
        try:
            with os.fdopen(fd, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except BaseException:
            path.unlink(missing_ok=True)  # ours: created above
            raise
        return
    if path.is_dir() and not path.is_symlink():
        raise OutputExists(f"{path} is a directory; choose another output name.")
    tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".part", delete=False)
    try:
        with tmp as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        # NamedTemporaryFile makes the file private (0600); a clip is as readable as any new file.
        os.chmod(tmp.name, 0o644)
        os.replace(tmp.name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp.name)
        raise


def export_outputs(
    sequence: Sequence, output_dir: Path, *, film_name: str | None, overwrite: bool = True
) -> tuple[list[Path], Path | None]:
    """Copy the chosen clips as runway_clip_N.mp4 (as the old product named them) and the film.

    Files are replaced (as the old product did) unless `overwrite` is False, but a symbolic link
    in their place is never written through (see write_output).
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    clips = []
    for shot in sequence.shots.order_by("position").select_related("chosen_take"):
        path = output_dir / clip_name(shot.position)
        with shot.chosen_take.output.open("rb") as src:
            write_output(src, path, overwrite=overwrite)
        clips.append(path)
    film = None
    if film_name and sequence.film:
        film = output_dir / film_name
        with sequence.film.open("rb") as src:
            write_output(src, film, overwrite=overwrite)
    return clips, film


def run_job(
    *,
    prompts: list[str],
    images: list[Path] | None = None,
    model: str | None = None,
    duration: float | None = None,
    width: int | None = None,
    height: int | None = None,
    seed: int | None = None,
    stitch: bool = False,
    audio: bool = True,
    fit: str = "pad",
    user=None,
    output_dir: Path | str = ".",
    film_name: str | None = "runway_final.mp4",
    progress: Callable[[str], None] = lambda line: None,
    confirm: Callable[[int, credits.MonthSummary], bool] | None = None,
    keyframes: list[list[int]] | None = None,
) -> JobResult:
    """Build, estimate, hold, generate and export. Raises JobError, catalog.UnsupportedRequest or
    credits.InsufficientCredits with a message a user can act on.

    With `keyframes` (see `build_job`) the keyframe images are made first, each keyframe's first
    finished image is chosen, and then the clips; the estimate shown and confirmed covers both."""
    user = user or default_user()
    if isinstance(user, str):
        user = get_user_model().objects.filter(username=user).first()
        if user is None:
            raise JobError("No such user; pass --user with an existing username.")
    sequence, notices = build_job(
        user=user,
        prompts=prompts,
        images=[Path(p) for p in images or []],
        model=model,
        duration=duration,
        width=width,
        height=height,
        seed=seed,
        stitch=stitch,
        audio=audio,
        fit=fit,
        keyframes=keyframes,
    )
    for notice in notices:
        progress(f"Notice: {notice}")
    # What make_keyframes and then start_sequence hold (every shot of a new sequence needs a take).
    keyframe_estimate = estimates.estimate_keyframes(sequence)
    estimate = estimates.estimate_generation(sequence)
    total = keyframe_estimate.total_credits + estimate.total_credits
    summary = credits.month_summary(user)
    if total > summary.available:
        sequence.delete()
        raise credits.InsufficientCredits(needed=total, available=summary.available)
    images = ""
    if keyframe_estimate.keyframes:
        images = (
            f"{keyframe_estimate.total_credits} for {len(keyframe_estimate.keyframes)} keyframe image(s) and "
        )
    progress(
        f"Estimate: {total} credits: {images}{estimate.total_credits} for {len(estimate.shots)} clip(s); "
        f"{summary.available} available, {summary.available - total} left afterwards."
    )
    if confirm is not None and not confirm(total, summary):
        sequence.delete()
        raise JobError("Stopped before spending anything.")
    with runway_for_job():
        if keyframe_estimate.keyframes:
            try:
                make_keyframes(
                    sequence, user=user, progress=progress, expected_credits=keyframe_estimate.total_credits
                )
            except credits.InsufficientCredits:
                # Another job took the credits since the estimate; nothing was held or sent.
                sequence.delete()
                raise
        try:
            sequence = run_sequence(
                sequence, user=user, progress=progress, expected_credits=estimate.total_credits
            )
        except credits.InsufficientCredits:
            # Another job took the credits since the estimate; nothing was held or sent for the
            # clips. A sequence whose keyframe images were paid for is kept, with their ledger rows.
            if not keyframe_estimate.keyframes:
                sequence.delete()
            raise
    if sequence.status != Sequence.Status.DONE:
        raise JobError(
            f"The sequence {sequence.get_status_display().lower()}: {sequence.status_message} "
            + charges_line(sequence)
        )
    clips, film = export_outputs(sequence, Path(output_dir), film_name=film_name)
    return JobResult(
        sequence=sequence,
        clips=clips,
        film=film,
        notices=notices,
        estimated_credits=total,
        charged_credits=pipeline.charges_of(sequence).charged,
    )


def generate_video(
    prompt: str,
    file_paths: list[str] | None = None,
    *,
    model: str | None = None,
    width: int | None = None,
    height: int | None = None,
    duration_seconds: float | None = None,
    seed: int | None = None,
    output_dir: str | Path = ".",
    user=None,
) -> str:
    """Generate one clip; returns the path of runway_clip_1.mp4."""
    result = run_job(
        prompts=[prompt],
        images=[Path(p) for p in file_paths or []],
        model=model or settings.RUNWAY_MODEL,
        duration=duration_seconds,
        width=width,
        height=height,
        seed=seed,
        user=user,
        output_dir=output_dir,
        film_name=None,
    )
    return str(result.clips[0])


def generate_video_sequence_with_runway_stitching(
    prompts: list[str],
    file_paths_list: list[list[str]] | None = None,
    width: int = 1280,
    height: int = 720,
    duration_seconds: float = 5,
    model: str = "veo3.1_fast",
    *,
    output_dir: str | Path = ".",
    user=None,
) -> list[str]:
    """Generate stitched clips (each starts on the previous clip's last frame); returns their paths.

    As in the old guide, `file_paths_list` holds the reference images per clip. Runway takes no
    reference images for video: when no clip is given more images than the model takes as
    keyframes, the first list's images become the keyframes (DESIGN.md section 4). When one is,
    the images are references: a clip whose list is new (the first, or unlike the clip's before,
    a new room, say) starts on a keyframe image made by gen4_image from up to 3 of its images,
    and a clip given the same list as the one before goes on from its last frame. A notice printed
    before anything is spent says so, with the cost.
    """
    lists = [[Path(p) for p in paths] for paths in (file_paths_list or [[]])]
    video_model, _ = catalog.resolve_model(model)
    takes = 2 if video_model.has_last_frame else 1
    if not any(len(paths) > takes for paths in lists):
        result = run_job(
            prompts=list(prompts),
            images=list(lists[0]),
            model=model,
            duration=duration_seconds,
            width=width,
            height=height,
            stitch=True,
            user=user,
            output_dir=output_dir,
        )
        return [str(p) for p in result.clips]
    images, keyframes = keyframes_from_lists(lists, len(prompts))
    result = run_job(
        prompts=list(prompts),
        images=images,
        model=model,
        duration=duration_seconds,
        width=width,
        height=height,
        stitch=True,
        user=user,
        output_dir=output_dir,
        keyframes=keyframes,
        progress=_print_before_spending,
    )
    return [str(p) for p in result.clips]


def keyframes_from_lists(lists: list[list[Path]], count: int) -> tuple[list[Path], list[list[int]]]:
    """The images of the old guide's per-clip lists, each once, and for each of `count` clips the
    images its keyframe is made from (indexes, at most 3): a clip whose list is new gets one; a
    clip given the list of the clip before, or none, goes on from that clip's last frame. A list
    missing at the end repeats the last one, as the old guide's `[[...]] * len(prompts)` does."""
    images: list[Path] = []
    keyframes: list[list[int]] = []
    previous: list[Path] | None = None
    for index in range(count):
        paths = lists[index] if index < len(lists) else (lists[-1] if lists else [])
        wanted = []
        for path in paths[:3]:
            if path not in images:
                images.append(path)
            wanted.append(images.index(path))
        keyframes.append(wanted if paths and paths != previous else [])
        previous = paths
    return images, keyframes


def _print_before_spending(line: str) -> None:
    # The old function printed nothing; with keyframes made from references it says what they
    # are and cost before it spends.
    if line.startswith(("Notice:", "Estimate:")):
        print(line)
