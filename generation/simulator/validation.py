"""What Runway accepts: headers, task bodies, upload bodies, image assets and usage queries.

The rules are transcribed from Runway's contract (shared/runway-api.md §1, §3, §6, §7); the
per-model facts (ratios, durations, keyframes, fields) come from runway_tables, deliberately not
from generation.catalog: the simulator is the test oracle for the catalog and the client, so it
keeps its own copy of the contract.

Bodies are checked in two phases, as Runway does: the schema first (every problem becomes one Zod
style issue in a 400 "Validation of body failed"), then the image assets (the first unusable asset
becomes a 400 whose message names the field and the reason). Unknown keys are rejected for every
variant; Runway declares that only for Veo, so the simulator is stricter there on purpose.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from PIL import Image

from . import runway_tables
from .runway_tables import (
    IMAGE_TO_VIDEO,
    TEXT_TO_IMAGE,
    TEXT_TO_SPEECH,
    VIDEO_UPSCALE,
    RunwayImageModel,
    RunwayModel,
    RunwayUpscaleModel,
)

API_VERSION = "2024-11-06"
DOC_URL = "https://docs.dev.runwayml.com/api"
API_KEY_RE = re.compile(r"^key_[0-9a-f]{128}$")
TASK_ID_RE = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.IGNORECASE
)

PROMPT_MAX_UNITS = 1000
SEED_MAX = 4294967295
HTTPS_URL_LENGTH = (13, 2048)
RUNWAY_URI_LENGTH = (13, 5000)
IMAGE_ASPECT_RANGE = runway_tables.IMAGE_ASPECT_RANGE
IMAGE_MAX_SIDE = 8000
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
DATA_URI_TYPES = runway_tables.DATA_URI_IMAGE_TYPES

OUTPUT_FORMATS = (
    "mp4", "prores", "png_sequence", "hdr10", "hlg", "sdr_rec709_10bit", "hdr_pq_12bit_master", "hdr_prores",
    "hdr_png_sequence", "hdr_exr_sequence", "hdr_exr_acescg_sequence_1_3", "hdr_exr_acescg_sequence_2_0",
)  # fmt: skip
PRORES_PROFILES = ("422", "4444", "422 Proxy", "422 LT", "422 HQ", "4444 XQ")


@dataclass(frozen=True)
class Variant:
    """One (endpoint, model) body schema: a row of runway-api.md §3.2 / §3.3."""

    endpoint: str
    model: str
    ratios: tuple[str, ...]
    # A range is Runway's "integer 2-10" (too_small / too_big errors); a tuple is a literal union
    # such as Veo's 4 | 6 | 8 (invalid_value errors).
    durations: range | tuple[int, ...]
    duration_required: bool
    default_duration: int
    prompt_text_required: bool
    # None: no promptImage (text_to_video); ("first",) for Gen-4; ("first", "last") for Veo.
    image_positions: tuple[str, ...] | None
    optional_fields: frozenset[str]
    has_audio: bool
    # width / height range of its input images (runway_tables, §7).
    input_aspect: tuple[float, float] = IMAGE_ASPECT_RANGE

    @property
    def fields(self) -> frozenset[str]:
        required = {"model", "ratio", "promptText", "duration"}
        if self.image_positions:
            required.add("promptImage")
        return frozenset(required) | self.optional_fields


def _variant(endpoint: str, model: RunwayModel) -> Variant:
    is_image = endpoint == IMAGE_TO_VIDEO
    return Variant(
        endpoint=endpoint,
        model=model.id,
        ratios=model.ratios[endpoint],
        durations=model.durations,
        duration_required=model.is_duration_required,
        default_duration=model.default_duration,
        prompt_text_required=not is_image or model.is_prompt_text_required_with_image,
        image_positions=model.keyframe_positions if is_image else None,
        optional_fields=model.optional_fields,
        has_audio=model.has_audio,
        input_aspect=model.input_aspect,
    )


VARIANTS: dict[tuple[str, str], Variant] = {
    (endpoint, model.id): _variant(endpoint, model)
    for model in runway_tables.MODELS.values()
    for endpoint in model.endpoints
}


# ---------------------------------------------------------------------------------------------
# Outcomes


class ValidationFailed(Exception):
    """A 400 whose body is `{"error", "issues", "docUrl"}` (a schema failure)."""

    def __init__(self, issues: list[dict[str, Any]], error: str = "Validation of body failed") -> None:
        super().__init__(error)
        self.error = error
        self.issues = issues

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "issues": self.issues, "docUrl": DOC_URL}


class AssetRejected(Exception):
    """A 400 for an unusable image; the message names the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"error": str(self), "docUrl": DOC_URL}


@dataclass(frozen=True)
class Keyframe:
    position: str
    data: bytes
    extension: str
    # How the client sent it: "data", "upload" or "url" (for the task log).
    source: str


@dataclass(frozen=True)
class ReferenceImage:
    """One of a text_to_image body's referenceImages, decoded, in the order it was sent."""

    tag: str | None
    data: bytes
    extension: str
    source: str


@dataclass(frozen=True)
class SpeechRequest:
    """A text_to_speech body's facts the simulator renders and bills from."""

    voice: str
    speed: float
    # promptText's length in UTF-16 units, which Runway's limits and prices count.
    units: int


