"""The simulator's stand-in clips: keyframes (or a title card), a slow zoom, the prompt, a tone.

The pictures are drawn with Pillow; the ffmpeg command line is built with ffmpeg-python's filter
graph and run by `generation.media`, the one module that executes ffmpeg. Encoder settings are
media's, so a simulated clip joins with others of its size and sound layout by stream copy, as
real clips of one model do.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import ffmpeg
from PIL import Image, ImageDraw, ImageFont, ImageOps

from generation import media
from generation.media import MediaError


def _fit(image_path: Path, width: int, height: int) -> Image.Image:
    """The image scaled to cover width x height and centre-cropped, upright, in RGB."""
    try:
        with Image.open(image_path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except (OSError, ValueError) as exc:
        raise MediaError(f"cannot read the image {Path(image_path).name}: {exc}") from exc
    return ImageOps.fit(upright, (width, height), method=Image.Resampling.LANCZOS)


def _title_card(text: str, width: int, height: int) -> Image.Image:
    """A gradient card whose colours come from the prompt, for clips generated from text alone."""
    digest = hashlib.sha256(text.encode()).digest()
    top, bottom = digest[0:3], digest[3:6]
    card = Image.linear_gradient("L").resize((width, height))
    start = Image.new("RGB", (width, height), tuple(c // 2 for c in top))
    end = Image.new("RGB", (width, height), tuple(64 + c // 2 for c in bottom))
    card = Image.composite(end, start, card)
    draw = ImageDraw.Draw(card)
    # A few shapes, so the slow zoom is visible on an otherwise smooth gradient.
    for index in range(4):
        x, y = digest[6 + index] / 255 * width, digest[10 + index] / 255 * height
        radius = (0.05 + digest[14 + index] / 255 * 0.15) * min(width, height)
        draw.ellipse(
            [x - radius, y - radius, x + radius, y + radius],
            outline=(255, 255, 255),
            width=max(1, height // 120),
        )
    return card


def _caption(text: str, width: int, height: int) -> Image.Image:
    """The prompt on a translucent band (RGBA, full width), wrapped to at most three lines."""
    size = max(10, min(width, height) // 20)
    font = ImageFont.load_default(size=size)
    lines = _wrap(" ".join(text.split()), font, max_width=width * 0.9, max_lines=3)
    line_height = int(size * 1.3)
    band = Image.new("RGBA", (width, line_height * len(lines) + size), (0, 0, 0, 140))
    draw = ImageDraw.Draw(band)
    for number, line in enumerate(lines):
        position = (width * 0.05, size // 2 + number * line_height)
        draw.text(position, line, font=font, fill=(255, 255, 255, 255))
    return band


def _wrap(text: str, font: ImageFont.FreeTypeFont, *, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap by measured width; a word wider than a line is cut, overflow ends in '…'."""
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}".strip()
        if font.getlength(candidate) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > max_width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and font.getlength(current[:cut]) > max_width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and font.getlength(last + " …") > max_width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last.rstrip() + " …"]
    return lines


def _still(path: Path, *, pix_fmt: str, repeats: int, fps: int, start: int = 0) -> ffmpeg.Stream:
    """One decoded picture shown 1 + `repeats` times from frame `start`: cheaper than re-reading
    the image for every frame."""
    return (
        ffmpeg.input(str(path))
        .filter("format", pix_fmt)
        .filter("loop", loop=repeats, size=1)
        .filter("settb", f"1/{fps}")
        .filter("setpts", f"N+{start}")
    )


