"""Runway's published facts about the models the simulator serves: the simulator's own copy.

Written from shared/runway-api.md, never imported from generation.catalog: the simulator is the
oracle the catalog is tested against (tests/test_catalog_matches_simulator.py), so a wrong price or
ratio has to be written twice, once here and once in the catalog, before a test can pass with it.

Besides the models: the organisation's tiers (TIERS, KINDS), failure codes and their refunds
(FAILURE_TEXTS, is_charged_failure), input limits (data URIs, uploads, image aspect). Every figure
names its source; a guess says that it is one, and why it was made the way it was.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

IMAGE_TO_VIDEO = "image_to_video"
TEXT_TO_VIDEO = "text_to_video"

# runway-api.md §3.2 (image_to_video) and §3.3 (text_to_video), in the order Runway lists them.
GEN4_I2V_RATIOS = ("1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672")
GEN45_T2V_RATIOS = ("1280:720", "720:1280")
VEO_RATIOS = ("1280:720", "720:1280", "1080:1920", "1920:1080")
# A range is Runway's "integer 2-10"; a tuple is a literal union such as Veo's 4 | 6 | 8.
GEN4_DURATIONS = range(2, 11)
VEO_DURATIONS = (4, 6, 8)
# promptImage positions: Gen-4 takes a first frame only, Veo a first and optionally a last (§3.2).
FIRST = ("first",)
FIRST_LAST = ("first", "last")
GEN4T_FIELDS = frozenset({"seed", "contentModeration"})
GEN45_FIELDS = GEN4T_FIELDS | {"outputFormat", "proresProfile"}
VEO_FIELDS = frozenset({"seed", "audio", "negativePrompt"})

# §3.4: a data URI is at most 5,242,880 characters, the whole string counted.
DATA_URI_MAX_CHARS = 5_242_880

# §7: input image aspect (width / height) is 0.5-2 for every model but gen4_turbo, which takes up
# to 2.358 ([mirror of DOC-inputs]). Reference images of text_to_image are not listed there: the
# simulator applies the common 0.5-2 to them (a guess).
IMAGE_ASPECT_RANGE = (0.5, 2.0)
GEN4_TURBO_ASPECT_RANGE = (0.5, 2.358)

# ---------------------------------------------------------------------------------------------
# Kinds of model and the tiers that limit them (runway-api.md §9)

# §9: concurrency and daily generations are shared by all models of one modality, per organisation.
VIDEO = "video"
IMAGE = "image"
AUDIO = "audio"
KINDS = (VIDEO, IMAGE, AUDIO)


@dataclass(frozen=True)
class RunwayModel:
    id: str
    # Accepted ratios per endpoint; an endpoint the model does not serve is absent (§3.1).
    ratios: dict[str, tuple[str, ...]]
    durations: range | tuple[int, ...]
    is_duration_required: bool
    # Runway leaves the default duration unstated (UNVERIFIED in §3.2); the simulator bills these.
    default_duration: int
    # Text-to-video always needs a prompt; this says whether image-to-video does too.
    is_prompt_text_required_with_image: bool
    keyframe_positions: tuple[str, ...]
    # Body fields beyond model, ratio, duration, promptText and promptImage (§3.2, §3.3).
    optional_fields: frozenset[str]
    # §10: credits per output second; only Veo has sound, and is cheaper without it.
    credits_per_second: int
    credits_per_second_silent: int
    # §7: the width / height range of its input images.
    input_aspect: tuple[float, float] = IMAGE_ASPECT_RANGE
    kind: str = VIDEO

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(self.ratios)

    @property
    def has_audio(self) -> bool:
        return "audio" in self.optional_fields

    @property
    def has_last_frame(self) -> bool:
        return "last" in self.keyframe_positions

    def price_per_second(self, *, audio: bool) -> int:
        return self.credits_per_second if audio and self.has_audio else self.credits_per_second_silent

    def cost(self, *, duration: int, audio: bool) -> int:
        return self.price_per_second(audio=audio) * duration


I2V, T2V = IMAGE_TO_VIDEO, TEXT_TO_VIDEO
MODELS: dict[str, RunwayModel] = {
    model.id: model
    for model in (
        RunwayModel(
            id="gen4_turbo",
            ratios={I2V: GEN4_I2V_RATIOS},
            durations=GEN4_DURATIONS,
            is_duration_required=False,
            default_duration=10,
            is_prompt_text_required_with_image=False,
            keyframe_positions=FIRST,
            optional_fields=GEN4T_FIELDS,
            credits_per_second=5,
            credits_per_second_silent=5,
            input_aspect=GEN4_TURBO_ASPECT_RANGE,
        ),
        RunwayModel(
            id="gen4.5",
            ratios={I2V: GEN4_I2V_RATIOS, T2V: GEN45_T2V_RATIOS},
            durations=GEN4_DURATIONS,
            is_duration_required=True,
            default_duration=10,
            is_prompt_text_required_with_image=True,
            keyframe_positions=FIRST,
            optional_fields=GEN45_FIELDS,
            credits_per_second=12,
            credits_per_second_silent=12,
        ),
        RunwayModel(
            id="veo3.1",
            ratios={I2V: VEO_RATIOS, T2V: VEO_RATIOS},
            durations=VEO_DURATIONS,
            is_duration_required=False,
            default_duration=8,
            is_prompt_text_required_with_image=False,
            keyframe_positions=FIRST_LAST,
            optional_fields=VEO_FIELDS,
            credits_per_second=40,
            credits_per_second_silent=20,
        ),
    )
}

# §3.2: veo3.1_fast takes exactly the bodies veo3.1 takes; only its price differs (§10).
MODELS["veo3.1_fast"] = dataclasses.replace(
    MODELS["veo3.1"], id="veo3.1_fast", credits_per_second=15, credits_per_second_silent=10
)


# ---------------------------------------------------------------------------------------------
# text_to_image (runway-api.md §11; SDK 5.24.0 types/text_to_image_create_params.py)

TEXT_TO_IMAGE = "text_to_image"

# The SDK's `ratio` Literal for Gen4Image and Gen4ImageTurbo, as listed there.
GEN4_IMAGE_RATIOS = (
    "1024:1024", "1080:1080", "1168:880", "1360:768", "1440:1080", "1080:1440", "1808:768",
    "1920:1080", "1080:1920", "2112:912", "1280:720", "720:1280", "720:720", "960:720", "720:960",
    "1680:720",
)  # fmt: skip
# Body fields beyond model, promptText, ratio and referenceImages (the SDK's Gen4Image TypedDict).
GEN4_IMAGE_FIELDS = frozenset({"seed", "contentModeration"})
# A 720p image is one whose short side is 720 px; Runway's price list says only "720p" and
# "1080p", so every larger size is billed as 1080p (the dearer guess).
SHORT_SIDE_720P = 720


@dataclass(frozen=True)
class RunwayImageModel:
    id: str
    ratios: tuple[str, ...]
    # §11: how many referenceImages a body may carry.
    min_references: int
    max_references: int
    optional_fields: frozenset[str]
    # §10: credits per image at 720p and at 1080p.
    credits_720p: int
    credits_1080p: int
    kind: str = IMAGE

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (TEXT_TO_IMAGE,)

    def cost(self, *, ratio: str) -> int:
        width, height = (int(side) for side in ratio.split(":"))
        return self.credits_720p if min(width, height) <= SHORT_SIDE_720P else self.credits_1080p


IMAGE_MODELS: dict[str, RunwayImageModel] = {
    model.id: model
    for model in (
        RunwayImageModel(
            id="gen4_image",
            ratios=GEN4_IMAGE_RATIOS,
            min_references=0,
            max_references=3,
            optional_fields=GEN4_IMAGE_FIELDS,
            credits_720p=5,
            credits_1080p=8,
        ),
        # §11: referenceImages is required (1-3); §10: 2 credits at any size.
        RunwayImageModel(
            id="gen4_image_turbo",
            ratios=GEN4_IMAGE_RATIOS,
            min_references=1,
            max_references=3,
            optional_fields=GEN4_IMAGE_FIELDS,
            credits_720p=2,
            credits_1080p=2,
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# text_to_speech (SDK 5.24.0 types/text_to_speech_create_params.py)

TEXT_TO_SPEECH = "text_to_speech"

# The SDK's `presetId` Literal, identical for eleven_v4, eleven_multilingual_v2 and eleven_v3.
VOICE_PRESETS = (
    "Maya", "Arjun", "Serene", "Bernard", "Billy", "Mark", "Clint", "Mabel", "Chad", "Leslie",
    "Eleanor", "Elias", "Elliot", "Grungle", "Brodie", "Sandra", "Kirk", "Kylie", "Lara", "Lisa",
    "Malachi", "Marlene", "Martin", "Miriam", "Monster", "Paula", "Pip", "Rusty", "Ragnar", "Xylar",
    "Maggie", "Jack", "Katie", "Noah", "James", "Rina", "Ella", "Mariah", "Frank", "Claudia", "Niki",
    "Vincent", "Kendrick", "Myrna", "Tom", "Wanda", "Benjamin", "Kiana", "Rachel",
)  # fmt: skip
# The simulated voice reads at this pace; a script of N words lasts N / 150 minutes (divided by
# `speed` where the model takes one). 150 words a minute is an ordinary narration pace; real
# ElevenLabs takes measured by one integrator ran from about 100 to 230 wpm by voice and model.
WORDS_PER_MINUTE = 150
# Expressive tags such as [laughs] or [pause] (SDK: eleven_v3 / eleven_v4 scripts) are not spoken.
SPEECH_MIN_SECONDS = 1.0


@dataclass(frozen=True)
class NumberRange:
    low: float
    high: float
    is_integer: bool = False


@dataclass(frozen=True)
class RunwaySpeechModel:
    id: str
    # promptText length in UTF-16 units. eleven_multilingual_v2: the SDK's "up to 1000 characters".
    # eleven_v3: the SDK states no maximum; Runway's own MCP server and its integrators use 5000.
    # eleven_v4: unstated anywhere we could read; the simulator applies eleven_v3's 5000.
    max_units: int
    # Optional body fields beyond model, promptText and voice, with their ranges where the SDK gives
    # them (eleven_v3); eleven_v4 declares the same names without ranges and gets eleven_v3's.
    numbers: dict[str, NumberRange]
    strings: frozenset[str]
    booleans: frozenset[str]
    choices: dict[str, tuple[str, ...]]
    # Runway's pricing page: "1 credit per 50 characters" (eleven_v3 "1 credit minimum") for both
    # eleven models; eleven_v4 is not on any price list we could read and is billed like eleven_v3.
    characters_per_credit: int = 50
    min_credits: int = 1
    kind: str = AUDIO

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (TEXT_TO_SPEECH,)

    @property
    def fields(self) -> frozenset[str]:
        return (
            frozenset({"model", "promptText", "voice"})
            | set(self.numbers)
            | self.strings
            | self.booleans
            | set(self.choices)
        )

    def cost(self, *, units: int) -> int:
        return max(self.min_credits, -(-units // self.characters_per_credit))


ELEVEN_V3_NUMBERS = {
    "seed": NumberRange(0, 4294967295, is_integer=True),
    "similarityBoost": NumberRange(0, 1),
    "speed": NumberRange(0.7, 1.2),
    "stability": NumberRange(0, 1),
    "style": NumberRange(0, 1),
}
SPEECH_MODELS: dict[str, RunwaySpeechModel] = {
    model.id: model
    for model in (
        RunwaySpeechModel(
            id="eleven_multilingual_v2",
            max_units=1000,
            numbers={},
            strings=frozenset(),
            booleans=frozenset(),
            choices={},
        ),
        RunwaySpeechModel(
            id="eleven_v3",
            max_units=5000,
            numbers=ELEVEN_V3_NUMBERS,
            strings=frozenset({"languageCode"}),
            booleans=frozenset({"useSpeakerBoost"}),
            choices={"applyTextNormalization": ("auto", "on", "off")},
        ),
        RunwaySpeechModel(
            id="eleven_v4",
            max_units=5000,
            numbers=ELEVEN_V3_NUMBERS,
            strings=frozenset({"languageCode", "nextText", "previousText"}),
            booleans=frozenset({"useSpeakerBoost"}),
            choices={},
        ),
    )
}


# ---------------------------------------------------------------------------------------------
# video_upscale (SDK 5.24.0 types/video_upscale_create_params.py; runway-api.md §3.4, §6.2)

VIDEO_UPSCALE = "video_upscale"

# §7: SDK 5.24's field docs say data:video/ URIs are "up to 5MB" (its changelog of 2026-08-31: "cap
# media data URIs at 5MB"), though a 2026-08 capture of the video_upscale schema allowed 16,777,216
# characters and one docs table still says 16 MB. The simulator follows the SDK, the newer word;
# SimulatorConfig.video_data_uri_max_chars can change it.
VIDEO_DATA_URI_MAX_CHARS = 5_242_880
# §6.2: "Asset duration must be at most 30 seconds" (a live 400 on a 31 s video).
UPSCALE_MAX_SECONDS = 30


@dataclass(frozen=True)
class RunwayUpscaleModel:
    id: str
    resolutions: tuple[str, ...]
    default_resolution: str
    # The long side of the output per tier. Captured: 640x360 at "1k" gave 1920x1072 and
    # 1280x720 at "2k" gave 2560x1440, so a tier fixes the long side and the short side keeps the
    # shape, rounded down to a multiple of 16 (1080 -> 1072). 720p and 4k follow the same rule by
    # name (1280, 3840): a guess, no capture exists; it makes 3840x2160 from 16:9.
    long_sides: dict[str, int]
    # Runway's pricing guide: billed per output frame, $0.007 at 720p and 1k, $0.009 at 2k, $0.012
    # at 4k; credits = ceil(dollars / 0.01); at least 1 credit. Here in tenths of a credit per frame.
    tenth_credits_per_frame: dict[str, int]
    min_credits: int = 1
    # Its output is a video; which modality's limits Runway counts an upscale under is unpublished.
    # The simulator counts it as video (a guess: the limits follow what a task makes).
    kind: str = VIDEO

    @property
    def endpoints(self) -> tuple[str, ...]:
        return (VIDEO_UPSCALE,)

    def output_size(self, width: int, height: int, resolution: str) -> tuple[int, int]:
        long_side = self.long_sides[resolution]
        if width >= height:
            return long_side, max(16, long_side * height // width // 16 * 16)
        return max(16, long_side * width // height // 16 * 16), long_side

    def output_fps(self, fps: float, *, fps_boost: bool) -> float:
        # fpsBoost "increases the output frame rate" and, the pricing guide warns, the frame count;
        # by how much is unpublished. The simulator doubles it, capped at 60 fps.
        return min(fps * 2, 60.0) if fps_boost else fps

    def cost(self, *, frames: int, resolution: str) -> int:
        return max(self.min_credits, -(-frames * self.tenth_credits_per_frame[resolution] // 10))


UPSCALE_MODELS: dict[str, RunwayUpscaleModel] = {
    "magnific_video_upscaler_creative": RunwayUpscaleModel(
        id="magnific_video_upscaler_creative",
        resolutions=("720p", "1k", "2k", "4k"),
        default_resolution="2k",
        long_sides={"720p": 1280, "1k": 1920, "2k": 2560, "4k": 3840},
        tenth_credits_per_frame={"720p": 7, "1k": 7, "2k": 9, "4k": 12},
    )
}
# Integer settings of magnific_video_upscaler_creative, each 0-100 (SDK field docs).
UPSCALE_PERCENT_FIELDS = ("creativity", "sharpen", "smartGrain")
UPSCALE_FLAVORS = ("vivid", "natural")


_TAG_RE = re.compile(r"\[[^\]]*\]")


def speech_seconds(script: str, *, speed: float = 1.0) -> float:
    """How long the simulated voice takes to read `script`: its words (bracketed tags such as
    [laughs], and the simulator's [sim:...] markers, are not read) at WORDS_PER_MINUTE, divided by
    `speed`; at least SPEECH_MIN_SECONDS."""
    words = len(_TAG_RE.sub(" ", script).split())
    return round(max(SPEECH_MIN_SECONDS, words * 60 / WORDS_PER_MINUTE / speed), 2)


# ---------------------------------------------------------------------------------------------
# Every model the simulator serves, its kind, and the fields that set its price


AnyModel = RunwayModel | RunwayImageModel | RunwaySpeechModel | RunwayUpscaleModel
ALL_MODELS: dict[str, AnyModel] = {**MODELS, **IMAGE_MODELS, **SPEECH_MODELS, **UPSCALE_MODELS}


def all_models() -> dict[str, AnyModel]:
    return ALL_MODELS


def model_kind(model_id: str) -> str:
    """The modality whose limits a model shares: video, image or audio."""
    return ALL_MODELS[model_id].kind


# The numbers a price change (`SimulatorControl.set_price`) may set, per table. A video model
# without sound has one price: `credits_per_second` sets both fields there.
PRICE_FIELDS: dict[type, frozenset[str]] = {
    RunwayModel: frozenset({"credits_per_second", "credits_per_second_silent"}),
    RunwayImageModel: frozenset({"credits_720p", "credits_1080p"}),
    RunwaySpeechModel: frozenset({"characters_per_credit", "min_credits"}),
    RunwayUpscaleModel: frozenset({"tenth_credits_per_frame", "min_credits"}),
}


# ---------------------------------------------------------------------------------------------
# Tiers (runway-api.md §9: [SKILLS] rw-api-reference, 2026-04; [DOC-tiers])


@dataclass(frozen=True)
class KindLimits:
    """One modality's limits, as GET /v1/organization reports them for each of its models
    (None = no limit: the SDK's `Optional[int]`, "null means no limit")."""

    max_concurrent_generations: int | None
    max_daily_generations: int | None


@dataclass(frozen=True)
class Tier:
    number: int
    limits: dict[str, KindLimits]
    # `tier.maxMonthlyCreditSpend`, in credits (1 credit = $0.01, §10): Tier 1's $100 is 10,000.
    max_monthly_credit_spend: int


def _tier(number: int, concurrency: int, video_daily: int, other_daily: int, dollars: int) -> Tier:
    return Tier(
        number=number,
        limits={
            VIDEO: KindLimits(concurrency, video_daily),
            IMAGE: KindLimits(concurrency, other_daily),
            AUDIO: KindLimits(concurrency, other_daily),
        },
        max_monthly_credit_spend=dollars * 100,
    )


# §9 gives ranges ("Tier 1: concurrency 1-2, 50-200 daily generations") and says values vary per
# model. Guess: video, the dearest modality, gets the bottom of each range (Tier 1: 1 at a time, 50
# a day); image and audio get the top of the daily range and the same concurrency as video.
TIERS: dict[int, Tier] = {
    tier.number: tier
    for tier in (
        _tier(1, concurrency=1, video_daily=50, other_daily=200, dollars=100),
        _tier(2, concurrency=3, video_daily=500, other_daily=1_000, dollars=500),
        _tier(3, concurrency=5, video_daily=1_000, other_daily=2_000, dollars=2_000),
        _tier(4, concurrency=10, video_daily=5_000, other_daily=10_000, dollars=20_000),
        _tier(5, concurrency=20, video_daily=25_000, other_daily=30_000, dollars=100_000),
    )
}

# Without a tier (SimulatorConfig.tier None, the test default) every modality gets the §8 example's
# figures, 2 at a time and 200 a day, and the organisation 100,000 credits a month: generous, so
# that tests which do not ask about limits never meet them.
UNTIERED_LIMITS = KindLimits(max_concurrent_generations=2, max_daily_generations=200)
UNTIERED_MONTHLY_CREDIT_SPEND = 100_000

# [DOC-tiers]: "the maximum number of generations you can create in a 24-hour window"; §9: a rolling
# 24 h window. Every create counts, whatever the task's outcome (a guess: Runway counts "created").
DAILY_WINDOW_SECONDS = 24 * 3600

# [DOC-tiers]: beyond the daily cap, "you'll receive a 429 Too Many Requests response to the task
# creation request"; §6.2: a 429's body is {"error": string}. Runway's wording is unpublished: this
# text is the simulator's, and it names the daily limit so that a client (and a person reading a
# log) can tell it from a rate limit. A client should rather trust GET /v1/organization: the cap is
# reached when the dailyGenerations of a modality's models add up to its maxDailyGenerations.
DAILY_LIMIT_TEXT = (
    "You have reached the maximum number of daily generations ({limit} in 24 hours for {kind} models "
    "such as {model}) at your organization's tier. Try again later or contact support to increase "
    "your limits."
)
# The `rate_limit` fault's body: a throttle that clears within seconds.
RATE_LIMIT_TEXT = "Too many requests. Please slow down."


# ---------------------------------------------------------------------------------------------
# Failure codes (runway-api.md §6.3)

# The `failure` text of each code the simulator is asked to produce; Runway's own words where a
# capture exists (§5's example for SAFETY.INPUT.IMAGE), otherwise the simulator's.
FAILURE_TEXTS = {
    "SAFETY.INPUT.TEXT": "The provided prompt was flagged by content moderation.",
    "SAFETY.INPUT.IMAGE": "The provided image was flagged by content moderation.",
    "SAFETY.OUTPUT.THIRD_PARTY": "The generated output was flagged by content moderation.",
    "INTERNAL.BAD_OUTPUT.CODE01": "The generated output did not pass quality checks. Please try again.",
    "INTERNAL": "An unexpected error occurred.",
    "THIRD_PARTY.UNAVAILABLE": "The model provider is temporarily unavailable. Please try again later.",
    "INPUT_PREPROCESSING.INTERNAL": "An error occurred while processing the inputs. Please try again later.",
    "INPUT_PREPROCESSING.SAFETY.TEXT": "The provided prompt was flagged by content moderation.",
    "ASSET.INVALID": "An input asset could not be used.",
}

# §6.3 (audit of 2026-12-04: a mirror of Runway's task-failure page, runwayml/skills
# rw-api-reference): SAFETY.INPUT.* failures are not refunded, every other failure code is. A
# charged failure costs its estimate (a guess: Runway says only "not refunded").
CHARGED_FAILURE_PREFIX = "SAFETY.INPUT."


def is_charged_failure(code: str) -> bool:
    """Whether Runway keeps the charge of a task that failed with `code`."""
    return code.startswith(CHARGED_FAILURE_PREFIX)


# ---------------------------------------------------------------------------------------------
# Uploads (runway-api.md §7)

# [mirror of DOC-uploads]: "minimum file size 512 bytes"; the simulator's upload target refuses a
# smaller file as S3 refuses one outside a presigned POST's content-length-range (400 EntityTooSmall).
UPLOAD_MIN_BYTES = 512
# §7: "the filename must carry an extension matching the content". POST /v1/uploads refuses a name
# without one (a Zod-style 400; the wording is the simulator's). Whether Runway compares it with the
# content, and where, is unpublished: the simulator does when the runway:// URI is used as an image
# (a 400 naming the field, like any unusable asset). Videos are only checked for a video extension.
UPLOAD_IMAGE_EXTENSIONS = {"jpg": "jpg", "jpeg": "jpg", "png": "png", "webp": "webp"}
UPLOAD_VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "m4v", "webm", "mkv", "avi"})
UPLOAD_AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "aac", "wav", "flac", "ogg"})
# §7: data:image/jpg is accepted (Runway's own example uses it), besides the registered types.
DATA_URI_IMAGE_TYPES = {"image/jpeg": "JPEG", "image/jpg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


# ---------------------------------------------------------------------------------------------
# Output sizes (runway-api.md §11 end)

# Runway has not published video_upscale's 4k geometry (captures exist for 1k and 2k only), and
# RunwayUpscaleModel.output_size is a guess. A size offset (SimulatorConfig.upscale_size_offsets, or
# the `upscale_size_offset` fault) delivers a master that many pixels off it, so that a client's
# tolerance can be tested. Offsets must be even: H.264 in yuv420p needs even sides.