@dataclass(frozen=True)
class VideoFacts:
    """What ffmpeg read from an input video (see render.inspect_video)."""

    width: int
    height: int
    fps: float
    frames: int
    duration: float
    has_audio: bool


@dataclass(frozen=True)
class UpscaleRequest:
    """A video_upscale body with its input video decoded and inspected."""

    video: bytes
    source: str  # "data" or "upload"
    resolution: str
    fps_boost: bool
    facts: VideoFacts


@dataclass(frozen=True)
class TaskRequest:
    """A body that passed validation, with defaults filled in and images decoded."""

    endpoint: str
    model: str
    ratio: str
    duration: int
    prompt_text: str | None
    seed: int | None
    audio: bool
    keyframes: tuple[Keyframe, ...]
    # text_to_image only (duration 0, no audio, no keyframes there).
    references: tuple[ReferenceImage, ...] = ()
    # text_to_speech and video_upscale only (ratio "" and duration 0 there).
    speech: SpeechRequest | None = None
    upscale: UpscaleRequest | None = None

    @property
    def is_image(self) -> bool:
        return self.endpoint == TEXT_TO_IMAGE

    @property
    def is_speech(self) -> bool:
        return self.endpoint == TEXT_TO_SPEECH

    @property
    def is_upscale(self) -> bool:
        return self.endpoint == VIDEO_UPSCALE

    @property
    def width(self) -> int:
        return int(self.ratio.split(":")[0])

    @property
    def height(self) -> int:
        return int(self.ratio.split(":")[1])

    def keyframe(self, position: str) -> Keyframe | None:
        return next((k for k in self.keyframes if k.position == position), None)


# ---------------------------------------------------------------------------------------------
# Zod-shaped issues (Runway validates with Zod 4; shapes follow runway-api.md §6.2)

Path = list[str | int]


def _received(value: object) -> str:
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _literal(value: object) -> str:
    return json.dumps(value)


def invalid_type(path: Path, expected: str, value: object) -> dict[str, Any]:
    return {
        "expected": expected,
        "code": "invalid_type",
        "path": path,
        "message": f"Invalid input: expected {expected}, received {_received(value)}",
    }


def invalid_value(path: Path, values: tuple[object, ...]) -> dict[str, Any]:
    if len(values) == 1:
        message = f"Invalid input: expected {_literal(values[0])}"
    else:
        message = "Invalid option: expected one of " + "|".join(_literal(v) for v in values)
    return {"code": "invalid_value", "values": list(values), "path": path, "message": message}


def too_small(path: Path, origin: str, minimum: int) -> dict[str, Any]:
    return {
        "origin": origin,
        "code": "too_small",
        "minimum": minimum,
        "inclusive": True,
        "path": path,
        "message": f"Too small: expected {origin} {_bound_phrase(origin, '>=', minimum)}",
    }


def too_big(path: Path, origin: str, maximum: int) -> dict[str, Any]:
    return {
        "origin": origin,
        "code": "too_big",
        "maximum": maximum,
        "inclusive": True,
        "path": path,
        "message": f"Too big: expected {origin} {_bound_phrase(origin, '<=', maximum)}",
    }


def _bound_phrase(origin: str, op: str, bound: int) -> str:
    if origin == "string":
        return f"to have {op}{bound} characters"
    if origin == "array":
        return f"to have {op}{bound} items"
    return f"to be {op}{bound}"


def unrecognized_keys(path: Path, keys: list[str]) -> dict[str, Any]:
    noun = "key" if len(keys) == 1 else "keys"
    return {
        "code": "unrecognized_keys",
        "keys": keys,
        "path": path,
        "message": f"Unrecognized {noun}: " + ", ".join(_literal(k) for k in keys),
    }


def no_matching_discriminator(path: Path) -> dict[str, Any]:
    return {
        "code": "invalid_union",
        "errors": [],
        "note": "No matching discriminator",
        "discriminator": "model",
        "path": path,
        "message": "Invalid input",
    }


def custom(path: Path, message: str) -> dict[str, Any]:
    return {"code": "custom", "path": path, "message": message}


class _Missing:
    pass


_MISSING: Any = _Missing()


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_integer(value: object) -> bool:
    return _is_number(value) and float(value).is_integer()  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Headers


def check_api_key(authorization: str | None, *, expected: str | None) -> bool:
    """True when `Authorization` carries an acceptable Bearer key."""
    if not authorization or not authorization.startswith("Bearer "):
        return False
    key = authorization[len("Bearer ") :]
    if expected is not None:
        return key == expected
    return bool(API_KEY_RE.match(key))


def check_version(version: str | None) -> ValidationFailed | None:
    if version == API_VERSION:
        return None
    if version is None:
        issue = invalid_type(["x-runway-version"], "string", _MISSING)
    else:
        issue = invalid_value(["x-runway-version"], (API_VERSION,))
    return ValidationFailed([issue], error="Validation of headers failed")


# ---------------------------------------------------------------------------------------------
# Task bodies


