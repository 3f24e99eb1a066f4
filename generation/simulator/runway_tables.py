"""Runway's published facts about the video models the simulator serves: the simulator's own copy.

Written from shared/runway-api.md, never imported from generation.catalog: the simulator is the
oracle the catalog is tested against (tests/test_catalog_matches_simulator.py), so a wrong price or
ratio has to be written twice, once here and once in the catalog, before a test can pass with it.
"""

from __future__ import annotations

import dataclasses
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
    # §9 tier 1 gives concurrency 1-2 and 50-200 daily generations per model; the simulator starts
    # every model at the top of both ranges (the §8 example's gen4_turbo figures).
    max_concurrent_generations: int = 2
    max_daily_generations: int = 200

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
    max_concurrent_generations: int = 2
    max_daily_generations: int = 200

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
