"""Reference image intake: decide whether an uploaded file is a usable picture, then store it upright.

Only the decoded content counts: the name, the extension and the browser's content type are ignored.
A file is accepted when Pillow decodes it completely as JPEG, PNG or WebP within the size and pixel
limits in settings. The stored copy is re-encoded with its EXIF orientation applied (so every later
consumer, including Runway, sees it the right way up) and a small JPEG thumbnail is kept beside it.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from PIL import Image, ImageOps, UnidentifiedImageError

from projects.models import ReferenceImage, ReferenceSet

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow reports a JPEG that carries extra pictures (phones write these: depth maps, previews) as
# "MPO" although it is opened by the JPEG plugin. Its first picture is the photo the user took.
MULTI_PICTURE_JPEG = "MPO"
THUMBNAIL_SIZE = 320
JPEG_QUALITY = 92

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
    image: ContentFile
    thumbnail: ContentFile
    width: int
    height: int


@dataclass
class UploadResult:
    added: list[ReferenceImage] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


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


def _open_checked(data: io.BytesIO) -> Image.Image:
    max_pixels = settings.REFERENCE_IMAGE_MAX_PIXELS
    limit = f"the limit is {_megapixels(max_pixels)}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(data, formats=ACCEPTED_FORMATS)
        except UnidentifiedImageError:
            raise RejectedImage("is not a JPEG, PNG or WebP image.") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RejectedImage(
                f"has too many pixels ({limit}); scale it down and upload it again."
            ) from None
        except _DECODE_ERRORS:
            # Pillow reads the header while identifying; a damaged header fails here.
            raise RejectedImage(DAMAGED) from None
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
        try:
            # load() decodes every pixel, so a truncated or corrupt file fails here and not later.
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise RejectedImage(
                f"has too many pixels ({limit}); scale it down and upload it again."
            ) from None
        except _DECODE_ERRORS:
            raise RejectedImage(DAMAGED) from None
    return img


def _encode_upright(img: Image.Image) -> tuple[bytes, str, Image.Image]:
    """The image turned upright by its EXIF orientation: PNG stays PNG, anything else becomes JPEG."""
    source_format = img.format
    upright = ImageOps.exif_transpose(img)
    out = io.BytesIO()
    if source_format == "PNG":
        if upright.mode not in ("RGB", "RGBA", "L", "LA"):
            upright = upright.convert("RGBA" if "transparency" in upright.info else "RGB")
        upright.save(out, format="PNG")
        return out.getvalue(), "png", upright
    upright = flatten(upright)
    upright.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), "jpg", upright


def _encode_thumbnail(upright: Image.Image) -> bytes:
    thumb = flatten(upright)
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=82, optimize=True)
    return out.getvalue()


def normalise_reference_image(upload: UploadedFile) -> NormalisedImage:
    """Validate one uploaded file and return the upright re-encoded image and its thumbnail.

    Raises RejectedImage with the reason. Reads the upload from the start; touches no database.
    """
    max_bytes = settings.REFERENCE_IMAGE_MAX_BYTES
    if upload.size is not None and upload.size > max_bytes:
        raise RejectedImage(f"is {_megabytes(upload.size)}; the limit is {_megabytes(max_bytes)}.")
    upload.seek(0)
    data = io.BytesIO(upload.read(max_bytes + 1))
    if data.getbuffer().nbytes > max_bytes:
        raise RejectedImage(f"is larger than the limit of {_megabytes(max_bytes)}.")
    if data.getbuffer().nbytes == 0:
        raise RejectedImage("is empty.")

    img = _open_checked(data)
    try:
        image_bytes, extension, upright = _encode_upright(img)
        thumb_bytes = _encode_thumbnail(upright)
    except _DECODE_ERRORS:
        # Metadata (EXIF, ICC) is parsed lazily; a damaged block fails only now.
        raise RejectedImage(DAMAGED) from None

    return NormalisedImage(
        image=ContentFile(image_bytes, name=f"reference.{extension}"),
        thumbnail=ContentFile(thumb_bytes, name="thumbnail.jpg"),
        width=upright.width,
        height=upright.height,
    )


def _display_name(upload: UploadedFile) -> str:
    name = (upload.name or "unnamed file").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:255]


def add_reference_images(reference_set: ReferenceSet, *, files: list[UploadedFile]) -> UploadResult:
    """Store every acceptable file in `files` at the end of the set; report each rejected one.

    One bad file never stops the good ones. Not idempotent: uploading the same picture twice keeps
    two copies, as a user who did that would expect.
    """
    result = UploadResult()
    for upload in files:
        name = _display_name(upload)
        try:
            normalised = normalise_reference_image(upload)
        except RejectedImage as rejection:
            result.rejected.append((name, str(rejection)))
            continue
        image = ReferenceImage(reference_set=reference_set, original_name=name)
        # Files are written before the row so that a failed write leaves no row without a file.
        image.image.save(normalised.image.name, normalised.image, save=False)
        image.thumbnail.save(normalised.thumbnail.name, normalised.thumbnail, save=False)
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