def validate_task_body(
    endpoint: str,
    body: object,
    *,
    resolve_upload: Callable[[str], bytes | None],
    data_uri_max_chars: int,
    video_data_uri_max_chars: int = runway_tables.VIDEO_DATA_URI_MAX_CHARS,
    inspect_video: Callable[[bytes], VideoFacts] | None = None,
) -> TaskRequest:
    """Check a create-task body as Runway would; raise ValidationFailed or AssetRejected.

    `inspect_video` reads an input video's facts (video_upscale); it raises ValueError for bytes
    that are not a video.
    """
    if not isinstance(body, dict):
        raise ValidationFailed([invalid_type([], "object", _MISSING if body is None else body)])

    model = body.get("model", _MISSING)
    if not isinstance(model, str):
        raise ValidationFailed(
            [invalid_type(["model"], "string", model), no_matching_discriminator(["model"])]
        )
    if endpoint == TEXT_TO_SPEECH:
        return _validate_speech_body(model, body)
    if endpoint == VIDEO_UPSCALE:
        upscale_model = runway_tables.UPSCALE_MODELS.get(model)
        if upscale_model is None:
            if model == "enhance_frame_rate":
                raise ValidationFailed([custom(["model"], "The simulator does not serve enhance_frame_rate")])
            raise ValidationFailed([no_matching_discriminator(["model"])])
        if inspect_video is None:
            raise ValueError("video_upscale needs inspect_video")
        return _validate_upscale_body(
            upscale_model,
            body,
            resolve_upload=resolve_upload,
            data_uri_max_chars=video_data_uri_max_chars,
            inspect_video=inspect_video,
        )
    if endpoint == TEXT_TO_IMAGE:
        image_model = runway_tables.IMAGE_MODELS.get(model)
        if image_model is None:
            raise ValidationFailed([no_matching_discriminator(["model"])])
        return _validate_image_body(
            image_model, body, resolve_upload=resolve_upload, data_uri_max_chars=data_uri_max_chars
        )
    variant = VARIANTS.get((endpoint, model))
    if variant is None:
        raise ValidationFailed([no_matching_discriminator(["model"])])

    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in variant.fields]
    if unknown:
        issues.append(unrecognized_keys([], unknown))

    ratio = body.get("ratio", _MISSING)
    if ratio not in variant.ratios or not isinstance(ratio, str):
        issues.append(invalid_value(["ratio"], variant.ratios))

    duration = _check_duration(variant, body.get("duration", _MISSING), issues)
    prompt_text = _check_text(body, "promptText", required=variant.prompt_text_required, issues=issues)
    _check_text(body, "negativePrompt", required=False, issues=issues)
    seed = _check_seed(body.get("seed", _MISSING), issues)

    audio = body.get("audio", _MISSING)
    if audio is not _MISSING and not isinstance(audio, bool):
        issues.append(invalid_type(["audio"], "boolean", audio))
    _check_content_moderation(body.get("contentModeration", _MISSING), issues)
    _check_output_format(body, issues)

    image_uris: list[tuple[str, str, Path]] = []
    if variant.image_positions:
        image_uris = _check_prompt_image(
            body.get("promptImage", _MISSING), variant, data_uri_max_chars=data_uri_max_chars, issues=issues
        )

    if issues:
        raise ValidationFailed(issues)

    keyframes = tuple(
        _resolve_image(uri, position, _field_name(path), resolve_upload, aspect=variant.input_aspect)
        for uri, position, path in image_uris
    )
    return TaskRequest(
        endpoint=endpoint,
        model=model,
        ratio=ratio,  # type: ignore[arg-type]
        duration=duration if duration is not None else variant.default_duration,
        prompt_text=prompt_text,
        seed=seed,
        audio=variant.has_audio and audio is not False,
        keyframes=keyframes,
    )


def _check_duration(variant: Variant, value: object, issues: list[dict[str, Any]]) -> int | None:
    if value is _MISSING:
        if variant.duration_required:
            issues.append(invalid_type(["duration"], "number", value))
        return None
    if not isinstance(variant.durations, range):
        if not _is_number(value) or value not in variant.durations:
            issues.append(invalid_value(["duration"], variant.durations))
            return None
        return int(value)  # type: ignore[arg-type]
    if not _is_number(value):
        issues.append(invalid_type(["duration"], "number", value))
    elif not _is_integer(value):
        issues.append(invalid_type(["duration"], "int", value))
    elif value < variant.durations[0]:  # type: ignore[operator]
        issues.append(too_small(["duration"], "number", variant.durations[0]))
    elif value > variant.durations[-1]:  # type: ignore[operator]
        issues.append(too_big(["duration"], "number", variant.durations[-1]))
    else:
        return int(value)  # type: ignore[arg-type]
    return None


def _check_text(
    body: dict[str, Any], key: str, *, required: bool, issues: list[dict[str, Any]]
) -> str | None:
    value = body.get(key, _MISSING)
    if value is _MISSING and not required:
        return None
    if not isinstance(value, str):
        issues.append(invalid_type([key], "string", value))
        return None
    length = utf16_length(value)
    if length < 1:
        issues.append(too_small([key], "string", 1))
    elif length > PROMPT_MAX_UNITS:
        issues.append(too_big([key], "string", PROMPT_MAX_UNITS))
    else:
        return value
    return None


