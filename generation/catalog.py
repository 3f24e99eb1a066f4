"""The one table of Runway video models: endpoints, inputs, durations, ratios and prices.

Facts come from ../shared/runway-api.md (Runway's SDK 5.24.0 and OpenAPI schema). Prices are
credits per output second (1 credit = $0.01); a task's own `estimatedCost` / `cost` from Runway
is the authority when present, these numbers are for estimates before submitting. No other module
holds a price: ask `estimate()` or `build_request()`.

`build_request()` turns a request in any vocabulary (web form, the old product guide's CLI flags,
Python) into a body Runway accepts, explaining each translation in a notice:
- the guide's model names: `gen4` -> gen4.5, `veo3` (retired) -> veo3.1;
- `--width/--height` -> the model's ratio nearest in shape (then in size), e.g. 1920x1080 on Gen-4 ->
  1280:720; a change of orientation (a square video on Veo) is refused instead;
- a duration the model cannot make -> the nearest allowed one, a tie going to the longer clip
  (Veo: 5 -> 6, 7 -> 8); no duration -> the guide's 5 s snapped the same way (Gen-4 5 s, Veo 6 s);
- no ratio and no size -> 1280:720, which every model makes.
Requests that cannot be translated (text-only on gen4_turbo, a last frame on Gen-4) raise
`UnsupportedRequest` with a message naming what would work.
"""

from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import TypeVar

T_Model = TypeVar("T_Model")

IMAGE_TO_VIDEO = "image_to_video"
TEXT_TO_VIDEO = "text_to_video"

GEN4_I2V_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
VEO_RATIOS = ("1280:720", "720:1280", "1920:1080", "1080:1920")


@dataclass(frozen=True)
class VideoModel:
    id: str
    label: str
    family: str  # "gen4" or "veo"
    # Ratios per endpoint; an endpoint the model does not serve is absent.
    ratios: dict[str, tuple[str, ...]]
    durations: tuple[int, ...]
    is_duration_required: bool
    is_prompt_text_required_for_image: bool
    has_last_frame: bool
    has_audio: bool
    credits_per_second: int
    credits_per_second_silent: int
    accepts_content_moderation: bool

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self.ratios)

    @property
    def is_image_required(self) -> bool:
        return TEXT_TO_VIDEO not in self.ratios

    def all_ratios(self) -> tuple[str, ...]:
        seen: list[str] = []
        for ratios in self.ratios.values():
            seen.extend(r for r in ratios if r not in seen)
        return tuple(seen)

    def price_per_second(self, *, audio: bool) -> int:
        return self.credits_per_second if (audio and self.has_audio) else self.credits_per_second_silent

    def estimate(self, *, duration: int, audio: bool = True) -> int:
        return self.price_per_second(audio=audio) * duration


MODELS: dict[str, VideoModel] = {
    m.id: m
    for m in (
        VideoModel(
            id="gen4_turbo",
            label="Gen-4 Turbo",
            family="gen4",
            ratios={IMAGE_TO_VIDEO: GEN4_I2V_RATIOS},
            durations=tuple(range(2, 11)),
            is_duration_required=False,
            is_prompt_text_required_for_image=False,
            has_last_frame=False,
            has_audio=False,
            credits_per_second=5,
            credits_per_second_silent=5,
            accepts_content_moderation=True,
        ),
        VideoModel(
            id="gen4.5",
            label="Gen-4.5",
            family="gen4",
            ratios={IMAGE_TO_VIDEO: GEN4_I2V_RATIOS, TEXT_TO_VIDEO: ("1280:720", "720:1280")},
            durations=tuple(range(2, 11)),
            is_duration_required=True,
            is_prompt_text_required_for_image=True,
            has_last_frame=False,
            has_audio=False,
            credits_per_second=12,
            credits_per_second_silent=12,
            accepts_content_moderation=True,
        ),
        VideoModel(
            id="veo3.1",
            label="Veo 3.1",
            family="veo",
            ratios={IMAGE_TO_VIDEO: VEO_RATIOS, TEXT_TO_VIDEO: VEO_RATIOS},
            durations=(4, 6, 8),
            is_duration_required=False,
            is_prompt_text_required_for_image=False,
            has_last_frame=True,
            has_audio=True,
            credits_per_second=40,
            credits_per_second_silent=20,
            accepts_content_moderation=False,
        ),
        VideoModel(
            id="veo3.1_fast",
            label="Veo 3.1 Fast",
            family="veo",
            ratios={IMAGE_TO_VIDEO: VEO_RATIOS, TEXT_TO_VIDEO: VEO_RATIOS},
            durations=(4, 6, 8),
            is_duration_required=False,
            is_prompt_text_required_for_image=False,
            has_last_frame=True,
            has_audio=True,
            credits_per_second=15,
            credits_per_second_silent=10,
            accepts_content_moderation=False,
        ),
    )
}

DEFAULT_MODEL = "gen4_turbo"

# The old product guide's names: alias -> (current model, why it changed).
ALIASES: dict[str, tuple[str, str]] = {
    "gen4": ("gen4.5", "'gen4' was never a Runway API model id; using gen4.5, Runway's current Gen-4 model."),
    "veo3": ("veo3.1", "'veo3' has been retired by Runway; using veo3.1."),
}

PROMPT_MAX_LENGTH = 1000
SEED_MAX = 4294967295
DATA_URI_MAX_CHARS = 5 * 1024 * 1024

# Retired or never-video names with no automatic replacement: name -> what to choose instead.
RETIRED: dict[str, str] = {
    "gen3a_turbo": "Runway retired gen3a_turbo; choose gen4_turbo (image-to-video) or gen4.5.",
    "gen4_aleph": "gen4_aleph (video editing) was retired; choose gen4_turbo, gen4.5, veo3.1 or veo3.1_fast.",
}

DEFAULT_RATIO = "1280:720"  # every model serves it on every endpoint
# The old guide's default clip length. A model that cannot make it gets its nearest allowed length.
GUIDE_DEFAULT_DURATION = 5


class UnsupportedRequest(ValueError):
    """A request no model setting can honour. The message says what would work instead."""


