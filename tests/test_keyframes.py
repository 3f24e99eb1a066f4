"""Keyframes for Runway (generation/keyframes.py): images made upright, RGB, within Runway's aspect
limits and small enough for a data URI. An image too big for one is uploaded: see test_runway.py."""

from __future__ import annotations

import base64
import io
import os

import pytest
from PIL import Image

from generation import catalog
from generation.keyframes import image_uri, prepare_image


def _jpeg(image: Image.Image, **save_args: object) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **save_args)
    buffer.seek(0)
    return buffer


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _close(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour, strict=True))


def test_it_turns_an_exif_rotated_photo_upright():
    # Stored sideways (red left, blue right) with orientation 6: shown rotated 90 degrees clockwise.
    stored = Image.new("RGB", (120, 80), (255, 0, 0))
    stored.paste((0, 0, 255), (60, 0, 120, 80))
    exif = Image.Exif()
    exif[0x0112] = 6

    result = _open(prepare_image(_jpeg(stored, exif=exif.tobytes())))

    assert result.format == "JPEG"
    assert result.size == (80, 120)
    assert _close(result.getpixel((40, 10)), (255, 0, 0))
    assert _close(result.getpixel((40, 110)), (0, 0, 255))
    assert result.getexif().get(0x0112) in (None, 1)


def test_it_turns_an_rgba_png_into_rgb_jpeg(tmp_path):
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    image.paste((200, 30, 30, 255), (25, 25, 75, 75))
    image.save(path)

    result = _open(prepare_image(path))

    assert result.mode == "RGB"
    assert result.format == "JPEG"
    assert _close(result.getpixel((5, 5)), (255, 255, 255))
    assert _close(result.getpixel((50, 50)), (200, 30, 30))


def test_it_letterboxes_a_panorama_into_two_to_one():
    panorama = Image.new("RGB", (300, 100), (0, 200, 0))

    result = _open(prepare_image(_jpeg(panorama), fit="pad"))

    assert result.size == (300, 150)
    assert _close(result.getpixel((150, 5)), (0, 0, 0))
    assert _close(result.getpixel((150, 75)), (0, 200, 0))
    assert _close(result.getpixel((150, 145)), (0, 0, 0))


def test_it_crops_a_panorama_to_its_centre():
    panorama = Image.new("RGB", (300, 100), (255, 0, 0))
    panorama.paste((0, 200, 0), (50, 0, 250, 100))

    result = _open(prepare_image(_jpeg(panorama), fit="crop"))

    assert result.size == (200, 100)
    assert _close(result.getpixel((3, 50)), (0, 200, 0))
    assert _close(result.getpixel((196, 50)), (0, 200, 0))


def test_it_pads_a_tall_strip_into_one_to_two():
    strip = Image.new("RGB", (60, 400), (0, 200, 0))

    result = _open(prepare_image(_jpeg(strip)))

    assert result.size == (200, 400)


def test_it_caps_the_long_side():
    big = Image.new("RGB", (3000, 2000), (10, 120, 200))

    result = _open(prepare_image(_jpeg(big), max_side=1000))

    assert result.size == (1000, 667)


def test_it_refuses_an_unknown_fit():
    with pytest.raises(ValueError, match="pad"):
        prepare_image(_jpeg(Image.new("RGB", (10, 10))), fit="stretch")


def _noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def test_a_noisy_photo_at_the_default_size_fits_a_data_uri():
    data = prepare_image(_jpeg(_noise(2048, 1536)))

    uri = image_uri(data)

    assert uri.startswith("data:image/jpeg;base64,")
    assert len(uri) <= catalog.DATA_URI_MAX_CHARS
    assert base64.b64decode(uri.split(",", 1)[1]) == data


def test_a_small_png_becomes_a_png_data_uri():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PNG")

    assert image_uri(buffer.getvalue()).startswith("data:image/png;base64,")
