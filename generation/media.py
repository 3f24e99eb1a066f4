"""The one place that runs ffmpeg: probing, checking, frame grabs, assembly, and the command
lines the simulator's renderer builds (generation/simulator/render.py, via `write_with_ffmpeg`).

Every call runs the ffmpeg binary with a plain argument list (never a shell), with a timeout, and
turns a failure into `MediaError` carrying a short message taken from ffmpeg's own stderr. The
binary is `settings.FFMPEG_BINARY` when set, else the one shipped in the imageio-ffmpeg wheel,
which has no ffprobe: stream facts come from parsing `ffmpeg -i` output, in `_parse_input_dump`
only.

Every function writes its output through a temporary file in the destination folder and renames
it into place, so a worker killed mid-write never leaves a half-written file under the final
name, and calling any of them again with the same arguments simply redoes the work.

All paths are local files: callers that keep media in remote storage copy it to a local
temporary file first.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
from django.conf import settings

logger = logging.getLogger(__name__)

# Timeouts (seconds). Probing and frame grabs read a few packets; encodes scale with the length
# of the media, at a rate far below what even a loaded 2-core machine manages.
PROBE_TIMEOUT = 30
FRAME_TIMEOUT = 60
ENCODE_TIMEOUT_BASE = 120
ENCODE_TIMEOUT_PER_SECOND = 15

# Every encode here and in the simulator's renderer uses the same settings, so simulated clips of
# one size and sound layout come out with identical codec headers and join by stream copy, as real
# clips of one model do.
X264_PRESET = "veryfast"
X264_CRF = "20"
AUDIO_RATE = 48000
AUDIO_CHANNELS = 2
AUDIO_BITRATE = "128k"

# How far before the end the last-frame grab seeks. Only the packets from the keyframe before
# this point are decoded, so the grab costs the same on a 2 s and a 10 s clip.
LAST_FRAME_WINDOW = 1.0


class MediaError(Exception):
    """ffmpeg failed or a file is not the media it should be; the message says which and why."""


def ffmpeg_exe() -> str:
    configured = getattr(settings, "FFMPEG_BINARY", "") if settings.configured else ""
    return configured or imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    fps: float
    duration: float
    video_codec: str
    pix_fmt: str
    audio_codec: str | None
    audio_sample_rate: int | None
    audio_channels: int | None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None


@dataclass(frozen=True)
class AssemblyResult:
    method: str  # "copy" or "normalised"
    duration: float


# ---------------------------------------------------------------------------------------------
# Running ffmpeg


def _run(args: list[str], *, timeout: float, what: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MediaError(f"{what}: ffmpeg did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise MediaError(f"{what}: cannot run ffmpeg ({exc.strerror or exc})") from exc
    if check and proc.returncode != 0:
        raise MediaError(f"{what}: {_stderr_summary(proc.stderr)}")
    return proc


def _stderr_summary(stderr: bytes, *, limit: int = 300) -> str:
    """The last few meaningful stderr lines, without ffmpeg's `[component @ 0x...]` prefixes."""
    lines = []
    for raw in stderr.decode("utf-8", "replace").splitlines():
        line = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", raw.strip())
        if line and not line.startswith(("frame=", "size=", "video:", "Press [q]")):
            lines.append(line)
    text = "; ".join(lines[-3:]) or "ffmpeg failed without a message"
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def _atomic_output(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` (same suffix, so ffmpeg picks the same format), renamed onto
    `out` only when the body succeeds."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise MediaError(f"ffmpeg wrote nothing for {out.name}")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def write_with_ffmpeg(out: Path, command: Callable[[Path], list[str]], *, timeout: float, what: str) -> Path:
    """Run ffmpeg with `command(tmp)`, the arguments of a command line that writes one file at
    `tmp`, and rename that file onto `out` once ffmpeg succeeds; return `out`.

    For callers that build their own command lines (the simulator's renderer). Raises MediaError
    naming `what` when ffmpeg fails, times out or writes nothing; `out` is then left untouched.
    """
    out = Path(out)
    with _atomic_output(out) as tmp:
        _run(command(tmp), timeout=timeout, what=what)
    return out


# ---------------------------------------------------------------------------------------------
# Probing


_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6}


def _split_fields(text: str) -> list[str]:
    """Split on commas outside parentheses: `yuv420p(tv, bt709)` stays one field."""
    fields, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    fields.append("".join(current).strip())
    return fields


def _snap_fps(value: float) -> float:
    # ffmpeg prints 24000/1001 as "23.98"; recover the exact NTSC rate so rates compare equal.
    for base in (24, 30, 60, 120):
        ntsc = base * 1000 / 1001
        if abs(value - ntsc) < 0.006:
            return ntsc
    return value


def _parse_input_dump(stderr: str, path: Path) -> Probe:
    """Read stream facts from the `Input #0` section that `ffmpeg -i` prints to stderr."""
    section = stderr.split("Input #0", 1)
    if len(section) < 2:
        reason = _stderr_summary(stderr.encode())
        raise MediaError(f"cannot read {Path(path).name}: {reason}")
    section = re.split(r"^(?:Output #|Stream mapping:)", section[1], maxsplit=1, flags=re.M)[0]

    duration_match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", section)
    video_match = re.search(r"Stream #0:\d+\S*: Video: (.+)", section)
    if video_match is None:
        raise MediaError(f"{Path(path).name} has no video stream")
    if duration_match is None:
        raise MediaError(f"{Path(path).name} is not a video (no duration)")
    hours, minutes, seconds = duration_match.groups()
    duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)

    fields = _split_fields(video_match.group(1))
    video_codec = fields[0].split()[0]
    width = height = 0
    pix_fmt = ""
    fps = 0.0
    tbr = 0.0
    for index, field in enumerate(fields):
        size = re.match(r"(\d+)x(\d+)\b", field)
        if size and not width:
            width, height = int(size.group(1)), int(size.group(2))
            pix_fmt = re.match(r"[\w]*", fields[index - 1]).group(0) if index > 1 else ""
        rate = re.fullmatch(r"([\d.]+)(k?) (fps|tbr)", field)
        if rate:
            value = float(rate.group(1)) * (1000 if rate.group(2) else 1)
            if rate.group(3) == "fps":
                fps = value
            else:
                tbr = value
    if not width or not height:
        raise MediaError(f"cannot read the frame size of {Path(path).name}")
    if duration <= 0:
        raise MediaError(f"{Path(path).name} is not a video (zero duration)")

    audio_codec = audio_rate = audio_channels = None
    audio_match = re.search(r"Stream #0:\d+\S*: Audio: (.+)", section)
    if audio_match:
        afields = _split_fields(audio_match.group(1))
        audio_codec = afields[0].split()[0]
        for field in afields[1:]:
            if hz := re.fullmatch(r"(\d+) Hz", field):
                audio_rate = int(hz.group(1))
            elif count := re.fullmatch(r"(\d+) channels", field):
                audio_channels = int(count.group(1))
            elif (layout := re.sub(r"\(.*\)$", "", field)) in _CHANNEL_LAYOUTS:
                audio_channels = _CHANNEL_LAYOUTS[layout]
            elif numbered := re.fullmatch(r"(\d+)\.(\d+)", layout):
                audio_channels = int(numbered.group(1)) + int(numbered.group(2))

    return Probe(
        width=width,
        height=height,
        fps=_snap_fps(fps or tbr),
        duration=duration,
        video_codec=video_codec,
        pix_fmt=pix_fmt,
        audio_codec=audio_codec,
        audio_sample_rate=audio_rate,
        audio_channels=audio_channels,
    )