def _check_seed(value: object, issues: list[dict[str, Any]]) -> int | None:
    if value is _MISSING:
        return None
    if not _is_number(value):
        issues.append(invalid_type(["seed"], "number", value))
    elif not _is_integer(value):
        issues.append(invalid_type(["seed"], "int", value))
    elif value < 0:  # type: ignore[operator]
        issues.append(too_small(["seed"], "number", 0))
    elif value > SEED_MAX:  # type: ignore[operator]
        issues.append(too_big(["seed"], "number", SEED_MAX))
    else:
        return int(value)  # type: ignore[arg-type]
    return None


def _check_content_moderation(value: object, issues: list[dict[str, Any]]) -> None:
    if value is _MISSING:
        return
    if not isinstance(value, dict):
        issues.append(invalid_type(["contentModeration"], "object", value))
        return
    unknown = [key for key in value if key != "publicFigureThreshold"]
    if unknown:
        issues.append(unrecognized_keys(["contentModeration"], unknown))
    threshold = value.get("publicFigureThreshold", _MISSING)
    if threshold is not _MISSING and threshold not in ("auto", "low"):
        issues.append(invalid_value(["contentModeration", "publicFigureThreshold"], ("auto", "low")))


def _check_output_format(body: dict[str, Any], issues: list[dict[str, Any]]) -> None:
    output_format = body.get("outputFormat", _MISSING)
    if output_format is not _MISSING:
        if output_format not in OUTPUT_FORMATS:
            issues.append(invalid_value(["outputFormat"], OUTPUT_FORMATS))
        elif output_format != "mp4":
            # Runway accepts these (with a surcharge); the simulator only renders H.264 MP4.
            issues.append(custom(["outputFormat"], 'The simulator renders only outputFormat "mp4"'))
    profile = body.get("proresProfile", _MISSING)
    if profile is not _MISSING:
        if profile not in PRORES_PROFILES:
            issues.append(invalid_value(["proresProfile"], PRORES_PROFILES))
        elif output_format not in ("prores", "hdr_prores"):
            issues.append(custom(["proresProfile"], "proresProfile is only valid with outputFormat prores"))


def _check_prompt_image(
    value: object, variant: Variant, *, data_uri_max_chars: int, issues: list[dict[str, Any]]
) -> list[tuple[str, str, Path]]:
    """Check promptImage's shape; return (uri, position, path) for every image it names."""
    positions = variant.image_positions or ()
    if isinstance(value, str):
        return (
            [(value, "first", ["promptImage"])]
            if _check_uri(value, ["promptImage"], data_uri_max_chars, issues)
            else []
        )
    if not isinstance(value, list):
        issues.append(invalid_type(["promptImage"], "string", value))
        return []

    if len(value) < 1:
        issues.append(too_small(["promptImage"], "array", 1))
        return []
    if len(value) > len(positions):
        issues.append(too_big(["promptImage"], "array", len(positions)))
        return []

    found: list[tuple[str, str, Path]] = []
    seen: list[str] = []
    for index, item in enumerate(value):
        path: Path = ["promptImage", index]
        if not isinstance(item, dict):
            issues.append(invalid_type(path, "object", item))
            continue
        unknown = [key for key in item if key not in ("uri", "position")]
        if unknown:
            issues.append(unrecognized_keys(path, unknown))
        position = item.get("position", _MISSING)
        if position not in positions or not isinstance(position, str):
            issues.append(invalid_value([*path, "position"], positions))
            position = None
        uri = item.get("uri", _MISSING)
        if not isinstance(uri, str):
            issues.append(invalid_type([*path, "uri"], "string", uri))
        elif _check_uri(uri, [*path, "uri"], data_uri_max_chars, issues) and position:
            found.append((uri, position, [*path, "uri"]))
        if position:
            seen.append(position)

    if len(seen) == len(value):
        if len(set(seen)) != len(seen):
            issues.append(custom(["promptImage"], "Each position may only be used once"))
        elif "last" in seen and "first" not in seen:
            issues.append(custom(["promptImage"], "A last frame requires a first frame"))
    return found


def _check_uri(
    uri: str, path: Path, data_uri_max_chars: int, issues: list[dict[str, Any]], *, media: str = "image"
) -> bool:
    """An image (or, with media="video", a video) input: an HTTPS URL, an upload or a data URI."""
    data_min = {"image": 1, "video": 13}[media]
    if uri.startswith("https://"):
        low, high = HTTPS_URL_LENGTH
    elif uri.startswith("runway://"):
        low, high = RUNWAY_URI_LENGTH
    elif uri.startswith(f"data:{media}/"):
        low, high = data_min, data_uri_max_chars
    else:
        message = f"Invalid input: expected an HTTPS URL, a runway:// upload URI or a data:{media}/ URI"
        if uri.startswith("http://"):
            message = "Only HTTPS URLs are allowed."
        issues.append({"code": "invalid_union", "errors": [], "path": path, "message": message})
        return False
    if len(uri) < low:
        issues.append(too_small(path, "string", low))
        return False
    if len(uri) > high:
        issues.append(too_big(path, "string", high))
        return False
    return True