@dataclass(frozen=True)
class BuiltRequest:
    model: VideoModel
    endpoint: str  # IMAGE_TO_VIDEO or TEXT_TO_VIDEO
    # The Runway JSON body without promptImage: the caller adds the images.
    body: dict
    notices: tuple[str, ...]
    estimated_credits: int
    has_first_frame: bool
    has_last_frame: bool

    @property
    def duration(self) -> int:
        return self.body["duration"]

    @property
    def ratio(self) -> str:
        return self.body["ratio"]


@dataclass(frozen=True)
class ImagePlan:
    """How a list of the guide's "reference images" maps onto a model's first and last frame.

    images[0] becomes the first frame; images[1] the last frame when has_last_frame; the rest are unused.
    """

    has_first_frame: bool
    has_last_frame: bool
    unused: int
    notices: tuple[str, ...]


def _join_or(words: list[str] | tuple[str, ...]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} or {words[-1]}"


def _ids(predicate: Callable[[VideoModel], bool]) -> list[str]:
    return [m.id for m in MODELS.values() if predicate(m)]


def resolve_model(name: str | None) -> tuple[VideoModel, list[str]]:
    """Find a model by id or by the old guide's name; None or blank means DEFAULT_MODEL.

    Returns the model and the notices explaining any renaming. Unknown names raise UnsupportedRequest
    listing the valid ids.
    """
    key = (name or "").strip().lower()
    if not key:
        return MODELS[DEFAULT_MODEL], []
    if key in MODELS:
        return MODELS[key], []
    if key in ALIASES:
        target, why = ALIASES[key]
        return MODELS[target], [why]
    if key in RETIRED:
        raise UnsupportedRequest(RETIRED[key])
    raise UnsupportedRequest(
        f"Unknown model '{name}'. Choose {_join_or(list(MODELS))} "
        f"(the old names {' and '.join(ALIASES)} are accepted too)."
    )


def nearest_duration(model: VideoModel, duration: float) -> int:
    """The allowed duration closest to `duration`; a tie goes to the longer clip (nobody gets less)."""
    return min(model.durations, key=lambda d: (abs(d - duration), -d))


def default_duration(model: VideoModel) -> int:
    """The duration used when none is given: the guide's 5 s, or the model's nearest (6 s on Veo)."""
    return nearest_duration(model, GUIDE_DEFAULT_DURATION)


def _parse_ratio(ratio: str) -> tuple[int, int]:
    w, h = ratio.split(":")
    return int(w), int(h)


def _orientation(width: int, height: int) -> str:
    if width == height:
        return "square"
    return "landscape" if width > height else "portrait"


def _endpoint_words(endpoint: str) -> str:
    return "image-to-video" if endpoint == IMAGE_TO_VIDEO else "text-to-video"


def _ratio_alternatives(matches: Callable[[str], bool], *, has_image: bool) -> str:
    """Where the ratios `matches` accepts are made, e.g. '960:960 on gen4.5 with a first-frame image'.

    Only the endpoint the request would use counts as "as is"; text-to-video may also be offered the
    image-to-video ratios, with the image they need named.
    """
    parts = []
    for ratio in dict.fromkeys(r for m in MODELS.values() for r in m.all_ratios() if matches(r)):
        as_is = [
            m.id
            for m in MODELS.values()
            if ratio in m.ratios.get(IMAGE_TO_VIDEO if has_image else TEXT_TO_VIDEO, ())
        ]
        with_image = [
            m.id for m in MODELS.values() if ratio in m.ratios.get(IMAGE_TO_VIDEO, ()) and m.id not in as_is
        ]
        if as_is:
            parts.append(f"{ratio} on {_join_or(as_is)}")
        if with_image and not has_image:
            parts.append(f"{ratio} on {_join_or(with_image)} with a first-frame image")
    return "; ".join(parts)


def nearest_ratio(model: VideoModel, endpoint: str, width: int, height: int) -> str:
    """The model's ratio closest in shape to width x height (then closest in size) on this endpoint.

    Raises UnsupportedRequest when the closest shape would turn the video on its side or out of square
    (a square video on Veo, a portrait size where only landscape exists): that is a different film,
    not a translation.
    """
    if endpoint not in model.ratios:
        raise UnsupportedRequest(f"{model.id} does not do {_endpoint_words(endpoint)}.")
    if width <= 0 or height <= 0:
        raise UnsupportedRequest(f"Width and height must be positive, got {width}x{height}.")
    wanted = math.log(width / height)
    area = width * height

    def distance(ratio: str) -> tuple[float, float]:
        rw, rh = _parse_ratio(ratio)
        return (round(abs(math.log(rw / rh) - wanted), 9), abs(math.log(rw * rh / area)))

    best = min(model.ratios[endpoint], key=distance)
    shape = _orientation(width, height)
    if _orientation(*_parse_ratio(best)) != shape:
        has_image = endpoint == IMAGE_TO_VIDEO
        others = _ratio_alternatives(lambda r: _orientation(*_parse_ratio(r)) == shape, has_image=has_image)
        raise UnsupportedRequest(
            f"{model.id} {_endpoint_words(endpoint)} makes no {shape} video "
            f"(it makes {', '.join(model.ratios[endpoint])}). For a {shape} clip use {others}."
        )
    return best


def _size_notice(model: VideoModel, width: int, height: int, ratio: str) -> str | None:
    rw, rh = _parse_ratio(ratio)
    if (rw, rh) == (width, height):
        return None
    if rw * height == rh * width:
        if rw * rh < width * height:
            why = f"{model.label} has no {min(width, height)}p"
        else:
            why = f"{model.label} has no {width}x{height} size"
        return f"{why}; using {ratio}, the same shape."
    return f"{model.label} has no {width}x{height} shape; using {ratio}, the closest shape it makes."


def _prompt_length(text: str) -> int:
    # Runway counts promptText length in UTF-16 code units, so an emoji counts as two.
    return len(text.encode("utf-16-le")) // 2


