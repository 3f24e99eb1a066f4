"""Reference image intake: decide whether an uploaded file is a usable picture, then store it upright.

Only the decoded content counts: the name, the extension and the browser's content type are ignored.
A file is accepted when Pillow decodes it completely as JPEG, PNG or WebP within the size and pixel
limits in settings. The stored copy is re-encoded with its EXIF orientation applied (so every later
consumer, including Runway, sees it the right way up) and nothing but its pixels (no EXIF, XMP,
comments, text chunks or colour profile: a phone photo's EXIF says where it was taken), and a small
JPEG thumbnail is kept beside it.

Memory: one image is decoded at a time, from the upload where Django spooled it, and each encoded
file is spooled to disk beyond SPOOL_BYTES; nothing decoded outlives its turn.
"""

from __future__ import annotations

import io
import math
import struct
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from projects.models import ReferenceImage, ReferenceSet

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow reports a JPEG that carries extra pictures (phones write these: depth maps, previews) as
# "MPO" although it is opened by the JPEG plugin. Its first picture is the photo the user took.
MULTI_PICTURE_JPEG = "MPO"
THUMBNAIL_SIZE = 320
JPEG_QUALITY = 92
OPTIMIZE_MAX_PIXELS = 4_000_000
# Encoded files up to this size stay in memory (a logo, a thumbnail); larger ones go to disk.
SPOOL_BYTES = 1024 * 1024
_SRGB = ImageCms.createProfile("sRGB")

# Pillow refuses (warning, then error at twice this) to open anything larger; our own limit is
# checked too, but this stops a decompression bomb before a single pixel is decoded.
Image.MAX_IMAGE_PIXELS = settings.REFERENCE_IMAGE_MAX_PIXELS


DAMAGED = "is damaged or incomplete; export it again and upload the new file."
# What Pillow raises on malformed input, besides its own UnidentifiedImageError.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, struct.error)


class RejectedImage(Exception):
    """The file cannot be a reference image; the message says why in words a user can act on."""


@dataclass(frozen=True)
class NormalisedImage:
    """The files to store, temporary until saved: `close()` them afterwards."""

    image: File
    thumbnail: File
    width: int
    height: int

    def close(self) -> None:
        self.image.close()
        self.thumbnail.close()


@dataclass
class UploadResult:
    added: list[ReferenceImage] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    # The names, among `rejected`, refused only because the upload had decoded its share of pixels.
    deferred: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.added) + len(self.rejected)

    def defer(self, name: str, reason: str) -> None:
        self.rejected.append((name, reason))
        self.deferred.append(name)


def _megabytes(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:.1f} megapixels"


def flatten(img: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency is laid on white rather than turned black."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _open_checked(upload: UploadedFile) -> Image.Image:
    """The upload opened by Pillow, its header read and checked, no pixel decoded yet."""
    max_pixels = settings.REFERENCE_IMAGE_MAX_PIXELS
    limit = f"the limit is {_megapixels(max_pixels)}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(upload, formats=ACCEPTED_FORMATS)
        except UnidentifiedImageError:
            raise RejectedImage("is not a JPEG, PNG or WebP image.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RejectedImage(
                f"has too many pixels ({limit}); scale it down and upload it again."
            ) from None
        except _DECODE_ERRORS:
            # Pillow reads the header while identifying; a damaged header fails here.
            raise RejectedImage(DAMAGED) from None
    try:
        if img.format not in (*ACCEPTED_FORMATS, MULTI_PICTURE_JPEG):
            raise RejectedImage("is not a JPEG, PNG or WebP image.")
        if img.format == MULTI_PICTURE_JPEG:
            img.seek(0)
        width, height = img.size
        if width <= 0 or height <= 0:
            raise RejectedImage("has no pixels.")
        if width * height > max_pixels:
            raise RejectedImage(
                f"is {width}×{height}, {_megapixels(width * height)}; {limit}. Scale it down and upload it again."
            )
    except BaseException:
        img.close()
        raise
    return img


def _decode(img: Image.Image, *, max_side: int | None) -> None:
    """Decode every pixel (so a truncated or corrupt file fails here and not later), a JPEG at the
    smallest power-of-two scale that still covers `max_side`: a 40-megapixel photo wanted at 1024
    pixels is decoded at an eighth of its size, not decoded whole and then shrunk."""
    limit = f"the limit is {_megapixels(settings.REFERENCE_IMAGE_MAX_PIXELS)}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            if max_side and max(img.size) > max_side and img.format in ("JPEG", MULTI_PICTURE_JPEG):
                scale = max_side / max(img.size)
                img.draft("RGB", (math.ceil(img.width * scale), math.ceil(img.height * scale)))
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RejectedImage(
                f"has too many pixels ({limit}); scale it down and upload it again."
            ) from None
        except _DECODE_ERRORS:
            raise RejectedImage(DAMAGED) from None


def _to_srgb(img: Image.Image) -> Image.Image:
    """Pixels described by an embedded colour profile, converted to sRGB, which is what a file with
    no profile is taken to be. A profile that cannot be read is dropped as it is."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        ImageCms.profileToProfile(img, source, _SRGB, outputMode=img.mode, inPlace=True)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        pass
    return img


def _pixels_only(img: Image.Image, *, keep_png: bool) -> Image.Image:
    """The picture upright and in a mode its output format can hold, with nothing but its pixels.

    Everything else a file carries (EXIF with camera, place and owner; XMP; a JPEG comment; PNG
    text; the colour profile) is dropped: the orientation and the profile are applied first, and
    Pillow writes back whatever is left in `info` (a JPEG comment, a PNG profile) when saving.
    Works in place where it can: a 40-megapixel photo is 120 MB decoded, and a copy is another 120.
    """
    ImageOps.exif_transpose(img, in_place=True)
    img = _to_srgb(img)
    if keep_png:
        if img.mode == "P" or "transparency" in img.info:
            img = img.convert("RGBA")  # the transparency becomes pixels, not a chunk to carry over
        elif img.mode not in ("RGB", "RGBA", "L", "LA"):
            img = img.convert("RGB")
    elif img.mode != "RGB" or "transparency" in img.info:
        img = flatten(img)
    img.info = {}
    return img


def _spooled(name: str, write: Callable[[IO[bytes]], None]) -> File:
    """What `write` writes, kept in memory up to SPOOL_BYTES and on disk beyond, as a Django File."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    write(spool)
    file = File(spool, name=name)
    file.size = spool.tell()
    spool.seek(0)
    return file


def _normalise(img: Image.Image, *, max_side: int | None) -> NormalisedImage:
    _decode(img, max_side=max_side)
    try:
        keep_png = img.format == "PNG"
        upright = _pixels_only(img, keep_png=keep_png)
        if max_side and max(upright.size) > max_side:
            upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        width, height = upright.size
        if keep_png:
            image = _spooled("reference.png", lambda out: upright.save(out, format="PNG"))
        else:
            # Optimised Huffman tables make libjpeg hold every coefficient of the image (about as
            # much again as the decoded pixels) for a file a few percent smaller: not for big photos.
            optimize = width * height <= OPTIMIZE_MAX_PIXELS
            image = _spooled(
                "reference.jpg",
                lambda out: upright.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=optimize),
            )
        # The thumbnail is made from the same decoded pixels, shrunk in place: no second decode.
        upright.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
        thumb = flatten(upright)
        thumb.info = {}
        thumbnail = _spooled(
            "thumbnail.jpg", lambda out: thumb.save(out, format="JPEG", quality=82, optimize=True)
        )
    except _DECODE_ERRORS:
        # Metadata (EXIF, ICC) is parsed lazily; a damaged block fails only now.
        raise RejectedImage(DAMAGED) from None
    return NormalisedImage(image=image, thumbnail=thumbnail, width=width, height=height)


