"""The one table of Runway video models: endpoints, inputs, durations, ratios and prices.

Facts come from ../shared/runway-api.md (Runway's SDK 5.24.0 and OpenAPI schema). Prices are
credits per output second (1 credit = $0.01); a task's own `estimatedCost` / `cost` from Runway
is the authority when present, these numbers are for estimates before submitting.
"""

from __future__ import annotations

from dataclasses import dataclass

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