def _check_frames(model: VideoModel, *, has_first_frame: bool, has_last_frame: bool) -> None:
    if has_last_frame and not model.has_last_frame:
        raise UnsupportedRequest(
            f"{model.id} cannot end on a chosen last frame; choose "
            f"{_join_or(_ids(lambda m: m.has_last_frame))} for a last frame, or leave the last frame out."
        )
    if has_last_frame and not has_first_frame:
        raise UnsupportedRequest("A last frame needs a first frame too; add a first-frame image.")
    if not has_first_frame and model.is_image_required:
        raise UnsupportedRequest(
            f"{model.id} needs a first-frame image; add an image or choose "
            f"{_join_or(_ids(lambda m: TEXT_TO_VIDEO in m.ratios))} for text-to-video."
        )


def _check_prompt(model: VideoModel, endpoint: str, text: str) -> None:
    if not text:
        if endpoint == TEXT_TO_VIDEO:
            raise UnsupportedRequest("Text-to-video needs a prompt; write one, or add a first-frame image.")
        if model.is_prompt_text_required_for_image:
            raise UnsupportedRequest(
                f"{model.id} needs a prompt even with an image; write one, or choose "
                f"{_join_or(_ids(lambda m: not m.is_prompt_text_required_for_image))} "
                "to animate an image without one."
            )
    length = _prompt_length(text)
    if length > PROMPT_MAX_LENGTH:
        raise UnsupportedRequest(
            f"The prompt is {length} characters long; Runway takes at most {PROMPT_MAX_LENGTH} "
            f"(emoji count as two). Shorten it by {length - PROMPT_MAX_LENGTH}."
        )


def _choose_ratio(
    model: VideoModel, endpoint: str, *, ratio: str | None, width: int | None, height: int | None
) -> tuple[str, list[str]]:
    allowed = model.ratios[endpoint]
    ratio = (ratio or "").strip() or None  # a blank form field means "not given"
    if ratio is not None and (width is not None or height is not None):
        raise UnsupportedRequest("Give either a ratio or a width and height, not both.")
    if ratio is not None:
        if ratio not in allowed:
            others = _ratio_alternatives(lambda r: r == ratio, has_image=endpoint == IMAGE_TO_VIDEO)
            hint = f" Or try {others}." if others else ""
            raise UnsupportedRequest(
                f"{model.id} {_endpoint_words(endpoint)} does not make {ratio}; "
                f"choose one of {', '.join(allowed)}.{hint}"
            )
        return ratio, []
    if width is None and height is None:
        return DEFAULT_RATIO, []
    if width is None or height is None:
        raise UnsupportedRequest("Give both a width and a height, or neither.")
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UnsupportedRequest(
                f"Width and height must be positive whole numbers of pixels, got {value!r}."
            )
    chosen = nearest_ratio(model, endpoint, width, height)
    notice = _size_notice(model, width, height, chosen)
    return chosen, [notice] if notice else []


def _choose_duration(model: VideoModel, duration: float | int | None) -> tuple[int, list[str]]:
    if duration is None:
        return default_duration(model), []
    if isinstance(duration, bool) or not isinstance(duration, int | float) or not math.isfinite(duration):
        raise UnsupportedRequest(f"The duration must be a number of seconds, got {duration!r}.")
    if duration <= 0:
        raise UnsupportedRequest(f"The duration must be more than 0 seconds, got {duration:g}.")
    chosen = nearest_duration(model, duration)
    if chosen == duration:
        return chosen, []
    low, high = model.durations[0], model.durations[-1]
    if model.durations == tuple(range(low, high + 1)):
        allowed = f"clips of {low} to {high} whole seconds"
    else:
        allowed = f"{_join_or([str(d) for d in model.durations])} s clips"
    return chosen, [f"{model.label} makes {allowed}, not {duration:g} s; using {chosen} s."]


def build_request(
    *,
    model: str | None,
    prompt_text: str,
    duration: float | int | None = None,
    ratio: str | None = None,
    width: int | None = None,
    height: int | None = None,
    seed: int | None = None,
    has_first_frame: bool = False,
    has_last_frame: bool = False,
    audio: bool = True,
    prices: PriceBook | None = None,
) -> BuiltRequest:
    """Turn a request in any vocabulary (web form, the old guide's CLI flags, Python) into a Runway body.

    Translations (old model names, a width/height, an impossible duration) are made and explained in
    `notices`; a request that cannot be translated raises UnsupportedRequest naming what would work.
    Defaults: ratio 1280:720; duration 5 s on Gen-4 and 6 s on Veo (see default_duration). The prompt
    is stripped of surrounding whitespace; an empty prompt on an image model that allows it is left out.
    `prices` are admins' corrections of the catalog's prices (`with_prices`). Pure: no I/O, same
    answer every time.
    """
    video_model, notices = resolve_model(model)
    video_model = with_prices(video_model, prices)
    _check_frames(video_model, has_first_frame=has_first_frame, has_last_frame=has_last_frame)
    endpoint = IMAGE_TO_VIDEO if has_first_frame else TEXT_TO_VIDEO
    text = (prompt_text or "").strip()
    _check_prompt(video_model, endpoint, text)
    chosen_ratio, ratio_notices = _choose_ratio(
        video_model, endpoint, ratio=ratio, width=width, height=height
    )
    chosen_duration, duration_notices = _choose_duration(video_model, duration)
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX
    ):
        raise UnsupportedRequest(f"The seed must be a whole number from 0 to {SEED_MAX}, got {seed!r}.")

    body: dict = {"model": video_model.id}
    if text:
        body["promptText"] = text
    body["ratio"] = chosen_ratio
    body["duration"] = chosen_duration
    if seed is not None:
        body["seed"] = seed
    if video_model.has_audio:
        # Veo rejects unknown keys, Gen-4 has no sound: audio goes only where it means something.
        body["audio"] = bool(audio)
    return BuiltRequest(
        model=video_model,
        endpoint=endpoint,
        body=body,
        notices=tuple(notices + ratio_notices + duration_notices),
        estimated_credits=video_model.estimate(duration=chosen_duration, audio=audio),
        has_first_frame=has_first_frame,
        has_last_frame=has_last_frame,
    )


