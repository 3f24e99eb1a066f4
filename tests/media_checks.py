"""Checks on media files for tests/test_media.py and tests/test_simulator_render.py.

They run ffmpeg directly, as an independent oracle (packet checksums, stream ends), never through
generation.media, the code under test.
"""

import re
import subprocess
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageStat

from generation import media


def run_ffmpeg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [media.ffmpeg_exe(), "-hide_banner", "-nostdin", *args], capture_output=True, timeout=60, check=True
    )


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    stat = ImageStat.Stat(ImageChops.difference(a.convert("RGB"), b.convert("RGB")))
    return sum(stat.mean) / 3


def picture(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    """A picture with large, distinct shapes: easy to tell apart after lossy encoding."""
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse([w * 0.1, h * 0.2, w * 0.45, h * 0.8], fill=(240, 240, 240))
    draw.rectangle([w * 0.6, h * 0.1, w * 0.9, h * 0.5], fill=(20, 20, 20))
    image.save(path)
    return path


def video_packets(path: Path) -> list[tuple[str, str]]:
    """(size, md5) of every video packet, in order, read by stream copy: the bitstream itself."""
    lines = run_ffmpeg("-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-").stdout.decode()
    return [tuple(line.split(",")[4:6]) for line in lines.splitlines() if line and not line.startswith("#")]


def stream_end(path: Path, stream: str) -> float:
    """Where a stream's last packet ends, in seconds."""
    crc = run_ffmpeg(
        "-i", str(path), "-map", f"0:{stream}:0", "-c", "copy", "-f", "framecrc", "-"
    ).stdout.decode()
    num, den = re.search(r"^#tb 0: (\d+)/(\d+)", crc, re.M).groups()
    packets = [line.split(",") for line in crc.splitlines() if line and not line.startswith("#")]
    return max(int(p[2]) + int(p[3]) for p in packets) * int(num) / int(den)
