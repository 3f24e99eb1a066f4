"""Hand-off to the editor: a film version as an OpenTimelineIO timeline, and a zip of the timeline
with the media it references.

The timeline has a video track with the version's shots in order, each clip its chosen take's whole
file (the film is those files joined end to end), a narration track when the version has one
(mixed from the film's start), and the client's comments on the version as markers on the video
track at their time. Times are in frames of the film's rate; each clip lasts its file's frame
count, so the clips add up to the film to the frame.

The zip holds `timeline.otio` (OpenTimelineIO's own JSON), `timeline.fcpxml` (Final Cut Pro X, with
the otio-fcpx-xml-adapter) and `timeline.edl` (CMX 3600, with the otio-cmx3600-adapter; one
video track, so the narration is not in it), the clips under `media/`, the narration, the captions
as WebVTT and SRT when saved, and a README saying what is where. A format an adapter cannot write
is left out and the README says why. Media paths in the timelines are relative to the zip's root.
"""

from __future__ import annotations

import logging
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from generation import captions, finishing, media
from generation.models import Take
from projects.models import FilmVersion, ReviewComment

log = logging.getLogger(__name__)

# Adapter names in OpenTimelineIO's plugin registry, with the file each one writes.
FORMATS = {"fcpx_xml": "timeline.fcpxml", "cmx_3600": "timeline.edl"}


class TimelineError(Exception):
    """The version cannot be exported; the message says why."""


@dataclass(frozen=True)
class ClipFile:
    name: str  # path inside the zip
    source: Path  # local copy
    frames: int


def _shot_takes(version: FilmVersion) -> list[Take]:
    shots = (version.contents or {}).get("shots") or []
    pks = [row["take"] for row in shots if row.get("take")]
    if not pks or len(pks) != len(shots):
        raise TimelineError(
            "This version does not record which takes it is made of, so it cannot be exported."
        )
    takes = {take.pk: take for take in Take.objects.filter(pk__in=pks)}
    missing = [pk for pk in pks if pk not in takes or not takes[pk].output]
    if missing:
        raise TimelineError("A clip of this version is no longer stored, so it cannot be exported.")
    return [takes[pk] for pk in pks]


def _copy(field_file, path: Path) -> Path:
    with field_file.open("rb") as source, path.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            out.write(chunk)
    return path


def build_timeline(version: FilmVersion, folder: Path) -> tuple[otio.schema.Timeline, list[ClipFile]]:
    """The version's timeline, with its media copied into `folder` (named as in the zip). Raises
    TimelineError or media.MediaError. Runs ffmpeg (frame counts): never inside a transaction."""
    facts = finishing.film_facts(version)
    rate = facts.fps
    files: list[ClipFile] = []
    (folder / "media").mkdir(parents=True, exist_ok=True)
    timeline = otio.schema.Timeline(name=f"{version.sequence.title} v{version.number}")
    timeline.global_start_time = otio.opentime.RationalTime(0, rate)
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    for position, take in enumerate(_shot_takes(version), start=1):
        name = f"media/shot-{position:02d}-take-{take.pk}{Path(take.output.name).suffix or '.mp4'}"
        local = _copy(take.output, folder / name)
        frames = media.count_video_frames(local)
        files.append(ClipFile(name=name, source=local, frames=frames))
        available = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
        )
        video.append(
            otio.schema.Clip(
                name=f"Shot {position}",
                media_reference=otio.schema.ExternalReference(target_url=name, available_range=available),
                source_range=available,
                metadata={"videogen": {"take": take.pk, "shot": take.shot_id}},
            )
        )
    timeline.tracks.append(video)

    narration = version.narration
    if narration is not None and narration.output:
        name = f"media/narration{Path(narration.output.name).suffix or '.mp3'}"
        local = _copy(narration.output, folder / name)
        seconds = min(media.probe_audio(local).duration, facts.duration)
        length = otio.opentime.RationalTime(round(seconds * rate), rate)
        span = otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), length)
        audio = otio.schema.Track(name="Narration", kind=otio.schema.TrackKind.Audio)
        audio.append(
            otio.schema.Clip(
                name="Narration",
                media_reference=otio.schema.ExternalReference(target_url=name, available_range=span),
                source_range=span,
            )
        )
        timeline.tracks.append(audio)
        files.append(ClipFile(name=name, source=local, frames=length.to_frames()))

    total = sum(f.frames for f in files if f.name.startswith("media/shot-"))
    for comment in client_comments(version):
        frame = min(max(0, round(comment.at_seconds * rate)), max(0, total - 1))
        video.markers.append(
            otio.schema.Marker(
                name=f"{comment.author_name}: {comment.body}"[:200],
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(frame, rate), otio.opentime.RationalTime(1, rate)
                ),
                color=otio.schema.MarkerColor.RED
                if comment.resolved_at is None
                else otio.schema.MarkerColor.GREEN,
                metadata={"videogen": {"comment": comment.pk, "at_seconds": comment.at_seconds}},
            )
        )
    return timeline, files