def plan_images(model: str | None, image_count: int, *, used: int | None = None) -> ImagePlan:
    """Map the old guide's list of images (`-i a.jpg,b.jpg,c.jpg`) onto first and last frames.

    Runway has no "reference images" for video: the first image becomes the first frame; on models
    with a last frame (Veo) the second becomes the last frame; the rest are unused, with a notice.
    `used` is how many of the images (the first ones) the clips really use, when the caller's
    shots use more than one clip's frames: a stitched sequence on Veo ends each clip on the next
    image, so its clips use one image more than there are clips.
    """
    video_model, _ = resolve_model(model)
    if image_count <= 0:
        return ImagePlan(has_first_frame=False, has_last_frame=False, unused=0, notices=())
    one_clip = min(image_count, 2 if video_model.has_last_frame else 1)
    used = one_clip if used is None or not video_model.has_last_frame else max(1, min(used, image_count))
    unused = image_count - used
    notices: list[str] = []
    if video_model.has_last_frame and used > 2:
        notices.append(
            f"{video_model.label} takes no reference images; the first image is the first frame of "
            "clip 1 and each clip ends on the next image (each later clip starts on the previous "
            "clip's last frame)."
        )
    elif video_model.has_last_frame and image_count >= 2:
        notices.append(
            f"{video_model.label} takes no reference images; the first image is the first frame "
            "and the second is the last frame."
        )
    if unused:
        if video_model.has_last_frame and used > 2:
            why = f"the clips end on images 2 to {used}"
        elif video_model.has_last_frame:
            why = f"{video_model.label} takes a first and a last frame only"
        else:
            why = (
                f"{video_model.label} takes one image, the first frame "
                f"({_join_or(_ids(lambda m: m.has_last_frame))} also take a last frame)"
            )
        notices.append(f"{why}; {unused} image{'s' if unused > 1 else ''} not used.")
    return ImagePlan(
        has_first_frame=True,
        has_last_frame=video_model.has_last_frame and used >= 2,
        unused=unused,
        notices=tuple(notices),
    )


def estimate(model: str, duration: int, audio: bool = True) -> int:
    """Credits Runway is expected to charge for one clip: seconds x credits/s (Veo is cheaper silent).

    Accepts the guide's model names and snaps an impossible duration like build_request does, so the
    figure is the price of what would actually be submitted.
    """
    video_model, _ = resolve_model(model)
    return video_model.estimate(duration=nearest_duration(video_model, duration), audio=audio)


def describe_models() -> list[dict]:
    """One plain dict per model for `--list-models`, pages and JSON: what it does and what it costs."""
    rows = []
    for m in MODELS.values():
        rows.append(
            {
                "id": m.id,
                "label": m.label,
                "family": m.family,
                "is_default": m.id == DEFAULT_MODEL,
                "aliases": [alias for alias, (target, _) in ALIASES.items() if target == m.id],
                "durations": list(m.durations),
                "default_duration": default_duration(m),
                "ratios": {endpoint: list(ratios) for endpoint, ratios in m.ratios.items()},
                "credits_per_second": m.credits_per_second,
                "credits_per_second_silent": m.credits_per_second_silent,
                "has_text_to_video": TEXT_TO_VIDEO in m.ratios,
                "has_image_to_video": IMAGE_TO_VIDEO in m.ratios,
                "has_last_frame": m.has_last_frame,
                "has_audio": m.has_audio,
            }
        )
    return rows


# --- text-to-image: keyframes made from tagged reference images ------------------------------------
# A separate table: these models make stills, never clips, so they stay out of MODELS (the video
# choices, describe_models, Sequence.model).

TEXT_TO_IMAGE = "text_to_image"

# SDK 5.24.0 types/text_to_image_create_params.py: the `ratio` Literal of Gen4Image and
# Gen4ImageTurbo (identical), in the SDK's order.
GEN4_IMAGE_RATIOS = (
    "1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440", "1808:768",
    "1920:1080", "1080:1920", "2112:912", "1280:720", "720:1280", "720:720", "960:720", "720:960",
    "1680:720",
)  # fmt: skip
# Prices (runway-api.md §10, from Runway's skills repo; a reseller's listing of Runway's prices,
# dated 2026-08, agrees): gen4_image 5 credits per 720p image and 8 per 1080p image; gen4_image_turbo
# 2 per image at any size. Neither source says which ratio is which tier. The SDK lists the ratios in
# two runs, ten around 1080p and then six whose short side is 720 px; we charge those six at the 720p
# price and every other ratio at the 1080p price, so an estimate is never below what Runway charges.
GEN4_IMAGE_720P_RATIOS = ("1280:720", "720:1280", "720:720", "960:720", "720:960", "1680:720")
# SDK: "Must be 3-16 characters, start with a letter, and use only letters, digits, and underscores".
TAG_MIN_LENGTH, TAG_MAX_LENGTH = 3, 16
TAG_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]{2,15}")
# A citation is @ followed by a word, not inside another word (an e-mail address is not a citation).
CITATION_RE = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9_]+)")
DEFAULT_IMAGE_RATIO = "1280:720"


@dataclass(frozen=True)
class ImageModel:
    id: str
    label: str
    ratios: tuple[str, ...]
    min_references: int
    max_references: int
    credits_per_image: int  # the 1080p price, or the only price
    credits_per_image_720p: int

    def estimate(self, *, ratio: str) -> int:
        return self.credits_per_image_720p if ratio in GEN4_IMAGE_720P_RATIOS else self.credits_per_image


IMAGE_MODELS: dict[str, ImageModel] = {
    m.id: m
    for m in (
        ImageModel(
            id="gen4_image",
            label="Gen-4 Image",
            ratios=GEN4_IMAGE_RATIOS,
            min_references=0,
            max_references=3,
            credits_per_image=8,
            credits_per_image_720p=5,
        ),
        ImageModel(
            id="gen4_image_turbo",
            label="Gen-4 Image Turbo",
            ratios=GEN4_IMAGE_RATIOS,
            min_references=1,
            max_references=3,
            credits_per_image=2,
            credits_per_image_720p=2,
        ),
    )
}
DEFAULT_IMAGE_MODEL = "gen4_image"


