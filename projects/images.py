"""Reference image intake: decide whether an uploaded file is a usable picture, then store it upright.

Only the decoded content counts: the name, the extension and the browser's content type are ignored.
A file is accepted when Pillow decodes it completely as JPEG, PNG, WebP or HEIC/HEIF (an iPhone's
photos, through pillow-heif) within the byte limit in settings. A picture of more than
REFERENCE_IMAGE_MAX_PIXELS is scaled down to that many, and the upload says so; only one whose
decoding would take more than MAX_DECODED_PIXELS (twice the limit) is refused, as a decompression
bomb would be. A JPEG is decoded at a fraction of its size where that still covers the limit, so
a 160-megapixel photo is decoded at 40. The stored copy is re-encoded with its EXIF orientation applied (so every later
consumer, including Runway, sees it the right way up) and nothing but its pixels (no EXIF, XMP,
comments, text chunks or colour profile: a phone photo's EXIF says where it was taken), and a small
JPEG thumbnail is kept beside it.

Memory: one image is decoded at a time, from the upload where Django spooled it, and each encoded
file is spooled to disk beyond SPOOL_BYTES; nothing decoded outlives its turn. The pixels an
upload may decode in all (REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST) count what is decoded.
"""

from __future__ import annotations

import io
import math
import re
import struct
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

import pillow_heif
from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Max, Q
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from projects.models import Keyframe, KeyframeReference, ReferenceImage, ReferenceSet, Shot

# HEIC/HEIF through pillow-heif; it applies a picture's rotation and mirroring when it decodes it
# and clears the EXIF orientation it replaces, so exif_transpose leaves it alone.
pillow_heif.register_heif_opener()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# What the file picker offers (the file input's `accept`): phones pick by type, desktops by name.
ACCEPT = ".jpg,.jpeg,.png,.webp,.heic,.heif,image/jpeg,image/png,image/webp,image/heic,image/heif"
NOT_A_PICTURE = "is not a JPEG, PNG, WebP or HEIC image."
# Pillow reports a JPEG that carries extra pictures (phones write these: depth maps, previews) as
# "MPO" although it is opened by the JPEG plugin. Its first picture is the photo the user took.
MULTI_PICTURE_JPEG = "MPO"
THUMBNAIL_SIZE = 320
JPEG_QUALITY = 92
OPTIMIZE_MAX_PIXELS = 4_000_000
# Encoded files up to this size stay in memory (a logo, a thumbnail); larger ones go to disk.
SPOOL_BYTES = 1024 * 1024
_SRGB = ImageCms.createProfile("sRGB")

# The most pixels decoded for one image: a picture up to twice the stored limit is decoded whole and
# scaled down (a 60-megapixel phone panorama is 180 MB decoded, once); beyond that only a JPEG, which
# decodes at 1/2, 1/4 or 1/8 of its size, is taken. Anything else is refused before its first pixel.
MAX_DECODED_PIXELS = 2 * settings.REFERENCE_IMAGE_MAX_PIXELS
# Pillow's own bomb check, a backstop behind ours (`_plan_decode`): a JPEG reduced by 8 is the most
# a header may declare. Pillow warns at this and refuses at twice it.
Image.MAX_IMAGE_PIXELS = 32 * MAX_DECODED_PIXELS


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
    # The picture's own pixels when it was scaled down to REFERENCE_IMAGE_MAX_PIXELS, else None.
    scaled_from: int | None = None

    @property
    def scaled_notice(self) -> str:
        """The words for a picture scaled down to the limit: "" for one kept at its own size."""
        if self.scaled_from is None:
            return ""
        return (
            f"was {_megapixels(self.scaled_from)}; it is kept at {self.width}×{self.height} "
            f"({_megapixels(self.width * self.height)}), the most a reference image keeps."
        )

    def close(self) -> None:
        self.image.close()
        self.thumbnail.close()


@dataclass
class UploadResult:
    added: list[ReferenceImage] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    # Pictures taken but scaled down to the pixel limit: (name, what was done, in words).
    scaled: list[tuple[str, str]] = field(default_factory=list)
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


def _too_many_pixels(width: int | None = None, height: int | None = None) -> str:
    size = f"is {width}×{height}, {_megapixels(width * height)}: " if width and height else "has "
    return (
        f"{size}more pixels than can be opened safely (at most {_megapixels(MAX_DECODED_PIXELS)}, "
        "or a JPEG of 64 times that); scale it down and upload it again."
    )