def probe(path: str | Path) -> Probe:
    """Stream facts of a video file (first video and first audio stream) from its header.

    Raises MediaError when the file is missing, unreadable or has no video stream. It does not
    decode the pictures: `verify_clip` does.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name} does not exist")
    # Without an output ffmpeg exits 1 after printing the input; the dump is what we want.
    proc = _run(["-i", str(path)], timeout=PROBE_TIMEOUT, what=f"probing {path.name}", check=False)
    return _parse_input_dump(proc.stderr.decode("utf-8", "replace"), path)


def _inspect(path: Path) -> tuple[Probe, tuple[str, ...]]:
    """`probe` plus checksums of the streams' codec headers (H.264 SPS/PPS, AAC config), in one
    ffmpeg run: clips can only be joined by stream copy when those are identical, because an MP4
    track carries a single set of them."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name} does not exist")
    args = ["-i", str(path), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-frames:v", "1"]
    proc = _run(
        [*args, "-f", "framecrc", "-"], timeout=PROBE_TIMEOUT, what=f"probing {path.name}", check=False
    )
    info = _parse_input_dump(proc.stderr.decode("utf-8", "replace"), path)
    headers = tuple(re.findall(r"^#extradata \d+:\s*(.+)$", proc.stdout.decode("ascii", "replace"), re.M))
    return info, headers


# ---------------------------------------------------------------------------------------------
# Checking and frame grabs


def verify_clip(path: str | Path, *, expected_duration: float, tolerance: float = 0.25) -> Probe:
    """Decode every frame of `path` and check that it lasts `expected_duration` (± tolerance).

    Raises MediaError for an unreadable, corrupt or truncated file or a wrong duration; returns
    the probe otherwise. Read-only, so safe to repeat.
    """
    path = Path(path)
    info = probe(path)
    proc = _run(
        ["-v", "error", "-i", str(path), *"-map 0:v -map 0:a? -f null -progress pipe:1 -".split()],
        timeout=ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * info.duration,
        what=f"decoding {path.name}",
    )
    if proc.stderr.strip():
        raise MediaError(f"{path.name} does not decode cleanly: {_stderr_summary(proc.stderr)}")
    decoded = [int(v) for v in re.findall(rb"^out_time_us=(\d+)", proc.stdout, re.M)]
    decoded_duration = decoded[-1] / 1e6 if decoded else 0.0
    # The last frame's timestamp is one frame short of the clip's length.
    frame = 1 / info.fps if info.fps else 0.0
    if abs(info.duration - expected_duration) > tolerance:
        raise MediaError(f"{path.name} lasts {info.duration:.2f} s, expected {expected_duration:.2f} s")
    if decoded_duration + frame < expected_duration - tolerance:
        raise MediaError(f"{path.name} decodes to only {decoded_duration:.2f} s of {expected_duration:.2f} s")
    return info


def extract_last_frame(video: Path, out: Path) -> Path:
    """Write the exact last decoded frame of `video` as a PNG at `out`.

    Seeks to about a second before the end (decoding starts at the keyframe before that point),
    and keeps the last decoded frame, so the cost does not grow with the clip's length. Falls back
    to decoding the whole clip when the seek window holds no video frame (a clip whose audio runs
    long past its video).
    """
    video, out = Path(video), Path(out)
    what = f"grabbing the last frame of {video.name}"
    # `reverse` holds only the frames after the seek point (earlier ones are dropped before
    # filtering), so at most about a second of pictures sits in memory and only one is encoded.
    tail = ["-map", "0:v:0", "-vf", "reverse", "-frames:v", "1", "-fps_mode", "passthrough"]
    with _atomic_output(out) as tmp:
        _run(
            ["-y", "-sseof", f"-{LAST_FRAME_WINDOW}", "-i", str(video), *tail, str(tmp)],
            timeout=FRAME_TIMEOUT,
            what=what,
        )
        if tmp.stat().st_size == 0:
            logger.info("No video frame in the last %s s of %s; decoding all of it", LAST_FRAME_WINDOW, video)
            timeout = ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * probe(video).duration
            every = ["-map", "0:v:0", "-update", "1", "-fps_mode", "passthrough"]
            _run(["-y", "-i", str(video), *every, str(tmp)], timeout=timeout, what=what)
    return out


def extract_first_frame(video: Path, out: Path) -> Path:
    """Write the first decoded frame of `video` as a PNG at `out`."""
    video, out = Path(video), Path(out)
    with _atomic_output(out) as tmp:
        args = ["-y", "-i", str(video), "-map", "0:v:0", "-frames:v", "1", "-fps_mode", "passthrough"]
        _run([*args, str(tmp)], timeout=FRAME_TIMEOUT, what=f"grabbing the first frame of {video.name}")
    return out


def make_poster(video: Path, out: Path) -> Path:
    """Write a JPEG poster frame at `out`: the frame 1 s in, or 10% in for clips under 10 s
    (past any fade from black, still inside the opening shot)."""
    video, out = Path(video), Path(out)
    at = min(1.0, probe(video).duration * 0.1)
    with _atomic_output(out) as tmp:
        args = ["-y", "-ss", f"{at:.3f}", "-i", str(video), "-map", "0:v:0", "-frames:v", "1", "-q:v", "3"]
        _run([*args, str(tmp)], timeout=FRAME_TIMEOUT, what=f"making a poster for {video.name}")
    return out


# ---------------------------------------------------------------------------------------------
# Assembly


def _rate(fps: float) -> str:
    """An exact ffmpeg rate for a probed frame rate: 24000/1001 rather than 23.976."""
    fraction = Fraction(fps).limit_denominator(1001)
    return f"{fraction.numerator}/{fraction.denominator}"


def _layout(info: Probe) -> tuple:
    return (
        info.video_codec,
        info.width,
        info.height,
        round(info.fps, 3),
        info.pix_fmt,
        info.audio_codec,
        info.audio_sample_rate,
        info.audio_channels,
    )


def _concat_list_line(path: Path) -> str:
    # The concat demuxer's quoting: inside single quotes, a quote is written '\''.
    return "file '" + str(Path(path).resolve()).replace("'", "'\\''") + "'\n"


def assemble(clips: list[Path], out: Path) -> AssemblyResult:
    """Join `clips`, in order, into one MP4 film at `out` (moov atom first, for progressive play).

    When every clip has the same codec, codec headers, frame size, frame rate, pixel format and
    audio layout, the film is their streams copied back to back (concat demuxer, no re-encode:
    "copy"). Otherwise each clip is normalised and the film re-encoded ("normalised"): the frame
    is the FIRST clip's size (the opening shot sets the film's frame; other clips are scaled to
    fit inside it, aspect kept, and padded with black) and its frame rate; H.264 yuv420p; and,
    when any clip has sound, a 48 kHz stereo AAC track in which clips without sound are silent.

    Preconditions: at least one clip, each a readable video. The output replaces `out` atomically,
    so calling again redoes the same work. The film lasts the sum of the clips' durations.
    """
    if not clips:
        raise MediaError("nothing to assemble: no clips")
    clips = [Path(clip) for clip in clips]
    out = Path(out)
    # Each probe is mostly ffmpeg start-up; overlapping a few keeps long films quick to check.
    with ThreadPoolExecutor(max_workers=min(4, len(clips))) as pool:
        inspected = list(pool.map(_inspect, clips))
    infos = [info for info, _ in inspected]
    expected = sum(info.duration for info in infos)

    first_layout, first_headers = _layout(infos[0]), inspected[0][1]
    compatible = all(
        _layout(info) == first_layout and headers == first_headers for info, headers in inspected
    )
    if compatible and first_headers:
        _concat_copy(clips, out, expected)
        duration = probe(out).duration
        # Timestamps that do not line up (odd edit lists, gaps) show as a wrong total; a re-encode
        # lays every clip end to end regardless.
        if abs(duration - expected) <= 0.1 * len(clips):
            return AssemblyResult(method="copy", duration=duration)
        logger.warning(
            "Stream copy of %d clips gave %.2f s instead of %.2f s; re-encoding",
            len(clips),
            duration,
            expected,
        )

    _concat_normalised(clips, infos, out, expected)
    return AssemblyResult(method="normalised", duration=probe(out).duration)


def _concat_copy(clips: list[Path], out: Path, expected: float) -> None:
    with _atomic_output(out) as tmp, tempfile.TemporaryDirectory(prefix="concat-") as workdir:
        listing = Path(workdir) / "clips.txt"
        listing.write_text("ffconcat version 1.0\n" + "".join(_concat_list_line(clip) for clip in clips))
        # auto_convert would rewrite H.264 packets (in-band SPS/PPS on every keyframe); the clips'
        # codec headers are identical, so the packets can go through byte for byte.
        args = ["-y", "-f", "concat", "-safe", "0", "-auto_convert", "0", "-i", str(listing)]
        args += ["-map", "0:v:0", "-map", "0:a:0?"]
        args += ["-c", "copy", "-movflags", "+faststart", str(tmp)]
        _run(args, timeout=ENCODE_TIMEOUT_BASE + expected, what=f"joining {len(clips)} clips")


def _concat_normalised(clips: list[Path], infos: list[Probe], out: Path, expected: float) -> None:
    width, height = infos[0].width, infos[0].height
    width, height = width + width % 2, height + height % 2  # yuv420p needs even sizes
    rate = _rate(infos[0].fps or 24)
    with_audio = any(info.has_audio for info in infos)

    inputs: list[str] = []
    graph: list[str] = []
    segments: list[str] = []
    for index, (clip, info) in enumerate(zip(clips, infos, strict=True)):
        inputs += ["-i", str(clip)]
        # Each segment is cut or padded to exactly the clip's length on both streams, so sound
        # and picture stay in step however the clips' own streams start and end.
        graph.append(
            f"[{index}:v:0]setpts=PTS-STARTPTS,"
            f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,fps={rate},format=yuv420p,"
            f"tpad=stop=-1:stop_mode=clone,trim=duration={info.duration:.6f}[v{index}]"
        )
        segments.append(f"[v{index}]")
        if with_audio:
            if info.has_audio:
                source = f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample={AUDIO_RATE},"
            else:
                source = f"anullsrc=r={AUDIO_RATE}:cl=stereo,"
            graph.append(
                f"{source}aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo,"
                f"apad,atrim=duration={info.duration:.6f}[a{index}]"
            )
            segments.append(f"[a{index}]")
    graph.append(
        f"{''.join(segments)}concat=n={len(clips)}:v=1:a={int(with_audio)}[v]" + ("[a]" if with_audio else "")
    )

    args = ["-y", *inputs, "-filter_complex", ";".join(graph), "-map", "[v]"]
    args += ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", X264_CRF, "-pix_fmt", "yuv420p"]
    args += ["-g", str(2 * math.ceil(infos[0].fps or 24))]
    if with_audio:
        args += ["-map", "[a]", "-c:a", "aac", "-b:a", AUDIO_BITRATE]
        args += ["-ar", str(AUDIO_RATE), "-ac", str(AUDIO_CHANNELS)]
    with _atomic_output(out) as tmp:
        _run(
            [*args, "-movflags", "+faststart", str(tmp)],
            timeout=ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * expected,
            what=f"re-encoding {len(clips)} clips into one film",
        )


# ---------------------------------------------------------------------------------------------
# Audio files, frame counts, loudness


@dataclass(frozen=True)
class AudioProbe:
    duration: float
    codec: str
    sample_rate: int | None
    channels: int | None


def probe_audio(path: str | Path) -> AudioProbe:
    """Facts of the first audio stream of `path` (an audio file such as Runway's speech output, or
    a video with sound). Raises MediaError when the file is missing or unreadable, or has no audio
    stream."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name} does not exist")
    proc = _run(["-i", str(path)], timeout=PROBE_TIMEOUT, what=f"probing {path.name}", check=False)
    stderr = proc.stderr.decode("utf-8", "replace")
    section = stderr.split("Input #0", 1)
    if len(section) < 2:
        raise MediaError(f"cannot read {path.name}: {_stderr_summary(proc.stderr)}")
    section = re.split(r"^(?:Output #|Stream mapping:)", section[1], maxsplit=1, flags=re.M)[0]
    duration_match = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", section)
    audio_match = re.search(r"Stream #0:\d+\S*: Audio: (.+)", section)
    if audio_match is None:
        raise MediaError(f"{path.name} has no audio stream")
    if duration_match is None:
        raise MediaError(f"{path.name} has no duration")
    hours, minutes, seconds = duration_match.groups()
    fields = _split_fields(audio_match.group(1))
    rate = channels = None
    for field in fields[1:]:
        if hz := re.fullmatch(r"(\d+) Hz", field):
            rate = int(hz.group(1))
        elif (layout := re.sub(r"\(.*\)$", "", field)) in _CHANNEL_LAYOUTS:
            channels = _CHANNEL_LAYOUTS[layout]
    return AudioProbe(
        duration=int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        codec=fields[0].split()[0],
        sample_rate=rate,
        channels=channels,
    )


def count_video_frames(path: str | Path) -> int:
    """The number of frames in the first video stream of `path`, read from its packets (no
    decoding, so it costs little even on a long film). Runway's video upscaler bills per frame."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name} does not exist")
    proc = _run(
        [
            "-v",
            "error",
            "-i",
            str(path),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "null",
            "-progress",
            "pipe:1",
            "-",
        ],
        timeout=PROBE_TIMEOUT,
        what=f"counting the frames of {path.name}",
    )
    counts = re.findall(rb"^frame=(\d+)", proc.stdout, re.M)
    if not counts:
        raise MediaError(f"{path.name} has no video frames")
    return int(counts[-1])


def measure_loudness(
    path: str | Path,
    *,
    start: float = 0.0,
    duration: float | None = None,
    band: tuple[float, float] | None = None,
) -> float:
    """The mean volume (RMS, in dBFS; about -91 for digital silence) of the first audio stream of
    `path`, over `duration` seconds from `start` (default: to the end). With `band` = (centre Hz,
    width Hz), only that band counts (a band-pass filter first), so one sound can be measured
    under another: a narration's voice over a film's own sound."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path.name} does not exist")
    args = ["-ss", f"{start:.3f}"]
    if duration is not None:
        args += ["-t", f"{duration:.3f}"]
    filters = []
    if band is not None:
        centre, width = band
        # Two passes of the two-pole filter: steep enough to keep a tone an octave away out.
        filters += [f"bandpass=f={centre}:width_type=h:w={width}"] * 2
    filters.append("volumedetect")
    proc = _run(
        [*args, "-i", str(path), "-map", "0:a:0", "-af", ",".join(filters), "-f", "null", "-"],
        timeout=ENCODE_TIMEOUT_BASE,
        what=f"measuring the loudness of {path.name}",
    )
    match = re.search(rb"mean_volume: (-?[\d.]+|-inf) dB", proc.stderr)
    if match is None:
        raise MediaError(f"{path.name} has no audio in the measured stretch")
    value = match.group(1)
    return -math.inf if value == b"-inf" else float(value)


# ---------------------------------------------------------------------------------------------
# Narration and masters

# Under a narration the film's own sound is pushed down by a sidechain compressor keyed on the
# voice: above about -34 dBFS of voice (0.02) it compresses 10:1, reacting in 20 ms and recovering
# over 400 ms after the voice stops, so music and effects come back between sentences.
DUCK_THRESHOLD = 0.02
DUCK_RATIO = 10
DUCK_ATTACK_MS = 20
DUCK_RELEASE_MS = 400
# The fixed alternative: the film's sound lowered by this much wherever the narration plays.
FIXED_DUCK_DB = -14


@dataclass(frozen=True)
class MixResult:
    duration: float
    narration_seconds: float
    is_film_ducked: bool  # False when the film had no sound of its own
    is_narration_cut: bool  # the narration ran past the end of the film and was cut there


def mix_narration(
    film: str | Path, narration: str | Path, out: str | Path, *, duck: str = "sidechain"
) -> MixResult:
    """Write `film` with `narration` laid over it, from the start, at `out` (MP4, +faststart).

    The picture is copied untouched and the film keeps its length: a shorter narration is followed
    by the film's own sound (or silence), a longer one is cut at the film's end (callers check the
    fit before paying for speech; `is_narration_cut` reports it). Where the film has sound, it is
    lowered under the voice: `duck="sidechain"` (a compressor keyed on the voice, see DUCK_*) or
    `"fixed"` (FIXED_DUCK_DB while the narration plays). Where it has none, the track is the voice
    over silence. The audio is 48 kHz stereo AAC. Replaces `out` atomically; safe to repeat.
    """
    film, narration, out = Path(film), Path(narration), Path(out)
    if duck not in ("sidechain", "fixed"):
        raise ValueError(f"duck must be 'sidechain' or 'fixed', not {duck!r}")
    info = probe(film)
    voice = probe_audio(narration)
    length = f"{info.duration:.6f}"
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo"
    graph = [f"[1:a:0]asetpts=PTS-STARTPTS,aresample={AUDIO_RATE},{fmt},apad,atrim=duration={length}"]
    if info.has_audio:
        graph[0] += ",asplit=2[voice][key]"
        graph.append(
            f"[0:a:0]asetpts=PTS-STARTPTS,aresample={AUDIO_RATE},{fmt},apad,atrim=duration={length}[bed]"
        )
        if duck == "sidechain":
            graph.append(
                f"[bed][key]sidechaincompress=threshold={DUCK_THRESHOLD}:ratio={DUCK_RATIO}:"
                f"attack={DUCK_ATTACK_MS}:release={DUCK_RELEASE_MS}[ducked]"
            )
        else:
            graph.append(
                f"[key]anullsink;[bed]volume={FIXED_DUCK_DB}dB:"
                f"enable='between(t,0,{voice.duration:.6f})'[ducked]"
            )
        graph.append("[ducked][voice]amix=inputs=2:duration=first:normalize=0[a]")
    else:
        graph[0] += "[a]"
    args = ["-y", "-i", str(film), "-i", str(narration), "-filter_complex", ";".join(graph)]
    args += ["-map", "0:v:0", "-c:v", "copy", "-map", "[a]", "-c:a", "aac", "-b:a", AUDIO_BITRATE]
    args += ["-ar", str(AUDIO_RATE), "-ac", str(AUDIO_CHANNELS), "-movflags", "+faststart"]
    with _atomic_output(out) as tmp:
        _run(
            [*args, str(tmp)],
            timeout=ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * info.duration,
            what=f"mixing the narration into {film.name}",
        )
    return MixResult(
        duration=probe(out).duration,
        narration_seconds=voice.duration,
        is_film_ducked=info.has_audio,
        is_narration_cut=voice.duration > info.duration + 0.05,
    )


def upscale(
    video: str | Path, out: str | Path, *, width: int, height: int, fps: float | None = None
) -> Probe:
    """Write `video` scaled to exactly width x height (Lanczos, square pixels) at `out`, H.264
    yuv420p MP4 with its sound copied; with `fps`, at that frame rate (frames repeated, not
    invented). The simulator's stand-in for Runway's upscaler. Replaces `out` atomically."""
    video, out = Path(video), Path(out)
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise MediaError(f"cannot upscale to {width}x{height}: width and height must be even and positive")
    info = probe(video)
    chain = f"scale={width}:{height}:flags=lanczos,setsar=1,format=yuv420p"
    if fps:
        chain += f",fps={_rate(fps)}"
    rate = fps or info.fps or 24
    args = ["-y", "-i", str(video), "-map", "0:v:0", "-map", "0:a:0?", "-vf", chain]
    args += ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", X264_CRF, "-g", str(2 * math.ceil(rate))]
    args += ["-c:a", "copy", "-movflags", "+faststart"]
    with _atomic_output(out) as tmp:
        _run(
            [*args, str(tmp)],
            # A 4K frame is about 9 times a 720p one to encode.
            timeout=ENCODE_TIMEOUT_BASE + 10 * ENCODE_TIMEOUT_PER_SECOND * info.duration,
            what=f"upscaling {video.name} to {width}x{height}",
        )
    return probe(out)


def cut(video: str | Path, out: str | Path, *, start_frame: int, end_frame: int) -> Probe:
    """Write frames `start_frame` up to (not including) `end_frame` of `video`, with its sound over
    the same stretch of time, at `out`: H.264 yuv420p (and AAC) MP4, +faststart.

    Cut by frame number and re-encoded, so the part holds exactly those frames (a stream copy can
    only cut at keyframes). A film cut at consecutive frame numbers and joined again (`assemble`)
    has every frame once and its length. Replaces `out` atomically; safe to repeat."""
    video, out = Path(video), Path(out)
    if not 0 <= start_frame < end_frame:
        raise MediaError(f"cannot cut frames {start_frame} to {end_frame} of {video.name}")
    info = probe(video)
    rate = info.fps or 24
    graph = [f"[0:v:0]trim=start_frame={start_frame}:end_frame={end_frame},setpts=PTS-STARTPTS[v]"]
    args = ["-y", "-i", str(video)]
    if info.has_audio:
        graph.append(
            f"[0:a:0]atrim=start={start_frame / rate:.6f}:end={end_frame / rate:.6f},asetpts=PTS-STARTPTS[a]"
        )
    args += ["-filter_complex", ";".join(graph), "-map", "[v]", "-fps_mode", "passthrough"]
    args += ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", X264_CRF, "-pix_fmt", "yuv420p"]
    args += ["-g", str(2 * math.ceil(rate))]
    if info.has_audio:
        args += ["-map", "[a]", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(AUDIO_RATE)]
    seconds = (end_frame - start_frame) / rate
    with _atomic_output(out) as tmp:
        _run(
            [*args, "-movflags", "+faststart", str(tmp)],
            timeout=ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * seconds,
            what=f"cutting frames {start_frame}-{end_frame} of {video.name}",
        )
    return probe(out)


# ---------------------------------------------------------------------------------------------
# Burned-in captions

# Captions are drawn by libass (ffmpeg's `subtitles` filter, in the imageio-ffmpeg build) in DejaVu
# Sans: wide coverage (Latin, Greek, Cyrillic), open shapes that read at small sizes, and on Debian
# in the fonts-dejavu-core package. CAPTION_FONTS_DIR in the settings points elsewhere.
CAPTION_FONT_NAME = "DejaVu Sans"
DEFAULT_CAPTION_FONTS_DIR = "/usr/share/fonts/truetype/dejavu"


def caption_fonts_dir() -> Path:
    """The folder of the captions' font; MediaError when it holds no font, since libass would then
    fall back to whatever fontconfig finds, or draw nothing at all."""
    configured = getattr(settings, "CAPTION_FONTS_DIR", "") if settings.configured else ""
    folder = Path(configured or DEFAULT_CAPTION_FONTS_DIR)
    if not any(folder.glob("*.ttf")):
        raise MediaError(f"no caption font in {folder}: install fonts-dejavu-core or set CAPTION_FONTS_DIR")
    return folder


def _filter_value(value: str) -> str:
    """`value` quoted as one option value of a filter graph (paths with : or ' in them)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def burn_subtitles(video: str | Path, subtitles: str | Path, out: str | Path) -> Probe:
    """Write `video` with the captions of `subtitles` (an ASS or SRT file) drawn into its picture at
    `out`: H.264 yuv420p MP4 at the film's size and frame rate, its sound copied, +faststart.
    Raises MediaError when ffmpeg fails or no font is found. Replaces `out` atomically."""
    video, subtitles, out = Path(video), Path(subtitles), Path(out)
    info = probe(video)
    fonts = caption_fonts_dir()
    chain = f"subtitles=filename={_filter_value(subtitles)}:fontsdir={_filter_value(fonts)},format=yuv420p"
    args = ["-y", "-i", str(video), "-map", "0:v:0", "-map", "0:a:0?", "-vf", chain]
    args += ["-c:v", "libx264", "-preset", X264_PRESET, "-crf", X264_CRF, "-fps_mode", "passthrough"]
    args += ["-g", str(2 * math.ceil(info.fps or 24)), "-c:a", "copy", "-movflags", "+faststart"]
    with _atomic_output(out) as tmp:
        _run(
            [*args, str(tmp)],
            timeout=ENCODE_TIMEOUT_BASE + ENCODE_TIMEOUT_PER_SECOND * info.duration,
            what=f"burning captions into {video.name}",
        )
    return probe(out)