@dataclass(frozen=True)
class BuiltImageRequest:
    model: ImageModel
    # The Runway JSON body without referenceImages: `with_images()` adds them in the same order.
    body: dict
    tags: tuple[str | None, ...]
    estimated_credits: int
    endpoint: str = TEXT_TO_IMAGE

    @property
    def ratio(self) -> str:
        return self.body["ratio"]

    def with_images(self, uris: list[str] | tuple[str, ...]) -> dict:
        """The full body: one `{uri, tag?}` per reference, in the order the references were given."""
        if len(uris) != len(self.tags):
            raise ValueError(f"Expected {len(self.tags)} image URIs, got {len(uris)}.")
        body = dict(self.body)
        if uris:
            body["referenceImages"] = [
                {"uri": uri, "tag": tag} if tag else {"uri": uri}
                for uri, tag in zip(uris, self.tags, strict=True)
            ]
        return body


def resolve_image_model(name: str | None) -> ImageModel:
    key = (name or "").strip().lower()
    if not key:
        return IMAGE_MODELS[DEFAULT_IMAGE_MODEL]
    if key in IMAGE_MODELS:
        return IMAGE_MODELS[key]
    if key in MODELS:
        raise UnsupportedRequest(
            f"{key} makes video, not images; choose {_join_or(list(IMAGE_MODELS))} for a keyframe image."
        )
    raise UnsupportedRequest(f"Unknown image model '{name}'. Choose {_join_or(list(IMAGE_MODELS))}.")


def check_tag(tag: str) -> None:
    """Raise UnsupportedRequest unless `tag` is a tag Runway accepts."""
    if not TAG_MIN_LENGTH <= len(tag) <= TAG_MAX_LENGTH:
        raise UnsupportedRequest(
            f"The tag '{tag}' is {len(tag)} characters long; a tag has {TAG_MIN_LENGTH} to "
            f"{TAG_MAX_LENGTH}. Try '{suggest_tag(tag)}'."
        )
    if not TAG_RE.fullmatch(tag):
        raise UnsupportedRequest(
            f"The tag '{tag}' is not allowed: a tag starts with a letter and has only letters, digits "
            f"and underscores (no spaces, hyphens or accents). Try '{suggest_tag(tag)}'."
        )


def _check_references(model: ImageModel, references: list[tuple[str | None, bool]]) -> tuple[str | None, ...]:
    count = len(references)
    if count > model.max_references:
        raise UnsupportedRequest(
            f"{model.id} takes at most {model.max_references} reference images; you chose {count}. "
            f"Remove {count - model.max_references}."
        )
    if count < model.min_references:
        others = [m.id for m in IMAGE_MODELS.values() if m.min_references <= count]
        hint = f", or choose {_join_or(others)}" if others else ""
        raise UnsupportedRequest(
            f"{model.id} needs at least {model.min_references} reference image"
            f"{'s' if model.min_references > 1 else ''}; add one{hint}."
        )
    tags: list[str | None] = []
    seen: dict[str, str] = {}
    for number, (raw_tag, has_image) in enumerate(references, start=1):
        tag = (raw_tag or "").strip() or None
        if not has_image:
            name = f" (@{tag})" if tag else ""
            raise UnsupportedRequest(
                f"Reference {number}{name} has no image; add one or remove the reference."
            )
        if tag is not None:
            check_tag(tag)
            # Runway does not say whether tags are case-sensitive; @Kitchen and @kitchen are too close.
            if tag.lower() in seen:
                raise UnsupportedRequest(
                    f"The tag '{tag}' is used twice (also as '{seen[tag.lower()]}'); give each reference "
                    "its own tag."
                )
            seen[tag.lower()] = tag
        tags.append(tag)
    return tuple(tags)


def _check_citations(text: str, tags: tuple[str | None, ...]) -> None:
    known = [t for t in tags if t]
    for cited in CITATION_RE.findall(text):
        if cited in known:
            continue
        close = next((t for t in known if t.lower() == cited.lower()), None)
        if close:
            raise UnsupportedRequest(
                f"The prompt cites @{cited}, but the tag is spelt '{close}'; write @{close}."
            )
        if known:
            listed = ", ".join(f"@{t}" for t in known)
            raise UnsupportedRequest(
                f"The prompt cites @{cited}, but no reference image has that tag; cite one of {listed} "
                f"or tag an image '{cited}'."
            )
        raise UnsupportedRequest(
            f"The prompt cites @{cited}, but no reference image is tagged; tag an image '{cited}' or "
            "remove the @."
        )


def build_image_request(
    *,
    model: str | None,
    prompt_text: str,
    ratio: str | None = None,
    references: list[tuple[str | None, bool]] | tuple[tuple[str | None, bool], ...] = (),
    seed: int | None = None,
    prices: PriceBook | None = None,
) -> BuiltImageRequest:
    """Check a keyframe-image request and build its Runway body (without image URIs) and estimate.

    `references` is one (tag or None, has_image) per reference image, in the order they will be
    sent. Raises UnsupportedRequest naming what would work: a bad or duplicate tag, a prompt citing
    an @tag no reference has, too many or too few references, a ratio the model does not make, an
    empty or too long prompt, a bad seed. No ratio means 1280:720. Pure: no I/O.
    """
    image_model = with_prices(resolve_image_model(model), prices)
    tags = _check_references(image_model, list(references))
    text = (prompt_text or "").strip()
    if not text:
        raise UnsupportedRequest(
            "A keyframe image needs a prompt; describe the picture, citing reference images by @tag."
        )
    length = _prompt_length(text)
    if length > PROMPT_MAX_LENGTH:
        raise UnsupportedRequest(
            f"The prompt is {length} characters long; Runway takes at most {PROMPT_MAX_LENGTH} "
            f"(emoji count as two). Shorten it by {length - PROMPT_MAX_LENGTH}."
        )
    _check_citations(text, tags)
    chosen = (ratio or "").strip() or DEFAULT_IMAGE_RATIO
    if chosen not in image_model.ratios:
        raise UnsupportedRequest(
            f"{image_model.id} does not make {chosen} images; choose one of {', '.join(image_model.ratios)}."
        )
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX
    ):
        raise UnsupportedRequest(f"The seed must be a whole number from 0 to {SEED_MAX}, got {seed!r}.")
    body: dict = {"model": image_model.id, "promptText": text, "ratio": chosen}
    if seed is not None:
        body["seed"] = seed
    return BuiltImageRequest(
        model=image_model, body=body, tags=tags, estimated_credits=image_model.estimate(ratio=chosen)
    )