def _open_checked(upload: UploadedFile) -> Image.Image:
    """The upload opened by Pillow, its header read and checked, no pixel decoded yet."""
    with warnings.catch_warnings():
        # `_plan_decode` decides what is too big to decode; Pillow's warning says nothing more.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(upload, formats=ACCEPTED_FORMATS)
        except UnidentifiedImageError:
            raise RejectedImage(NOT_A_PICTURE) from None
        except Image.DecompressionBombError:
            raise RejectedImage(_too_many_pixels()) from None
        except _DECODE_ERRORS:
            # Pillow reads the header while identifying; a damaged header fails here.
            raise RejectedImage(DAMAGED) from None
    try:
        if img.format not in (*ACCEPTED_FORMATS, MULTI_PICTURE_JPEG):
            raise RejectedImage(NOT_A_PICTURE)
        if img.format == MULTI_PICTURE_JPEG:
            img.seek(0)
        width, height = img.size
        if width <= 0 or height <= 0:
            raise RejectedImage("has no pixels.")
    except BaseException:
        img.close()
        raise
    return img


def stored_size(size: tuple[int, int], *, max_side: int | None = None) -> tuple[int, int]:
    """The size a picture of `size` is stored at: its long side at most `max_side` (if given) and at
    most REFERENCE_IMAGE_MAX_PIXELS in all, the shape kept."""
    width, height = size
    scale = 1.0
    if max_side and max(size) > max_side:
        scale = max_side / max(size)
    limit = settings.REFERENCE_IMAGE_MAX_PIXELS
    if width * height * scale * scale > limit:
        # Rounded down, so that the stored picture is within the limit.
        scale = math.sqrt(limit / (width * height))
        return max(1, math.floor(width * scale)), max(1, math.floor(height * scale))
    if scale >= 1:
        return size
    return max(1, round(width * scale)), max(1, round(height * scale))


def _plan_decode(img: Image.Image, *, max_side: int | None) -> None:
    """Set up how `img` is decoded: a JPEG at the smallest power-of-two scale that still covers its
    stored size (a 40-megapixel photo wanted at 1024 pixels is decoded at an eighth of its size, not
    decoded whole and then shrunk). `img.size` is then the size that is decoded. Raises
    RejectedImage when that is more than MAX_DECODED_PIXELS."""
    target = stored_size(img.size, max_side=max_side)
    if target != img.size and img.format in ("JPEG", MULTI_PICTURE_JPEG):
        img.draft("RGB", target)
    width, height = img.size
    if width * height > MAX_DECODED_PIXELS:
        raise RejectedImage(_too_many_pixels(width, height))


def _decode(img: Image.Image) -> None:
    """Decode every pixel (so a truncated or corrupt file fails here and not later)."""
    try:
        img.load()
    except Image.DecompressionBombError:
        raise RejectedImage(_too_many_pixels()) from None
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


def _normalise(img: Image.Image, *, max_side: int | None, original_pixels: int) -> NormalisedImage:
    """`img`, opened and planned (`_plan_decode`), decoded and encoded for storing."""
    _decode(img)
    try:
        keep_png = img.format == "PNG"
        upright = _pixels_only(img, keep_png=keep_png)
        # Worked out again on the upright picture: a quarter turn swaps its sides.
        target = stored_size(upright.size, max_side=max_side)
        if target != upright.size:
            upright = upright.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        width, height = upright.size
        limit = settings.REFERENCE_IMAGE_MAX_PIXELS
        scaled_from = (
            original_pixels if original_pixels > limit and width * height < original_pixels else None
        )
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
    return NormalisedImage(
        image=image, thumbnail=thumbnail, width=width, height=height, scaled_from=scaled_from
    )


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
        original_pixels = img.width * img.height
        _plan_decode(img, max_side=max_side)
        return _normalise(img, max_side=max_side, original_pixels=original_pixels)


def _display_name(upload: UploadedFile) -> str:
    name = (upload.name or "unnamed file").replace("\\", "/").rsplit("/", 1)[-1]
    return name[:255]


def _too_much() -> str:
    limit = _megapixels(settings.REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST)
    return f"would make too much in one upload (at most {limit} in all); send it and the rest again."