def _checked_size(upload: UploadedFile) -> None:
    max_bytes = settings.REFERENCE_IMAGE_MAX_BYTES
    size = upload.size
    if size is None:
        upload.seek(0, io.SEEK_END)
        size = upload.tell()
    if size > max_bytes:
        raise RejectedImage(f"is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}.")
    if size == 0:
        raise RejectedImage("is empty.")
    upload.seek(0)


def normalise_reference_image(upload: UploadedFile, *, max_side: int | None = None) -> NormalisedImage:
    """Validate one uploaded file and return the upright re-encoded image (its long side at most
    `max_side`, if given) and its thumbnail, holding nothing but their pixels.

    Raises RejectedImage with the reason. Reads the upload from the start, where it lies (Django
    keeps uploads above FILE_UPLOAD_MAX_MEMORY_SIZE on disk); touches no database. The files
    returned are temporary: save them, then `close()` them.
    """
    _checked_size(upload)
    with _open_checked(upload) as img:
        return _normalise(img, max_side=max_side)


def _display_name(upload: UploadedFile) -> str:
    name = (upload.name or "unnamed file").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:255]


def _too_much() -> str:
    limit = _megapixels(settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST)
    return f"would make too much in one upload (at most {limit} in all); send it and the rest again."


def add_reference_images(reference_set: ReferenceSet, *, files: list[UploadedFile]) -> UploadResult:
    """Store every acceptable file in `files` at the end of the set; report each rejected one.

    One bad file never stops the good ones. One image is decoded at a time and let go before the
    next. Once the pixels decoded would pass REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST (counted from
    each file's header, before decoding it), that file and every later one are refused undecoded
    as "deferred", so that one request stays within a web worker's time and the user sends the
    rest again; the first image is always taken, whatever its size. Not idempotent: uploading the
    same picture twice keeps two copies, as a user who did that would expect.
    """
    result = UploadResult()
    budget = settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST
    decoded = 0
    for upload in files:
        name = _display_name(upload)
        if result.deferred:
            result.defer(name, _too_much())
            continue
        try:
            _checked_size(upload)
            with _open_checked(upload) as img:
                pixels = img.width * img.height
                if decoded and decoded + pixels > budget:
                    result.defer(name, _too_much())
                    continue
                decoded += pixels
                normalised = _normalise(img, max_side=None)
        except RejectedImage as rejection:
            result.rejected.append((name, str(rejection)))
            continue
        try:
            image = ReferenceImage(reference_set=reference_set, original_name=name)
            # Files are written before the row so that a failed write leaves no row without a file.
            image.image.save(normalised.image.name, normalised.image, save=False)
            image.thumbnail.save(normalised.thumbnail.name, normalised.thumbnail, save=False)
        finally:
            normalised.close()
        with transaction.atomic():
            last = reference_set.images.aggregate(last=Max("position"))["last"]
            image.position = 0 if last is None else last + 1
            image.save()
        result.added.append(image)
    return result


def delete_reference_image(image: ReferenceImage) -> None:
    """Remove the row and then its files (a file left behind is harmless, a row without one is not)."""
    files = [f for f in (image.image, image.thumbnail) if f]
    storage_names = [(f.storage, f.name) for f in files]
    image.delete()
    for storage, name in storage_names:
        storage.delete(name)