def suggest_tag(filename: str, taken: list[str] | tuple[str, ...] | set[str] = ()) -> str:
    """A tag Runway accepts, made from a file name's stem and unlike any in `taken` (ignoring case).

    'Küche 2.jpg' -> 'Kuche_2'; '2024-front door.png' -> 'front_door'; a stem with no letters -> 'ref'.
    """
    stem = PurePath(filename).stem if "." in PurePath(filename).name else PurePath(filename).name
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9]+", "_", ascii_stem)
    cleaned = re.sub(r"^[^A-Za-z]+", "", cleaned)[:TAG_MAX_LENGTH].rstrip("_") or "ref"
    if len(cleaned) < TAG_MIN_LENGTH:
        cleaned = f"{cleaned}_ref"
    used = {t.lower() for t in taken}
    candidate, number = cleaned, 1
    while candidate.lower() in used:
        number += 1
        suffix = f"_{number}"
        candidate = cleaned[: TAG_MAX_LENGTH - len(suffix)].rstrip("_") + suffix
    return candidate


# --- finishing: narration (text_to_speech) and 4K masters (video_upscale) --------------------------
# Separate tables again: these models make sound and masters, not clips. Facts: SDK 5.24.0
# types/text_to_speech_create_params.py and types/video_upscale_create_params.py; prices from
# Runway's pricing guide as quoted by Runway's own MCP server and integrators (runway-api.md §10
# has no audio or upscale rows).

TEXT_TO_SPEECH = "text_to_speech"
VIDEO_UPSCALE = "video_upscale"

# The SDK's `presetId` Literal (the same 49 voices for eleven_multilingual_v2, eleven_v3, eleven_v4).
VOICES = (
    "Maya", "Arjun", "Serene", "Bernard", "Billy", "Mark", "Clint", "Mabel", "Chad", "Leslie",
    "Eleanor", "Elias", "Elliot", "Grungle", "Brodie", "Sandra", "Kirk", "Kylie", "Lara", "Lisa",
    "Malachi", "Marlene", "Martin", "Miriam", "Monster", "Paula", "Pip", "Rusty", "Ragnar", "Xylar",
    "Maggie", "Jack", "Katie", "Noah", "James", "Rina", "Ella", "Mariah", "Frank", "Claudia", "Niki",
    "Vincent", "Kendrick", "Myrna", "Tom", "Wanda", "Benjamin", "Kiana", "Rachel",
)  # fmt: skip
DEFAULT_VOICE = "Maya"  # the default of Runway's MCP server
# A script's spoken length is estimated at 150 words a minute (an ordinary narration pace; measured
# ElevenLabs takes run from about 100 to 230 wpm by voice), divided by `speed`. Runway reports no
# duration before the audio exists: this is only for "will it fit the film" before spending.
SPEECH_WORDS_PER_MINUTE = 150
# Bracketed tags ([laughs], [pause]) direct the delivery and are not read out.
_SPEECH_TAG_RE = re.compile(r"\[[^\]]*\]")