def add_reference_images(reference_set: ReferenceSet, *, files: list[UploadedFile]) -> UploadResult:
    """Store every acceptable file in `files` at the end of the set; report each rejected one.

    One bad file never stops the good ones. One image is decoded at a time and let go before the
    next. A picture over REFERENCE_IMAGE_MAX_PIXELS is scaled down to it and listed in `scaled`.
    Once the pixels decoded would pass REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST (counted from each
    file's header and how it is decoded, before decoding it), that file and every later one are refused undecoded
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
                original_pixels = img.width * img.height
                _plan_decode(img, max_side=None)
                pixels = img.width * img.height  # what is decoded: a big JPEG at a fraction
                if decoded and decoded + pixels > budget:
                    result.defer(name, _too_much())
                    continue
                decoded += pixels
                normalised = _normalise(img, max_side=None, original_pixels=original_pixels)
        except RejectedImage as rejection:
            result.rejected.append((name, str(rejection)))
            continue
        try:
            image = ReferenceImage(reference_set=reference_set, original_name=name)
            # Files are written before the row so that a failed write leaves no row without a file.
            image.image.save(normalised.image.name, normalised.image, save=False)
            image.thumbnail.save(normalised.thumbnail.name, normalised.thumbnail, save=False)
            notice = normalised.scaled_notice
        finally:
            normalised.close()
        with transaction.atomic():
            last = reference_set.images.aggregate(last=Max("position"))["last"]
            image.position = 0 if last is None else last + 1
            image.save()
        result.added.append(image)
        if notice:
            result.scaled.append((name, notice))
    return result


@dataclass(frozen=True)
class ImageUse:
    """One place a reference image is used: a shot starting or ending on it, or a keyframe citing it."""

    sequence: str
    shot_number: int
    what: str  # "starts on it", "ends on it", "has a first-frame keyframe made from it (...)"
    after: str  # what the removal leaves, for the message after it
    tag: str = ""

    def __str__(self) -> str:
        return f"“{self.sequence}” shot {self.shot_number} {self.what}"


def _shot_numbers(sequence_ids: set[int]) -> dict[int, int]:
    """Each shot's number in its sequence (1, 2, ...), by shot pk."""
    numbers: dict[int, int] = {}
    last: dict[int, int] = {}
    for pk, sequence_id in (
        Shot.objects.filter(sequence_id__in=sequence_ids)
        .order_by("sequence_id", "position", "pk")
        .values_list("pk", "sequence_id")
    ):
        last[sequence_id] = last.get(sequence_id, 0) + 1
        numbers[pk] = last[sequence_id]
    return numbers


def uses_of(image: ReferenceImage) -> list[ImageUse]:
    """Where `image` is used: the shots that start or end on it and the keyframes made from it, in
    sequence and shot order. Reads only; the removal's confirmation lists them."""
    shots = list(
        Shot.objects.filter(Q(first_frame_image=image) | Q(last_frame_image=image)).select_related("sequence")
    )
    cited = list(KeyframeReference.objects.filter(image=image).select_related("keyframe__shot__sequence"))
    numbers = _shot_numbers({s.sequence_id for s in shots} | {r.keyframe.shot.sequence_id for r in cited})
    uses = []
    for shot in shots:
        if shot.first_frame_image_id == image.pk and shot.first_frame == Shot.FirstFrame.REFERENCE:
            after = "no longer starts on it: choose its first frame again"
            uses.append(ImageUse(shot.sequence.title, numbers[shot.pk], "starts on it", after + _stale(shot)))
        if shot.last_frame_image_id == image.pk:
            after = "no longer ends on it: choose its last frame again"
            uses.append(ImageUse(shot.sequence.title, numbers[shot.pk], "ends on it", after + _stale(shot)))
    for reference in cited:
        keyframe = reference.keyframe
        slot = "first" if keyframe.slot == Keyframe.Slot.FIRST else "last"
        what = f"has a {slot}-frame keyframe made from it (cited as @{reference.tag})"
        after = (
            f"has a {slot}-frame keyframe no longer made from it: its prompt says “{reference.tag}” "
            f"where it cited @{reference.tag}; choose another image for it."
        )
        uses.append(
            ImageUse(keyframe.shot.sequence.title, numbers[keyframe.shot_id], what, after, reference.tag)
        )
    return sorted(uses, key=lambda u: (u.sequence, u.shot_number))


def _stale(shot: Shot) -> str:
    return " (its finished take is marked stale)." if shot.chosen_take_id else "."


def _uncite(prompt: str, tag: str) -> str:
    """The prompt with `@tag` as a plain word: Runway refuses a tag that names no reference image."""
    return re.sub(rf"@{re.escape(tag)}\b", tag, prompt)


def delete_reference_image(image: ReferenceImage) -> list[ImageUse]:
    """Remove the image, and say what that changed: the shots that started or ended on it lose it
    and are marked stale when they have a finished take (it was made from the image); the keyframes
    made from it lose it, and their prompts cite its tag as a plain word. Every changed shot and
    keyframe gets a new edit version, so that a form opened before shows what is there now. The row
    goes before its files (a file left behind is harmless, a row without one is not)."""
    files = [f for f in (image.image, image.thumbnail) if f]
    storage_names = [(f.storage, f.name) for f in files]
    with transaction.atomic():
        uses = uses_of(image)
        framed = Q(first_frame_image=image, first_frame=Shot.FirstFrame.REFERENCE) | Q(last_frame_image=image)
        Shot.objects.filter(framed, chosen_take__isnull=False).update(is_stale=True)
        Shot.objects.filter(Q(first_frame_image=image) | Q(last_frame_image=image)).update(
            edit_version=F("edit_version") + 1
        )
        for reference in KeyframeReference.objects.filter(image=image).select_related("keyframe"):
            keyframe = reference.keyframe
            Keyframe.objects.filter(pk=keyframe.pk).update(
                prompt=_uncite(keyframe.prompt, reference.tag), edit_version=F("edit_version") + 1
            )
        image.delete()
    for storage, name in storage_names:
        storage.delete(name)
    return uses
