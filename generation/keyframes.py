"""Keyframes for Runway: a reference image, or the last frame of the shot before, as bytes and a URI
Runway accepts.

Reference images were checked and stored upright when they were uploaded (projects/images.py), and
transparency is laid on white here as it was there; what this module adds is what Runway asks of
an input image: an aspect within 0.5-2.0 and a data URI under its size limit.
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import IO

from PIL import Image, ImageOps

from generation import catalog, runway
from projects.images import flatten

# Aspect limits Runway enforces on input images (width / height).
MIN_ASPECT = 0.5
MAX_ASPECT = 2.0
JPEG_QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50, 40)


def prepare_image(source: str | Path | IO[bytes], *, fit: str = "pad", max_side: int = 2048) -> bytes:
    """Normalise an image for Runway and return it as JPEG bytes.

    Applies the EXIF orientation, converts to RGB (transparency over white), caps the long side at
    `max_side`, then brings width/height within 0.5-2.0 by letterboxing in black (`fit="pad"`)
    or by a centre crop (`fit="crop"`). JPEG quality steps down until the data URI fits under
    catalog.DATA_URI_MAX_CHARS; if even the lowest quality does not fit, the smallest encoding is
    returned and `image_uri` sends it as an upload. Pillow's errors propagate for unreadable files.
    """
    if fit not in ("pad", "crop"):
        raise ValueError(f"fit must be 'pad' or 'crop', not {fit!r}.")
    with Image.open(source) as opened:
        # Let the JPEG decoder scale down by a power of two while decoding: much faster on big photos.
        scale = min(1.0, max_side / max(opened.size))
        opened.draft("RGB", (math.ceil(opened.width * scale), math.ceil(opened.height * scale)))
        image = flatten(ImageOps.exif_transpose(opened))
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    image = _fit_aspect(image, fit=fit)
    encoded = b""
    for quality in JPEG_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=quality, optimize=True)
        encoded = buffer.getvalue()
        if _data_uri_length(encoded) <= catalog.DATA_URI_MAX_CHARS:
            break
    return encoded


def _fit_aspect(image: Image.Image, *, fit: str) -> Image.Image:
    width, height = image.size
    if MIN_ASPECT <= width / height <= MAX_ASPECT:
        return image
    too_wide = width / height > MAX_ASPECT
    if fit == "crop":
        if too_wide:
            new_width = math.floor(height * MAX_ASPECT)
            left = (width - new_width) // 2
            return image.crop((left, 0, left + new_width, height))
        new_height = math.floor(width / MIN_ASPECT)
        top = (height - new_height) // 2
        return image.crop((0, top, width, top + new_height))
    size = (width, math.ceil(width / MAX_ASPECT)) if too_wide else (math.ceil(height * MIN_ASPECT), height)
    canvas = Image.new("RGB", size, (0, 0, 0))
    canvas.paste(image, ((size[0] - width) // 2, (size[1] - height) // 2))
    return canvas


def _image_mime(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


def _data_uri_prefix(data: bytes) -> str:
    return f"data:{_image_mime(data)};base64,"


def _data_uri_length(data: bytes) -> int:
    return len(_data_uri_prefix(data)) + 4 * math.ceil(len(data) / 3)


def image_uri(data: bytes, *, client: runway.RunwayClient | None = None, filename: str = "image.jpg") -> str:
    """A URI Runway accepts for these image bytes: a data URI when it fits under Runway's limit,
    otherwise an ephemeral upload's runway:// URI (which calls Runway)."""
    if _data_uri_length(data) <= catalog.DATA_URI_MAX_CHARS:
        return _data_uri_prefix(data) + base64.b64encode(data).decode("ascii")
    return (client or runway.client_from_settings()).upload_ephemeral(filename, data)