@dataclass(frozen=True)
class SpeechModel:
    id: str
    label: str
    # promptText length in UTF-16 units. eleven_multilingual_v2: the SDK's "up to 1000 characters".
    # eleven_v3: the SDK states none; Runway's MCP server enforces 5000 (ElevenLabs' own v3 limit).
    max_characters: int
    # Only eleven_v3 takes `speed` (SDK: 0.7-1.2); eleven_multilingual_v2 takes no settings at all.
    has_speed: bool
    # Pricing guide: "1 credit per 50 characters" for both, "1 credit minimum" (stated for
    # eleven_v3). Characters are counted as Runway counts the limit, in UTF-16 units, and rounded
    # up, so an estimate is never below the charge. eleven_v4 (in the SDK) is on no price list we
    # could read, so it is not offered.
    characters_per_credit: int = 50
    min_credits: int = 1

    def estimate(self, *, script: str) -> int:
        return max(self.min_credits, -(-_prompt_length(script) // self.characters_per_credit))


SPEED_RANGE = (0.7, 1.2)
SPEECH_MODELS: dict[str, SpeechModel] = {
    m.id: m
    for m in (
        SpeechModel(
            id="eleven_multilingual_v2",
            label="ElevenLabs Multilingual v2",
            max_characters=1000,
            has_speed=False,
        ),
        SpeechModel(id="eleven_v3", label="ElevenLabs v3 (expressive)", max_characters=5000, has_speed=True),
    )
}
DEFAULT_SPEECH_MODEL = "eleven_multilingual_v2"


@dataclass(frozen=True)
class BuiltSpeechRequest:
    model: SpeechModel
    body: dict
    estimated_credits: int
    estimated_seconds: float
    notices: tuple[str, ...] = ()
    endpoint: str = TEXT_TO_SPEECH


def estimate_speech_seconds(script: str, *, speed: float = 1.0) -> float:
    """About how long `script` takes to say (see SPEECH_WORDS_PER_MINUTE); at least one second."""
    words = len(_SPEECH_TAG_RE.sub(" ", script or "").split())
    return round(max(1.0, words * 60 / SPEECH_WORDS_PER_MINUTE / speed), 1)


def resolve_speech_model(name: str | None) -> SpeechModel:
    key = (name or "").strip().lower()
    if not key:
        return SPEECH_MODELS[DEFAULT_SPEECH_MODEL]
    if key in SPEECH_MODELS:
        return SPEECH_MODELS[key]
    if key in ("eleven_v4", "seed_audio"):
        raise UnsupportedRequest(
            f"{key} has no published price, so it cannot be estimated; choose {_join_or(list(SPEECH_MODELS))}."
        )
    raise UnsupportedRequest(f"Unknown speech model '{name}'. Choose {_join_or(list(SPEECH_MODELS))}.")


def resolve_voice(name: str | None) -> str:
    """A preset voice by name, in any case; None or blank means DEFAULT_VOICE."""
    key = (name or "").strip()
    if not key:
        return DEFAULT_VOICE
    found = next((v for v in VOICES if v.lower() == key.lower()), None)
    if found is None:
        raise UnsupportedRequest(
            f"Runway has no preset voice '{name}'. Choose one of {', '.join(VOICES[:8])} and "
            f"{len(VOICES) - 8} more (the narration form lists them all)."
        )
    return found


def build_speech_request(
    *,
    model: str | None,
    script: str,
    voice: str | None = None,
    speed: float | None = None,
    film_seconds: float | None = None,
    prices: PriceBook | None = None,
) -> BuiltSpeechRequest:
    """Check a narration request and build its Runway text_to_speech body and estimate.

    Raises UnsupportedRequest naming what would work: an empty or too long script, an unknown voice,
    a speed on a model without one or outside 0.7-1.2, and, when `film_seconds` is given, a script
    that would take longer to say than the film lasts (flagged before any credit is spent). Pure.
    """
    speech_model = with_prices(resolve_speech_model(model), prices)
    text = (script or "").strip()
    if not text:
        raise UnsupportedRequest("A narration needs a script; write what the voice should say.")
    length = _prompt_length(text)
    if length > speech_model.max_characters:
        longer = [m.id for m in SPEECH_MODELS.values() if m.max_characters >= length]
        hint = f", or choose {_join_or(longer)}" if longer else ""
        raise UnsupportedRequest(
            f"The script is {length} characters long; {speech_model.id} reads at most "
            f"{speech_model.max_characters} (emoji count as two). Shorten it by "
            f"{length - speech_model.max_characters}{hint}."
        )
    chosen_voice = resolve_voice(voice)
    body: dict = {
        "model": speech_model.id,
        "promptText": text,
        "voice": {"type": "runway-preset", "presetId": chosen_voice},
    }
    if speed is not None:
        if not speech_model.has_speed:
            others = _join_or([m.id for m in SPEECH_MODELS.values() if m.has_speed])
            raise UnsupportedRequest(
                f"{speech_model.id} reads at one speed; leave the speed out, or choose {others} to set one."
            )
        low, high = SPEED_RANGE
        if isinstance(speed, bool) or not isinstance(speed, int | float) or not low <= speed <= high:
            raise UnsupportedRequest(f"The speed must be from {low} to {high} (1 is normal), got {speed!r}.")
        body["speed"] = float(speed)
    seconds = estimate_speech_seconds(text, speed=float(speed or 1.0))
    if film_seconds is not None and seconds > film_seconds:
        words = len(_SPEECH_TAG_RE.sub(" ", text).split())
        spare = math.ceil((seconds - film_seconds) * SPEECH_WORDS_PER_MINUTE * (speed or 1.0) / 60)
        raise UnsupportedRequest(
            f"The narration would take about {seconds:g} s to say ({words} words), longer than the "
            f"{film_seconds:g} s film; cut about {spare} words or lengthen the film."
        )
    return BuiltSpeechRequest(
        model=speech_model,
        body=body,
        estimated_credits=speech_model.estimate(script=text),
        estimated_seconds=seconds,
    )


# SDK 5.24.0 MagnificVideoUpscalerCreative; the other variant, enhance_frame_rate, only changes
# the frame rate and is not a master.
@dataclass(frozen=True)
class UpscaleModel:
    id: str
    label: str
    resolutions: tuple[str, ...]
    # Runway's default is "2k"; a master here is 4K unless asked otherwise, and the body always
    # names the resolution, so Runway's default never decides a price.
    default_resolution: str
    # The output's long side per tier. Two live captures (runway-api.md's upscale note: 640x360 at
    # 1k -> 1920x1072, 1280x720 at 2k -> 2560x1440) show the tier fixing the long side and the short
    # side keeping the shape, rounded down to a multiple of 16; 720p and 4k are taken to follow
    # the same rule (1280, 3840), which makes 3840x2160 from a 16:9 film.
    long_sides: dict[str, int]
    # Pricing guide: per output frame, $0.007 (720p, 1k), $0.009 (2k), $0.012 (4k); credits =
    # ceil(dollars / $0.01), at least 1. Both live captures matched to the credit (63 and 81).
    # Here in tenths of a credit per frame, so the arithmetic stays exact.
    tenth_credits_per_frame: dict[str, int]
    # Longer inputs get a 400 ("Asset duration must be at most 30 seconds", a live capture).
    max_seconds: float = 30
    min_credits: int = 1

    def output_size(self, width: int, height: int, resolution: str) -> tuple[int, int]:
        long_side = self.long_sides[resolution]
        if width >= height:
            return long_side, max(16, long_side * height // width // 16 * 16)
        return max(16, long_side * width // height // 16 * 16), long_side

    def estimate(self, *, frames: int, resolution: str) -> int:
        return max(self.min_credits, -(-frames * self.tenth_credits_per_frame[resolution] // 10))


UPSCALE_MODELS: dict[str, UpscaleModel] = {
    "magnific_video_upscaler_creative": UpscaleModel(
        id="magnific_video_upscaler_creative",
        label="Magnific video upscaler",
        resolutions=("720p", "1k", "2k", "4k"),
        default_resolution="4k",
        long_sides={"720p": 1280, "1k": 1920, "2k": 2560, "4k": 3840},
        tenth_credits_per_frame={"720p": 7, "1k": 7, "2k": 9, "4k": 12},
    )
}
DEFAULT_UPSCALE_MODEL = "magnific_video_upscaler_creative"
UPSCALE_FLAVORS = ("vivid", "natural")
# Runway's sources disagree on the largest data:video/ URI: the SDK's field doc says 5 MB, a 2026-08
# capture of the video_upscale schema allowed 16,777,216 characters. The smaller is used: a film
# whose data URI would be longer goes up as an ephemeral upload (200 MB) instead.
VIDEO_DATA_URI_MAX_CHARS = 5_242_880


@dataclass(frozen=True)
class BuiltUpscaleRequest:
    model: UpscaleModel
    # The Runway JSON body without videoUri: `with_video()` adds it.
    body: dict
    estimated_credits: int
    frames: int
    width: int  # of the master Runway is expected to deliver
    height: int
    endpoint: str = VIDEO_UPSCALE

    @property
    def resolution(self) -> str:
        return self.body["resolution"]

    def with_video(self, uri: str) -> dict:
        return {**self.body, "videoUri": uri}


def build_upscale_request(
    *,
    duration: float,
    fps: float,
    width: int,
    height: int,
    frames: int | None = None,
    model: str | None = None,
    resolution: str | None = None,
    creativity: int | None = None,
    sharpen: int | None = None,
    smart_grain: int | None = None,
    flavor: str | None = None,
    fps_boost: bool = False,
    prices: PriceBook | None = None,
) -> BuiltUpscaleRequest:
    """Check a master request for a film (its duration, frame rate, size and, best, its counted
    `frames`) and build the video_upscale body (without videoUri) and estimate.

    Raises UnsupportedRequest naming what would work: a film over 30 s, an unknown resolution or
    flavor, a setting outside 0-100, and fpsBoost (it changes the frame count Runway bills by an
    amount Runway does not publish, so no estimate could be honest). No resolution means 4k. Pure.
    """
    key = (model or "").strip().lower() or DEFAULT_UPSCALE_MODEL
    if key not in UPSCALE_MODELS:
        raise UnsupportedRequest(f"Unknown upscale model '{model}'. Choose {_join_or(list(UPSCALE_MODELS))}.")
    upscale_model = with_prices(UPSCALE_MODELS[key], prices)
    chosen = (resolution or "").strip().lower() or upscale_model.default_resolution
    if chosen not in upscale_model.resolutions:
        raise UnsupportedRequest(
            f"{upscale_model.id} makes {_join_or(list(upscale_model.resolutions))} masters, not '{resolution}'."
        )
    if not duration > 0 or not fps > 0 or width <= 0 or height <= 0:
        raise UnsupportedRequest("The film has no pictures to upscale; assemble it first.")
    if duration > upscale_model.max_seconds:
        raise UnsupportedRequest(
            f"Runway upscales videos of at most {upscale_model.max_seconds:g} s; this film lasts "
            f"{duration:.1f} s. Master a shorter cut, or master it in parts."
        )
    if fps_boost:
        raise UnsupportedRequest(
            "fpsBoost changes how many frames Runway bills by an amount it does not publish, so it "
            "cannot be estimated; leave it off."
        )
    body: dict = {"model": upscale_model.id, "resolution": chosen}
    for name, value in (("creativity", creativity), ("sharpen", sharpen), ("smartGrain", smart_grain)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise UnsupportedRequest(f"{name} must be a whole number from 0 to 100, got {value!r}.")
        body[name] = value
    if flavor is not None:
        if flavor not in UPSCALE_FLAVORS:
            raise UnsupportedRequest(f"The flavor must be {_join_or(list(UPSCALE_FLAVORS))}, not '{flavor}'.")
        body["flavor"] = flavor
    counted = frames if frames is not None else round(duration * fps)
    out_width, out_height = upscale_model.output_size(width, height, chosen)
    return BuiltUpscaleRequest(
        model=upscale_model,
        body=body,
        estimated_credits=upscale_model.estimate(frames=counted, resolution=chosen),
        frames=counted,
        width=out_width,
        height=out_height,
    )


# --- kinds and prices -------------------------------------------------------------------------------
# Runway's tiers limit concurrency and daily generations per kind of model (video, image, audio),
# shared by every model of the kind (runway-api.md section 9). An upscale makes a video.

VIDEO, IMAGE, AUDIO = "video", "image", "audio"
ENDPOINT_KINDS = {
    IMAGE_TO_VIDEO: VIDEO,
    TEXT_TO_VIDEO: VIDEO,
    VIDEO_UPSCALE: VIDEO,
    TEXT_TO_IMAGE: IMAGE,
    TEXT_TO_SPEECH: AUDIO,
}


def model_kind(model_id: str) -> str | None:
    """The kind of model whose limits `model_id` shares (None for a model the catalog does not have)."""
    if model_id in MODELS or model_id in UPSCALE_MODELS:
        return VIDEO
    if model_id in IMAGE_MODELS:
        return IMAGE
    if model_id in SPEECH_MODELS:
        return AUDIO
    return None


# An admin's corrections of the catalog's prices: {model id: {price field: credits}}, the fields as
# `price_fields` names them. Kept in the database (generation.models.ModelPrice); handed in here.
PriceBook = Mapping[str, Mapping[str, int]]

_PRICE_FIELDS: dict[type, tuple[str, ...]] = {
    VideoModel: ("credits_per_second", "credits_per_second_silent"),
    ImageModel: ("credits_per_image", "credits_per_image_720p"),
    SpeechModel: ("characters_per_credit", "min_credits"),
    UpscaleModel: ("min_credits",),
}


def all_priced_models() -> dict[str, VideoModel | ImageModel | SpeechModel | UpscaleModel]:
    return {**MODELS, **IMAGE_MODELS, **SPEECH_MODELS, **UPSCALE_MODELS}


def price_fields(model_id: str) -> dict[str, int]:
    """The price fields of a model with the catalog's figures: `credits_per_second` for a video
    model, `tenth_credits_per_frame.4k` (tenths of a credit per frame) for an upscale, and so on."""
    model = all_priced_models().get(model_id)
    if model is None:
        return {}
    fields = {name: getattr(model, name) for name in _PRICE_FIELDS[type(model)]}
    if isinstance(model, UpscaleModel):
        for resolution, tenths in model.tenth_credits_per_frame.items():
            fields[f"tenth_credits_per_frame.{resolution}"] = tenths
    return fields


def with_prices(model: T_Model, prices: PriceBook | None) -> T_Model:
    """`model` with the prices an admin set for it in `prices` in place of the catalog's. Pure."""
    overrides = (prices or {}).get(model.id)
    if not overrides:
        return model
    known = price_fields(model.id)
    plain = {k: int(v) for k, v in overrides.items() if k in known and "." not in k}
    if isinstance(model, VideoModel) and not model.has_audio and "credits_per_second" in plain:
        # A model without sound has one price, whichever field names it.
        plain.setdefault("credits_per_second_silent", plain["credits_per_second"])
    if isinstance(model, UpscaleModel):
        tenths = dict(model.tenth_credits_per_frame)
        for key, value in overrides.items():
            if key in known and key.startswith("tenth_credits_per_frame."):
                tenths[key.split(".", 1)[1]] = int(value)
        plain["tenth_credits_per_frame"] = tenths
    return dataclasses.replace(model, **plain)
