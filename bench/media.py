"""Figures for generation.media on this machine (not a test): `.venv/bin/python bench/media.py`.

1. Assembling 10 clips of 8 s at 1920x1080: stream copy vs a plain byte copy of the same files
   (the floor for any join) vs the normalising re-encode of the same clips.
2. Grabbing the last frame of a 10 s vs a 2 s clip (seeking from the end should make them cost
   about the same: target ratio <= 1.5) vs decoding the whole 10 s clip.

Everything is written to a temporary folder that is removed at the end. Needs no Django settings:
without them media uses the imageio-ffmpeg binary.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generation import media  # noqa: E402
from generation.simulator.render import render_clip  # noqa: E402

WIDTH, HEIGHT = 1920, 1080
CLIPS = 10
CLIP_SECONDS = 8
REPEAT = 5


def timed(action: Callable[[], object], *, repeat: int = REPEAT) -> float:
    """Median wall time of `repeat` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def picture(path: Path, index: int) -> Path:
    image = Image.new("RGB", (WIDTH, HEIGHT), ((index * 53) % 256, (index * 97) % 256, (index * 31) % 256))
    draw = ImageDraw.Draw(image)
    for step in range(0, WIDTH, 60):
        draw.line([(step, 0), (WIDTH - step, HEIGHT)], fill=(255, 255, 255), width=4)
    draw.ellipse([WIDTH * 0.3, HEIGHT * 0.3, WIDTH * 0.6, HEIGHT * 0.7], fill=(20, 20, 20))
    image.save(path)
    return path


def byte_copy(clips: list[Path], out: Path) -> None:
    with out.open("wb") as target:
        for clip in clips:
            with clip.open("rb") as source:
                shutil.copyfileobj(source, target, 1 << 20)


def main() -> None:
    print(f"ffmpeg: {media.ffmpeg_exe()}")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as folder:
        work = Path(folder)

        started = time.perf_counter()
        clips = [
            render_clip(
                out=work / f"clip{index}.mp4",
                width=WIDTH,
                height=HEIGHT,
                duration=CLIP_SECONDS,
                first_image=picture(work / f"first{index}.png", index),
                last_image=picture(work / f"last{index}.png", index + 1),
                text=f"Shot {index + 1}: a slow push through the harbour house",
                with_audio=True,
            )
            for index in range(CLIPS)
        ]
        render = (time.perf_counter() - started) / CLIPS
        total_mb = sum(clip.stat().st_size for clip in clips) / 1e6
        print(f"\nrender_clip {WIDTH}x{HEIGHT} {CLIP_SECONDS} s with audio: {render:.2f} s per clip")
        small = work / "small.mp4"
        seconds = timed(
            lambda: render_clip(
                out=small,
                width=320,
                height=180,
                duration=4,
                first_image=None,
                last_image=None,
                text="t",
                with_audio=True,
            )
        )
        print(f"render_clip 320x180 4 s: {seconds:.3f} s")
        seconds = timed(
            lambda: render_clip(
                out=small,
                width=1280,
                height=720,
                duration=8,
                first_image=work / "first0.png",
                last_image=work / "last0.png",
                text="t",
                with_audio=True,
            ),
            repeat=3,
        )
        print(f"render_clip 1280x720 8 s with last image and audio: {seconds:.2f} s")

        print(
            f"\nAssembly of {CLIPS} clips x {CLIP_SECONDS} s at {WIDTH}x{HEIGHT} ({total_mb:.1f} MB in all)"
        )
        film = work / "film.mp4"
        result = media.assemble(clips, film)
        assert result.method == "copy", result
        copy = timed(lambda: media.assemble(clips, film))
        plain = timed(lambda: byte_copy(clips, work / "bytes.bin"))
        infos = [media.probe(clip) for clip in clips]
        expected = sum(info.duration for info in infos)
        normalised_film = work / "normalised.mp4"
        # The normalising path on the very same clips (assemble only takes it for mismatched ones).
        normalised = timed(
            lambda: media._concat_normalised(clips, infos, normalised_film, expected), repeat=1
        )
        print(f"  stream copy (assemble, method={result.method}, {result.duration:.2f} s film): {copy:.3f} s")
        print(f"  byte copy of the same files:             {plain:.3f} s   copy/bytes = {copy / plain:.1f}x")
        print(
            f"  normalising re-encode:                   {normalised:.2f} s   normalised/copy = {normalised / copy:.0f}x"
        )

        print("\nLast-frame grab (1920x1080, keyframe every second)")
        grabs = {}
        for seconds_long in (2, 10):
            clip = render_clip(
                out=work / f"grab{seconds_long}.mp4",
                width=WIDTH,
                height=HEIGHT,
                duration=seconds_long,
                first_image=work / "first1.png",
                last_image=work / "last1.png",
                text="grab",
                with_audio=True,
            )
            grabs[seconds_long] = timed(lambda clip=clip: media.extract_last_frame(clip, work / "last.png"))
            print(f"  {seconds_long:>2} s clip: {grabs[seconds_long]:.3f} s")
        print(f"  10 s / 2 s = {grabs[10] / grabs[2]:.2f} (target <= 1.5)")
        whole = timed(lambda: media.verify_clip(work / "grab10.mp4", expected_duration=10), repeat=3)
        print(f"  decoding the whole 10 s clip: {whole:.3f} s   whole/grab = {whole / grabs[10]:.1f}x")


if __name__ == "__main__":
    main()