def render_clip(
    *,
    out: Path,
    width: int,
    height: int,
    duration: float,
    fps: int = 24,
    first_image: Path | None,
    last_image: Path | None,
    text: str,
    with_audio: bool,
) -> Path:
    """Render a stand-in for a generated clip: H.264 MP4 of exactly round(duration*fps) frames.

    The first frame is `first_image` fitted to the frame (cover, centre crop), or a title card
    when there is none; the picture then zooms in slowly. With `last_image`, the clip dissolves
    into that image (fitted the same way) so that its final frame IS the image. The prompt fades
    in on a caption band after the first frame and out before the last, so neither carries it.
    With `with_audio`, a quiet 48 kHz stereo AAC tone; otherwise no audio stream at all.
    The file replaces `out` only once it is whole. Raises MediaError.
    """
    if width <= 0 or height <= 0 or width % 2 or height % 2:
        raise MediaError(f"cannot render {width}x{height}: width and height must be even and positive")
    frames = round(duration * fps)
    if fps <= 0 or frames < 2:
        raise MediaError(f"cannot render {duration} s at {fps} fps: too short")
    out = Path(out)

    with tempfile.TemporaryDirectory(prefix="render-") as workdir:
        work = Path(workdir)
        base = _fit(first_image, width, height) if first_image else _title_card(text, width, height)
        base.save(work / "first.png", compress_level=1)
        last_frame = frames - 1
        zoom = 0.08  # over the whole clip: slow enough to read as a camera push
        video = _still(work / "first.png", pix_fmt="yuv420p", repeats=last_frame, fps=fps).filter(
            "zoompan",
            z=f"1+{zoom}*on/{last_frame}",
            x="(iw-iw/zoom)/2",
            y="(ih-ih/zoom)/2",
            d=1,
            s=f"{width}x{height}",
            fps=fps,
        )
        blend = 0

        if last_image:
            _fit(last_image, width, height).save(work / "last.png", compress_level=1)
            # The dissolve's frames run from `start` to the last frame; its opacity reaches 1 exactly
            # on the last frame (fade-in over n frames is opaque on its n-th frame after the start).
            blend = max(1, min(last_frame, round(fps * min(1.5, duration / 3))))
            start = last_frame - blend
            dissolve = _still(work / "last.png", pix_fmt="yuva420p", repeats=blend, fps=fps, start=start)
            dissolve = dissolve.filter("fade", t="in", n=blend, alpha=1)
            video = ffmpeg.overlay(video, dissolve, eof_action="pass", format="yuv420")

        caption_frames = last_frame - 2 - blend
        if text.strip() and caption_frames >= 4:
            caption = _caption(text, width, height)
            caption.save(work / "caption.png")
            fade = max(1, min(fps // 3, caption_frames // 4))
            band = (
                _still(work / "caption.png", pix_fmt="yuva420p", repeats=caption_frames, fps=fps, start=1)
                .filter("fade", t="in", n=fade, alpha=1)
                .filter("fade", t="out", s=caption_frames - fade, n=fade, alpha=1)
            )
            y = height - caption.height - height // 20
            video = ffmpeg.overlay(video, band, x=0, y=y, eof_action="pass", format="yuv420")

        streams = [video]
        options: dict[str, object] = {
            "frames:v": frames,
            "c:v": "libx264",
            "preset": media.X264_PRESET,
            "crf": media.X264_CRF,
            "pix_fmt": "yuv420p",
            # A keyframe every second keeps seeking (and the last-frame grab) cheap.
            "g": fps,
            "r": fps,
            "movflags": "+faststart",
        }
        if with_audio:
            tone = f"sine=frequency=220:sample_rate={media.AUDIO_RATE}:duration={frames / fps:.6f}"
            streams.append(
                ffmpeg.input(tone, f="lavfi")
                .filter("volume", 0.08)
                .filter("aformat", channel_layouts="stereo")
            )
            options.update({"c:a": "aac", "b:a": media.AUDIO_BITRATE, "ar": media.AUDIO_RATE})

        def command(tmp: Path) -> list[str]:
            return ["-y", *ffmpeg.get_args(ffmpeg.output(*streams, str(tmp), **options))]

        return media.write_with_ffmpeg(
            out,
            command,
            timeout=media.ENCODE_TIMEOUT_BASE + media.ENCODE_TIMEOUT_PER_SECOND * duration,
            what=f"rendering {out.name}",
        )


def render_image(
    *, out: Path, width: int, height: int, references: list[tuple[str | None, Path]], text: str
) -> Path:
    """Render a stand-in for a generated still: a PNG of exactly width x height.

    Each reference image fills one vertical strip, left to right in the order the request listed
    them, under a label with its @tag (or its number when untagged), so a test can read which
    references were used and in what order from the strips' colours; with no references, a title
    card from the prompt. The prompt is drawn on a band near the bottom. `out` is replaced only once
    the file is whole. Raises MediaError.
    """
    if width <= 0 or height <= 0:
        raise MediaError(f"cannot render {width}x{height}: width and height must be positive")
    out = Path(out)
    if references:
        canvas = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(canvas)
        size = max(10, min(width, height) // 24)
        font = ImageFont.load_default(size=size)
        count = len(references)
        for number, (tag, path) in enumerate(references):
            left = width * number // count
            right = width * (number + 1) // count
            canvas.paste(_fit(path, right - left, height), (left, 0))
            label = f"@{tag}" if tag else f"#{number + 1}"
            draw.rectangle([left, 0, right - 1, int(size * 1.6)], fill=(0, 0, 0))
            draw.text((left + size // 2, size // 4), label, font=font, fill=(255, 255, 255))
            if number:
                draw.line([left, 0, left, height], fill=(255, 255, 255), width=max(1, width // 640))
    else:
        canvas = _title_card(text, width, height)
    if text.strip():
        caption = _caption(text, width, height)
        canvas.paste(caption, (0, height - caption.height - height // 20), caption)
    with tempfile.NamedTemporaryFile(
        dir=out.parent, prefix=f".{out.name}.", suffix=".png", delete=False
    ) as tmp:
        partial = Path(tmp.name)
    try:
        canvas.save(partial, "PNG", compress_level=1)
        partial.replace(out)
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    return out


# ---------------------------------------------------------------------------------------------
# Speech and upscaling

# The stand-in voice: two "formants" at 700 and 1400 Hz, swelling and fading four times a second
# like syllables. Well clear of the 220 Hz tone of simulated clips, so a test can measure each
# under the other with a band-pass filter.
SPEECH_FORMANTS_HZ = (700, 1400)
SPEECH_SYLLABLES_PER_SECOND = 4
SPEECH_SAMPLE_RATE = 44100
SPEECH_BITRATE = "128k"


def render_speech(*, out: Path, duration: float) -> Path:
    """Render a stand-in for Runway's speech: an MP3 (44.1 kHz mono, as ElevenLabs delivers) of
    `duration` seconds of a speech-like signal (see SPEECH_FORMANTS_HZ), faded in and out over
    20 ms so it starts and ends without a click. Replaces `out` only once whole. Raises MediaError."""
    if duration <= 0.1:
        raise MediaError(f"cannot render {duration} s of speech: too short")
    low, high = SPEECH_FORMANTS_HZ
    envelope = f"(0.6+0.4*sin(2*PI*{SPEECH_SYLLABLES_PER_SECOND}*t))"
    voice = f"0.25*{envelope}*(sin(2*PI*{low}*t)+0.5*sin(2*PI*{high}*t))"
    source = ffmpeg.input(
        f"aevalsrc=exprs='{voice}':s={SPEECH_SAMPLE_RATE}:d={duration:.3f}", f="lavfi"
    ).filter("afade", t="in", d=0.02)
    source = source.filter("afade", t="out", st=max(0.0, duration - 0.02), d=0.02)
    options = {"c:a": "libmp3lame", "b:a": SPEECH_BITRATE, "ar": SPEECH_SAMPLE_RATE, "ac": 1}

    def command(tmp: Path) -> list[str]:
        return ["-y", *ffmpeg.get_args(ffmpeg.output(source, str(tmp), **options))]

    return media.write_with_ffmpeg(
        Path(out),
        command,
        timeout=media.ENCODE_TIMEOUT_BASE + duration,
        what=f"rendering speech {Path(out).name}",
    )


def inspect_video(data: bytes) -> tuple[int, int, float, int, float, bool]:
    """(width, height, fps, frames, duration, has_audio) of an input video given as bytes.

    Raises MediaError when ffmpeg cannot read it as a video."""
    with tempfile.TemporaryDirectory(prefix="inspect-") as workdir:
        path = Path(workdir) / "input.mp4"
        path.write_bytes(data)
        info = media.probe(path)
        frames = media.count_video_frames(path)
    return info.width, info.height, info.fps, frames, info.duration, info.has_audio


def render_upscale(*, source: bytes, out: Path, width: int, height: int, fps: float | None) -> Path:
    """Render a stand-in for Runway's upscaler: the input video scaled to width x height with
    ffmpeg (media.upscale), sound kept; at `fps` when given (fpsBoost). Raises MediaError."""
    with tempfile.TemporaryDirectory(prefix="upscale-") as workdir:
        path = Path(workdir) / "input.mp4"
        path.write_bytes(source)
        media.upscale(path, out, width=width, height=height, fps=fps)
    return Path(out)