def _field_name(path: Path) -> str:
    name = str(path[0])
    for part in path[1:]:
        name += f"[{part}]" if isinstance(part, int) else f".{part}"
    return name


# ---------------------------------------------------------------------------------------------
# text_to_image bodies

# The SDK: a tag "Must be 3-16 characters, start with a letter, and use only letters, digits, and
# underscores". Zod checks the length first (too_small / too_big), then the pattern (invalid_format).
TAG_LENGTH = (3, 16)
TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def invalid_pattern(path: Path, pattern: re.Pattern[str]) -> dict[str, Any]:
    return {
        "origin": "string",
        "code": "invalid_format",
        "format": "regex",
        "pattern": f"/{pattern.pattern}/",
        "path": path,
        "message": f"Invalid string: must match pattern /{pattern.pattern}/",
    }


def _validate_image_body(
    model: RunwayImageModel,
    body: dict[str, Any],
    *,
    resolve_upload: Callable[[str], bytes | None],
    data_uri_max_chars: int,
) -> TaskRequest:
    """A text_to_image body (Gen4Image / Gen4ImageTurbo in the SDK): schema first, then assets.

    Stricter than Runway on one point, on purpose: two references with the same tag are refused,
    since a prompt's @tag could not say which it means (Runway does not document the case). A
    prompt citing an @tag no reference has is accepted: Runway documents no such check, and plain
    text may hold an @ (the catalog refuses it before sending).
    """
    fields = {"model", "promptText", "ratio", "referenceImages"} | model.optional_fields
    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in fields]
    if unknown:
        issues.append(unrecognized_keys([], unknown))
    ratio = body.get("ratio", _MISSING)
    if ratio not in model.ratios or not isinstance(ratio, str):
        issues.append(invalid_value(["ratio"], model.ratios))
    prompt_text = _check_text(body, "promptText", required=True, issues=issues)
    seed = _check_seed(body.get("seed", _MISSING), issues)
    _check_content_moderation(body.get("contentModeration", _MISSING), issues)
    found = _check_reference_images(
        body.get("referenceImages", _MISSING), model, data_uri_max_chars=data_uri_max_chars, issues=issues
    )
    if issues:
        raise ValidationFailed(issues)

    references = []
    for uri, tag, path in found:
        image = _resolve_image(uri, "reference", _field_name(path), resolve_upload)
        references.append(
            ReferenceImage(tag=tag, data=image.data, extension=image.extension, source=image.source)
        )
    return TaskRequest(
        endpoint=TEXT_TO_IMAGE,
        model=model.id,
        ratio=ratio,  # type: ignore[arg-type]
        duration=0,
        prompt_text=prompt_text,
        seed=seed,
        audio=False,
        keyframes=(),
        references=tuple(references),
    )


def _check_reference_images(
    value: object, model: RunwayImageModel, *, data_uri_max_chars: int, issues: list[dict[str, Any]]
) -> list[tuple[str, str | None, Path]]:
    """Check referenceImages' shape; return (uri, tag, uri path) for every usable entry."""
    if value is _MISSING and model.min_references == 0:
        return []
    if not isinstance(value, list):
        issues.append(invalid_type(["referenceImages"], "array", value))
        return []
    if len(value) < model.min_references:
        issues.append(too_small(["referenceImages"], "array", model.min_references))
        return []
    if len(value) > model.max_references:
        issues.append(too_big(["referenceImages"], "array", model.max_references))
        return []
    found: list[tuple[str, str | None, Path]] = []
    tags: list[str] = []
    for index, item in enumerate(value):
        path: Path = ["referenceImages", index]
        if not isinstance(item, dict):
            issues.append(invalid_type(path, "object", item))
            continue
        unknown = [key for key in item if key not in ("uri", "tag")]
        if unknown:
            issues.append(unrecognized_keys(path, unknown))
        tag = _check_tag(item.get("tag", _MISSING), [*path, "tag"], issues)
        if tag is not None:
            tags.append(tag)
        uri = item.get("uri", _MISSING)
        if not isinstance(uri, str):
            issues.append(invalid_type([*path, "uri"], "string", uri))
        elif _check_uri(uri, [*path, "uri"], data_uri_max_chars, issues):
            found.append((uri, tag, [*path, "uri"]))
    if len(set(tags)) != len(tags):
        issues.append(custom(["referenceImages"], "Each tag may only be used once"))
    return found


def _check_tag(value: object, path: Path, issues: list[dict[str, Any]]) -> str | None:
    if value is _MISSING:
        return None
    if not isinstance(value, str):
        issues.append(invalid_type(path, "string", value))
        return None
    low, high = TAG_LENGTH
    if len(value) < low:
        issues.append(too_small(path, "string", low))
    elif len(value) > high:
        issues.append(too_big(path, "string", high))
    elif not TAG_RE.fullmatch(value):
        issues.append(invalid_pattern(path, TAG_RE))
    else:
        return value
    return None


# ---------------------------------------------------------------------------------------------
# text_to_speech bodies (SDK 5.24.0 types/text_to_speech_create_params.py)


