"""Captions of a film version: drafted from its narration, edited and saved on the captions page,
played as a `<track kind="captions">` (WebVTT) and downloadable as SRT, and burned into a
deliverable on request.

Drafting: the narration's script (what the version's narration take asked Runway to say, so a
script edited since does not shift the words) is cut into one cue per sentence (a sentence longer
than two caption lines is cut again at a comma or between words), and the narration's measured
length (its audio file, probed with ffmpeg) is shared out among the cues in proportion to their
length in characters. Characters, not words: a speech model's pace is close to constant in
syllables, and characters follow syllables far better than words do ("a" and "internationally" are
one word each). Speech tags such as [pause] are not read out and are left out of the text.

Only saved cues are ever used (the track, the SRT, the burned film): the draft is what the captions
page offers to edit first. Saving carries the version's `captions_version` (compare-and-set), like
the other edit forms.

Burning: the cues are written as an ASS script sized to the film (PlayResX/PlayResY = its pixels)
and drawn by ffmpeg's `subtitles` filter (libass, which the imageio-ffmpeg build has, with
freetype and fontconfig), in DejaVu Sans from the system's fonts, white on a translucent black box,
bottom-centred inside the safe area of the film's shape (see `caption_area`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage

from generation import catalog, media
from projects.models import FilmVersion
from projects.services import EditConflict

log = logging.getLogger(__name__)

# Two lines of 42 characters: the usual limit for subtitles read at a glance (Netflix's guideline).
LINE_CHARACTERS = 42
CUE_MAX_CHARACTERS = 2 * LINE_CHARACTERS
MAX_CUES = 200
# A cue shorter than this cannot be read; the form refuses it.
CUE_MIN_SECONDS = 0.2

_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+")


class CaptionError(Exception):
    """Cues that cannot be used as they are; the message says which and why."""


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


# --- drafting ------------------------------------------------------------------------------------


def spoken_text(script: str) -> str:
    """The script as it is heard: speech tags ([pause], [laughs]) left out, spaces collapsed."""
    return " ".join(catalog._SPEECH_TAG_RE.sub(" ", script or "").split())


def _chunks(sentence: str) -> list[str]:
    """`sentence` cut into pieces of at most CUE_MAX_CHARACTERS, at the last comma that fits, else
    between words (a single word longer than a cue is cut where it must be)."""
    pieces = []
    rest = sentence
    while len(rest) > CUE_MAX_CHARACTERS:
        window = rest[: CUE_MAX_CHARACTERS + 1]
        cut = max(window.rfind(", "), window.rfind("; "))
        if cut >= CUE_MAX_CHARACTERS // 3:
            cut += 1  # keep the comma with the words before it
        else:
            cut = window.rfind(" ")
            if cut <= 0:
                cut = CUE_MAX_CHARACTERS
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def split_cue_texts(script: str) -> list[str]:
    """The texts of the cues of `script`: one per sentence, long sentences cut into pieces."""
    text = spoken_text(script)
    if not text:
        return []
    return [
        piece for sentence in _SENTENCE_END_RE.split(text) for piece in _chunks(sentence.strip()) if piece
    ]


def draft_cues(script: str, *, speech_seconds: float, film_seconds: float | None = None) -> list[Cue]:
    """Cues for `script` said over `speech_seconds` from the start of the film: back to back, each
    lasting its share of the speech in proportion to its characters. Cut at `film_seconds` (a
    narration is cut at the film's end when mixed); cues that would start after it are left out."""
    texts = split_cue_texts(script)
    if not texts or speech_seconds <= 0:
        return []
    total = sum(len(text) for text in texts)
    limit = min(speech_seconds, film_seconds) if film_seconds else speech_seconds
    cues = []
    spoken = 0
    for text in texts:
        start = speech_seconds * spoken / total
        spoken += len(text)
        end = min(speech_seconds * spoken / total, limit)
        if start >= limit - CUE_MIN_SECONDS / 2:
            break
        cues.append(Cue(start=round(start, 3), end=round(end, 3), text=text))
    return cues


def _local_copy(field_file, folder: Path, name: str) -> Path:
    path = folder / name
    with field_file.open("rb") as source, path.open("wb") as out:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            out.write(chunk)
    return path


def narration_seconds(version: FilmVersion) -> float | None:
    """How long the version's narration lasts, measured from its audio file with ffmpeg once and
    then kept (a take's output never changes). None without a narration or with one that cannot be
    read. Runs ffmpeg: never inside a transaction."""
    take = version.narration
    if take is None or not take.output:
        return None
    key = f"narration-seconds:{take.pk}:{take.output.name}"
    kept = cache.get(key)
    if kept is not None:
        return kept
    try:
        with tempfile.TemporaryDirectory(prefix="captions-") as workdir:
            path = _local_copy(take.output, Path(workdir), "narration" + Path(take.output.name).suffix)
            seconds = media.probe_audio(path).duration
    except (media.MediaError, OSError) as error:
        log.info("Could not measure the narration of version %s: %s", version.pk, error)
        return None
    cache.set(key, seconds, None)
    return seconds


def narration_script(version: FilmVersion) -> str:
    """The script the version's narration said: the text its take sent to Runway."""
    take = version.narration
    if take is None:
        return ""
    return str((take.request or {}).get("promptText") or "")


def draft_for_version(version: FilmVersion) -> list[Cue]:
    """The draft cues of a version: its narration's script timed across the narration's measured
    length, within the film. Empty for a version without a (readable) narration."""
    seconds = narration_seconds(version)
    if seconds is None:
        return []
    return draft_cues(narration_script(version), speech_seconds=seconds, film_seconds=version.duration)


# --- checking and saving -------------------------------------------------------------------------


def check_cues(cues: list[Cue], *, film_seconds: float | None) -> None:
    """Raise CaptionError unless the cues can be shown: each with text of at most
    CUE_MAX_CHARACTERS, lasting at least CUE_MIN_SECONDS, within the film, and in order without
    overlapping the one before."""
    if len(cues) > MAX_CUES:
        raise CaptionError(f"Keep the captions to {MAX_CUES} cues (there are {len(cues)}).")
    previous_end = 0.0
    for number, cue in enumerate(cues, start=1):
        if not cue.text.strip():
            raise CaptionError(f"Cue {number} has no text.")
        if len(cue.text) > CUE_MAX_CHARACTERS:
            raise CaptionError(
                f"Cue {number} has {len(cue.text)} characters; keep each to {CUE_MAX_CHARACTERS} "
                f"(two lines) and split longer ones."
            )
        if cue.start < 0 or cue.end - cue.start < CUE_MIN_SECONDS - 1e-9:
            raise CaptionError(f"Cue {number} must end at least {CUE_MIN_SECONDS} s after it starts.")
        if cue.start < previous_end - 1e-9:
            raise CaptionError(f"Cue {number} starts before cue {number - 1} ends.")
        if film_seconds is not None and cue.end > film_seconds + 1e-3:
            raise CaptionError(
                f"Cue {number} ends at {cue.end:.3f} s, after the film ({film_seconds:.3f} s)."
            )
        previous_end = cue.end


def saved_cues(version: FilmVersion) -> list[Cue]:
    return [
        Cue(start=float(c["start"]), end=float(c["end"]), text=str(c["text"])) for c in version.captions or []
    ]


def save_captions(version: FilmVersion, *, seen_version: int, cues: list[Cue]) -> FilmVersion:
    """Save the version's captions if they are still at `seen_version` (the version the user's form
    was made from), bumping it. Raises CaptionError for cues that cannot be shown and EditConflict
    when someone saved since, writing nothing. Writes only the captions and their version."""
    check_cues(cues, film_seconds=version.duration)
    data = [asdict(cue) for cue in cues]
    written = FilmVersion.objects.filter(pk=version.pk, captions_version=seen_version).update(
        captions=data, captions_version=seen_version + 1
    )
    if not written:
        current = FilmVersion.objects.filter(pk=version.pk).first()
        raise EditConflict(current, version=current.captions_version if current else 0)
    version.captions, version.captions_version = data, seen_version + 1
    return version


# --- files ---------------------------------------------------------------------------------------


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue in both formats, and "-->" would read as a timing line.
    return "\n".join(line for line in text.replace("-->", "->").splitlines() if line.strip())


def to_webvtt(cues: list[Cue]) -> str:
    """The cues as a WebVTT file (text escaped: `<` and `&` would read as markup)."""
    blocks = ["WEBVTT\n"]
    for number, cue in enumerate(cues, start=1):
        text = _cue_text(cue.text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(f"{number}\n{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}\n{text}\n")
    return "\n".join(blocks)


def to_srt(cues: list[Cue]) -> str:
    """The cues as a SubRip (SRT) file."""
    blocks = []
    for number, cue in enumerate(cues, start=1):
        blocks.append(
            f"{number}\n{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}\n{_cue_text(cue.text)}\n"
        )
    return "\n".join(blocks)


@dataclass(frozen=True)
class CaptionStyle:
    font_size: int
    margin_x: int
    margin_bottom: int


def caption_style(width: int, height: int) -> CaptionStyle:
    """Size and margins of burned captions for a film of width x height pixels.

    Text is 5.5% of the film's shorter side (40 px on 720p), so it reads the same on a 16:9 and a
    9:16 film watched at the same width of phone. The sides keep the 5% title-safe margin of
    EBU R 95 plus a little; the bottom margin is 8% of the height on landscape and square films and
    20% on portrait ones, whose lower fifth the social apps cover with their own caption and
    buttons."""
    short = min(width, height)
    bottom = 0.20 if height > width else 0.08
    return CaptionStyle(
        font_size=max(10, round(short * 0.055)),
        margin_x=round(width * 0.07),
        margin_bottom=round(height * bottom),
    )


def caption_area(width: int, height: int) -> tuple[int, int, int, int]:
    """The box (left, top, right, bottom, in pixels) inside which burned captions are drawn: the
    safe area's sides, from the bottom margin up by room for two lines and the box around them."""
    style = caption_style(width, height)
    line = style.font_size * 1.25
    top = height - style.margin_bottom - 2 * line - 2 * _box_padding(style)
    bottom = height - style.margin_bottom + _box_padding(style)
    return style.margin_x, max(0, round(top)), width - style.margin_x, min(height, round(bottom))


def _box_padding(style: CaptionStyle) -> int:
    return max(2, round(style.font_size * 0.2))


def _ass_time(seconds: float) -> str:
    centis = round(seconds * 100)
    hours, centis = divmod(centis, 360_000)
    minutes, centis = divmod(centis, 6000)
    secs, centis = divmod(centis, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def to_ass(cues: list[Cue], *, width: int, height: int) -> str:
    """The cues as an ASS script for a width x height film, styled by `caption_style`."""
    style = caption_style(width, height)
    # BorderStyle 3 draws an opaque box in the outline colour (here black at about 60%), which stays
    # readable over any picture; alignment 2 is bottom centre.
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, "
        "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, "
        "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
        f"Style: Caption,{media.CAPTION_FONT_NAME},{style.font_size},&H00FFFFFF,&H00FFFFFF,&H66000000,"
        f"&H66000000,0,0,0,0,100,100,0,0,3,{_box_padding(style)},0,2,{style.margin_x},{style.margin_x},"
        f"{style.margin_bottom},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    events = []
    for cue in cues:
        # Braces start override codes in ASS; a caption's own text never carries any.
        text = _cue_text(cue.text).replace("{", "(").replace("}", ")").replace("\n", "\\N")
        events.append(f"Dialogue: 0,{_ass_time(cue.start)},{_ass_time(cue.end)},Caption,,0,0,0,,{text}")
    return "\n".join(header + events) + "\n"


# --- burned deliverables -------------------------------------------------------------------------


def captions_digest(cues: list[Cue]) -> str:
    return hashlib.sha256(json.dumps([asdict(c) for c in cues], sort_keys=True).encode()).hexdigest()[:16]


def burned_name(version: FilmVersion, cues: list[Cue]) -> str:
    """Where the version's film with these cues burned in is kept: named by the cues' digest, so an
    edit of the captions asks for a new file and the same cues never make two."""
    return f"deliverables/{version.sequence_id}/v{version.number}-captioned-{captions_digest(cues)}.mp4"


def burned_film(version: FilmVersion) -> str | None:
    """The storage name of the version's film with its saved captions burned in, once made."""
    cues = saved_cues(version)
    if not cues:
        return None
    name = burned_name(version, cues)
    return name if default_storage.exists(name) else None


def burn_captions(version: FilmVersion) -> str:
    """Make the version's film with its saved captions burned in (see `caption_style`) and keep it
    at `burned_name`; return that name. Raises CaptionError without saved captions, MediaError when
    ffmpeg fails. Idempotent: a film already made for these cues is returned as it is; two runs at
    once both write the same picture, and the second save replaces nothing (the name is taken).
    Runs ffmpeg: never inside a transaction."""
    cues = saved_cues(version)
    if not cues:
        raise CaptionError("Save the captions first: only saved captions are burned in.")
    name = burned_name(version, cues)
    if default_storage.exists(name):
        return name
    with tempfile.TemporaryDirectory(prefix="captions-") as workdir:
        folder = Path(workdir)
        film = _local_copy(version.film, folder, "film.mp4")
        info = media.probe(film)
        script = folder / "captions.ass"
        script.write_text(to_ass(cues, width=info.width, height=info.height), encoding="utf-8")
        out = folder / "captioned.mp4"
        media.burn_subtitles(film, script, out)
        if default_storage.exists(name):
            return name
        with out.open("rb") as handle:
            saved = default_storage.save(name, File(handle))
    if saved != name:
        # Another run saved the same cues' film first: keep one.
        default_storage.delete(saved)
    return name


def burn_captions_task(version_pk: int) -> None:
    """Task: burn the saved captions of version `version_pk` into its film (`burn_captions`).
    Returns quietly when the version is gone or has no captions any more; safe to run twice."""
    version = FilmVersion.objects.filter(pk=version_pk).select_related("sequence").first()
    if version is None or not version.captions:
        return
    burn_captions(version)


def enqueue_burn(version: FilmVersion) -> None:
    """Queue `burn_captions_task` for the version once the current transaction commits (run at once
    with PIPELINE_INLINE, as the pipeline's tasks are)."""
    from django.conf import settings
    from django.db import transaction

    def now() -> None:
        if settings.PIPELINE_INLINE:
            burn_captions_task(version.pk)
            return
        from django_q.tasks import async_task

        async_task("generation.captions.burn_captions_task", version.pk, group="burn_captions")

    transaction.on_commit(now)