def client_comments(version: FilmVersion) -> list[ReviewComment]:
    """The client's comments on the version (not staff's internal notes, not replies), by time."""
    return list(
        ReviewComment.objects.filter(version=version, is_internal=False, parent__isnull=True).order_by(
            "at_seconds", "pk"
        )
    )


def _video_only(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    copy = timeline.deepcopy()
    for track in list(copy.tracks):
        if track.kind != otio.schema.TrackKind.Video:
            copy.tracks.remove(track)
    return copy


def export_zip(version: FilmVersion, out: Path) -> list[str]:
    """Write the version's hand-off zip at `out` (see the module's docstring) and return the names
    in it. Raises TimelineError or media.MediaError. Runs ffmpeg: never inside a transaction.
    Writes a new file each time; nothing is stored."""
    with tempfile.TemporaryDirectory(prefix="timeline-") as workdir:
        folder = Path(workdir)
        timeline, files = build_timeline(version, folder)
        written = {"timeline.otio": otio.adapters.write_to_string(timeline, "otio_json")}
        notes = []
        for adapter, name in FORMATS.items():
            subject = _video_only(timeline) if adapter == "cmx_3600" else timeline
            try:
                written[name] = otio.adapters.write_to_string(subject, adapter)
            except Exception as error:  # an adapter's own failure, whatever it raises
                log.warning("Could not write %s for version %s: %s", name, version.pk, error)
                notes.append(f"{name} is missing: {adapter} could not write this timeline ({error}).")
        cues = captions.saved_cues(version)
        if cues:
            written["captions.vtt"] = captions.to_webvtt(cues)
            written["captions.srt"] = captions.to_srt(cues)
        written["README.txt"] = _readme(version, timeline, files, notes)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in written.items():
                archive.writestr(name, text)
            for clip in files:
                # Video and MP3 do not compress further.
                archive.write(clip.source, clip.name, compress_type=zipfile.ZIP_STORED)
            return archive.namelist()


def _readme(
    version: FilmVersion, timeline: otio.schema.Timeline, files: list[ClipFile], notes: list[str]
) -> str:
    rate = timeline.tracks[0][0].source_range.duration.rate if timeline.tracks[0] else 24
    lines = [
        f"{timeline.name}: exported for editing.",
        "",
        f"Frame rate {rate:g} fps; {timeline.duration().to_frames()} frames.",
        "timeline.otio    OpenTimelineIO (Resolve, Premiere with the OTIO plug-in, Nuke, Hiero)",
        "timeline.fcpxml  Final Cut Pro X",
        "timeline.edl     CMX 3600 EDL, picture only",
        "media/           the clips (one per shot, in order) and the narration the timelines reference",
        "Markers on the video track are the client's comments at their time.",
    ]
    return "\n".join(lines + [""] + notes) + "\n"