def _validate_speech_body(model_id: str, body: dict[str, Any]) -> TaskRequest:
    """A text_to_speech body for one of the eleven_* models: schema only (no assets).

    seed_audio (a reference-audio voice and an audio output format) is not simulated; it gets a 400
    that says so rather than pretending the model is unknown.
    """
    model = runway_tables.SPEECH_MODELS.get(model_id)
    if model is None:
        if model_id == "seed_audio":
            raise ValidationFailed([custom(["model"], "The simulator does not serve seed_audio")])
        raise ValidationFailed([no_matching_discriminator(["model"])])
    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in model.fields]
    if unknown:
        issues.append(unrecognized_keys([], unknown))
    units = 0
    prompt = body.get("promptText", _MISSING)
    if not isinstance(prompt, str):
        issues.append(invalid_type(["promptText"], "string", prompt))
    else:
        units = utf16_length(prompt)
        if units < 1:
            issues.append(too_small(["promptText"], "string", 1))
        elif units > model.max_units:
            issues.append(too_big(["promptText"], "string", model.max_units))
    voice = _check_voice(body.get("voice", _MISSING), issues)
    numbers = {name: _check_number(body, name, bounds, issues) for name, bounds in model.numbers.items()}
    for name in model.strings:
        value = body.get(name, _MISSING)
        if value is not _MISSING and not isinstance(value, str):
            issues.append(invalid_type([name], "string", value))
    for name in model.booleans:
        value = body.get(name, _MISSING)
        if value is not _MISSING and not isinstance(value, bool):
            issues.append(invalid_type([name], "boolean", value))
    for name, allowed in model.choices.items():
        value = body.get(name, _MISSING)
        if value is not _MISSING and (not isinstance(value, str) or value not in allowed):
            issues.append(invalid_value([name], allowed))
    if issues:
        raise ValidationFailed(issues)
    seed = numbers.get("seed")
    return TaskRequest(
        endpoint=TEXT_TO_SPEECH,
        model=model.id,
        ratio="",
        duration=0,
        prompt_text=prompt,  # type: ignore[arg-type]
        seed=int(seed) if seed is not None else None,
        audio=True,
        keyframes=(),
        speech=SpeechRequest(
            voice=voice or "",
            speed=float(numbers.get("speed") or 1.0),
            units=units,
        ),
    )


def _check_voice(value: object, issues: list[dict[str, Any]]) -> str | None:
    if not isinstance(value, dict):
        issues.append(invalid_type(["voice"], "object", value))
        return None
    unknown = [key for key in value if key not in ("type", "presetId")]
    if unknown:
        issues.append(unrecognized_keys(["voice"], unknown))
    if value.get("type", _MISSING) != "runway-preset":
        issues.append(invalid_value(["voice", "type"], ("runway-preset",)))
    preset = value.get("presetId", _MISSING)
    if not isinstance(preset, str) or preset not in runway_tables.VOICE_PRESETS:
        issues.append(invalid_value(["voice", "presetId"], runway_tables.VOICE_PRESETS))
        return None
    return preset


def _check_number(
    body: dict[str, Any], name: str, bounds: runway_tables.NumberRange, issues: list[dict[str, Any]]
) -> float | None:
    value = body.get(name, _MISSING)
    if value is _MISSING:
        return None
    if not _is_number(value):
        issues.append(invalid_type([name], "number", value))
    elif bounds.is_integer and not _is_integer(value):
        issues.append(invalid_type([name], "int", value))
    elif value < bounds.low:  # type: ignore[operator]
        issues.append(too_small([name], "number", bounds.low))  # type: ignore[arg-type]
    elif value > bounds.high:  # type: ignore[operator]
        issues.append(too_big([name], "number", bounds.high))  # type: ignore[arg-type]
    else:
        return float(value)  # type: ignore[arg-type]
    return None


# ---------------------------------------------------------------------------------------------
# video_upscale bodies (SDK 5.24.0 types/video_upscale_create_params.py)


def _validate_upscale_body(
    model: RunwayUpscaleModel,
    body: dict[str, Any],
    *,
    resolve_upload: Callable[[str], bytes | None],
    data_uri_max_chars: int,
    inspect_video: Callable[[bytes], VideoFacts],
) -> TaskRequest:
    """A magnific_video_upscaler_creative body: schema, then the video (decodable, at most 30 s).

    The schema declares `additionalProperties: false` (runway-api.md §3.4 capture), so unknown keys
    are refused here as Runway does.
    """
    fields = {"model", "videoUri", "resolution", "fpsBoost", "flavor", *runway_tables.UPSCALE_PERCENT_FIELDS}
    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in fields]
    if unknown:
        issues.append(unrecognized_keys([], unknown))
    uri = body.get("videoUri", _MISSING)
    if not isinstance(uri, str):
        issues.append(invalid_type(["videoUri"], "string", uri))
        usable = False
    else:
        usable = _check_uri(uri, ["videoUri"], data_uri_max_chars, issues, media="video")
    resolution = body.get("resolution", model.default_resolution)
    if not isinstance(resolution, str) or resolution not in model.resolutions:
        issues.append(invalid_value(["resolution"], model.resolutions))
    percent = runway_tables.NumberRange(0, 100, is_integer=True)
    for name in runway_tables.UPSCALE_PERCENT_FIELDS:
        _check_number(body, name, percent, issues)
    flavor = body.get("flavor", _MISSING)
    if flavor is not _MISSING and (
        not isinstance(flavor, str) or flavor not in runway_tables.UPSCALE_FLAVORS
    ):
        issues.append(invalid_value(["flavor"], runway_tables.UPSCALE_FLAVORS))
    fps_boost = body.get("fpsBoost", False)
    if not isinstance(fps_boost, bool):
        issues.append(invalid_type(["fpsBoost"], "boolean", fps_boost))
    if issues:
        raise ValidationFailed(issues)
    assert usable
    assert isinstance(uri, str)

    if uri.startswith("data:"):
        header, sep, payload = uri.partition(",")
        if not sep or not header.endswith(";base64"):
            raise AssetRejected("videoUri", "Invalid data URI.")
        try:
            video = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise AssetRejected("videoUri", "Invalid data URI.") from None
        source = "data"
    elif uri.startswith("runway://"):
        found = resolve_upload(uri)
        if found is None:
            raise AssetRejected(
                "videoUri", "Invalid runway:// URI: no completed upload with this URI (or it expired)."
            )
        named = upload_extension(uri)
        if named not in runway_tables.UPLOAD_VIDEO_EXTENSIONS:
            raise AssetRejected(
                "videoUri",
                f"Invalid upload: a video's file name must end in a video extension, not .{named}.",
            )
        video, source = found, "upload"
    else:
        _check_https_url(uri, "videoUri")
        raise AssetRejected(
            "videoUri",
            "Failed to fetch asset. The URL may be incorrect or the server hosting the asset may be down. "
            "(The simulator does not fetch external URLs: send a data URI or an ephemeral upload.)",
        )
    try:
        facts = inspect_video(video)
    except ValueError:
        raise AssetRejected("videoUri", "Invalid asset: the video could not be decoded.") from None
    if facts.duration > runway_tables.UPSCALE_MAX_SECONDS:
        # The exact issue a live 31 s upload got (runway-api.md §6.2).
        raise ValidationFailed(
            [
                {
                    "code": "too_big",
                    "maximum": runway_tables.UPSCALE_MAX_SECONDS,
                    "type": "number",
                    "inclusive": True,
                    "origin": "number",
                    "message": f"Asset duration must be at most {runway_tables.UPSCALE_MAX_SECONDS} seconds",
                    "path": ["videoUri"],
                }
            ]
        )
    return TaskRequest(
        endpoint=VIDEO_UPSCALE,
        model=model.id,
        ratio="",
        duration=0,
        prompt_text=None,
        seed=None,
        audio=facts.has_audio,
        keyframes=(),
        upscale=UpscaleRequest(
            video=video, source=source, resolution=resolution, fps_boost=fps_boost, facts=facts
        ),
    )


# ---------------------------------------------------------------------------------------------
# Assets


def _resolve_image(
    uri: str,
    position: str,
    field: str,
    resolve_upload: Callable[[str], bytes | None],
    *,
    aspect: tuple[float, float] = IMAGE_ASPECT_RANGE,
) -> Keyframe:
    declared = None
    named = None
    if uri.startswith("data:"):
        data, declared = _decode_data_uri(uri, field)
        source = "data"
    elif uri.startswith("runway://"):
        found = resolve_upload(uri)
        if found is None:
            raise AssetRejected(
                field, "Invalid runway:// URI: no completed upload with this URI (or it expired)."
            )
        data = found
        source = "upload"
        named = upload_extension(uri)
    else:
        _check_https_url(uri, field)
        # Runway fetches the URL; the simulator works offline and fetches nothing.
        raise AssetRejected(
            field,
            "Failed to fetch asset. The URL may be incorrect or the server hosting the asset may be down. "
            "(The simulator does not fetch external URLs: send a data URI or an ephemeral upload.)",
        )
    extension = check_image(data, field, aspect=aspect)
    if named is not None and runway_tables.UPLOAD_IMAGE_EXTENSIONS.get(named) != extension:
        # runway-api.md §7: an upload's extension must match its content (where Runway checks it
        # is unpublished; the simulator does here, when the upload is used).
        raise AssetRejected(
            field,
            f"Invalid upload: the file is named .{named} but holds {extension} (the extension must match).",
        )
    if declared and IMAGE_FORMATS[declared] != extension:
        # Runway's handling of a mislabelled data URI is undocumented; a client should never send one.
        raise AssetRejected(
            field, f"Invalid data URI: it is labelled {declared.lower()} but holds {extension}."
        )
    return Keyframe(position=position, data=data, extension=extension, source=source)


def _decode_data_uri(uri: str, field: str) -> tuple[bytes, str]:
    """The decoded bytes and the image format the URI declares (Pillow's name for it)."""
    header, sep, payload = uri.partition(",")
    if not sep or not header.endswith(";base64"):
        raise AssetRejected(field, "Invalid data URI.")
    media_type = header[len("data:") : -len(";base64")].split(";")[0].lower()
    if media_type not in DATA_URI_TYPES:
        raise AssetRejected(field, f"Unsupported asset type: {media_type}.")
    try:
        return base64.b64decode(payload, validate=True), DATA_URI_TYPES[media_type]
    except (binascii.Error, ValueError):
        raise AssetRejected(field, "Invalid data URI.") from None


def _check_https_url(uri: str, field: str) -> None:
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        raise AssetRejected(field, "Invalid URL") from None
    if not host:
        raise AssetRejected(field, "Invalid URL")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." not in host:
            raise AssetRejected(field, "URLs must be hosted on a domain.") from None
        return
    raise AssetRejected(field, "URLs must be hosted on a domain.")


def upload_extension(uri: str) -> str:
    """The lower-case file extension of the name a runway:// upload URI was made for ("" if none)."""
    name = unquote(uri.rstrip("/").rsplit("/", 1)[-1])
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def check_image(data: bytes, field: str, *, aspect: tuple[float, float] = IMAGE_ASPECT_RANGE) -> str:
    """Check that `data` is a JPEG/PNG/WebP image Runway would take, its width / height within
    `aspect` (the model's, runway_tables); return its file extension."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image_format = image.format or ""
            width, height = image.size
            if image_format not in IMAGE_FORMATS:
                raise AssetRejected(field, f"Unsupported asset type: {image_format.lower() or 'unknown'}.")
            if max(width, height) > IMAGE_MAX_SIDE:
                raise AssetRejected(field, f"Invalid asset dimensions. Got {width}x{height}.")
            image.load()
    except AssetRejected:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise AssetRejected(field, "Invalid asset: the image could not be decoded.") from None
    ratio = width / height
    low, high = aspect
    if ratio < low:
        raise AssetRejected(
            field,
            f"Invalid asset aspect ratio. width / height ratio must be at least {low}. Got {ratio:.3f}.",
        )
    if ratio > high:
        raise AssetRejected(
            field,
            f"Invalid asset aspect ratio. width / height ratio must be at most {high}. Got {ratio:.3f}.",
        )
    return IMAGE_FORMATS[image_format]


# ---------------------------------------------------------------------------------------------
# Uploads


def validate_upload_body(body: object) -> str:
    """Check `POST /v1/uploads`; return the filename."""
    if not isinstance(body, dict):
        raise ValidationFailed([invalid_type([], "object", _MISSING if body is None else body)])
    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in ("filename", "type")]
    if unknown:
        issues.append(unrecognized_keys([], unknown))
    filename = body.get("filename", _MISSING)
    if not isinstance(filename, str):
        issues.append(invalid_type(["filename"], "string", filename))
    elif not 1 <= len(filename) <= 255 or "/" in filename:
        issues.append(custom(["filename"], "Expected a file name of 1-255 characters without '/'"))
    elif not _has_extension(filename):
        # runway-api.md §7: the filename must carry an extension (the wording is the simulator's).
        issues.append(custom(["filename"], "The file name must have an extension, such as image.jpg"))
    if body.get("type", _MISSING) != "ephemeral":
        issues.append(invalid_value(["type"], ("ephemeral",)))
    if issues:
        raise ValidationFailed(issues)
    return filename  # type: ignore[return-value]


def _has_extension(filename: str) -> bool:
    stem, dot, extension = filename.rpartition(".")
    return bool(dot and stem and extension)


# ---------------------------------------------------------------------------------------------
# Usage reports

USAGE_MAX_DAYS = 90
USAGE_DEFAULT_DAYS = 30
ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def invalid_date(path: Path) -> dict[str, Any]:
    return {
        "origin": "string",
        "code": "invalid_format",
        "format": "date",
        "pattern": ISO_DATE_RE.pattern,
        "path": path,
        "message": "Invalid ISO date",
    }


def validate_usage_body(body: object, *, today: dt.date) -> tuple[dt.date, dt.date]:
    """Check `POST /v1/organization/usage`; return (start, before), defaults filled in.

    Both dates are optional: start defaults to 30 days before `today` (UTC), before to 30 days
    after start. Before must come after start and at most 90 days after it (runway-api.md §8).
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ValidationFailed([invalid_type([], "object", body)])
    issues: list[dict[str, Any]] = []
    unknown = [key for key in body if key not in ("startDate", "beforeDate")]
    if unknown:
        issues.append(unrecognized_keys([], unknown))
    dates: dict[str, dt.date | None] = {}
    for key in ("startDate", "beforeDate"):
        value = body.get(key, _MISSING)
        dates[key] = None
        if value is _MISSING:
            continue
        if not isinstance(value, str):
            issues.append(invalid_type([key], "string", value))
            continue
        try:
            if not ISO_DATE_RE.match(value):
                raise ValueError(value)
            dates[key] = dt.date.fromisoformat(value)
        except ValueError:
            issues.append(invalid_date([key]))
    if issues:
        raise ValidationFailed(issues)
    start = dates["startDate"] or today - dt.timedelta(days=USAGE_DEFAULT_DAYS)
    before = dates["beforeDate"] or start + dt.timedelta(days=USAGE_DEFAULT_DAYS)
    if before <= start:
        issues.append(custom(["beforeDate"], "beforeDate must be after startDate"))
    elif (before - start).days > USAGE_MAX_DAYS:
        issues.append(
            custom(["beforeDate"], f"beforeDate must be at most {USAGE_MAX_DAYS} days after startDate")
        )
    if issues:
        raise ValidationFailed(issues)
    return start, before
