"""Configuration of the Runway simulator: organisation, limits, timings, output URLs."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from . import runway_tables

SIMULATED_MODELS = (
    *runway_tables.MODELS,
    *runway_tables.IMAGE_MODELS,
    *runway_tables.SPEECH_MODELS,
    *runway_tables.UPSCALE_MODELS,
)


@dataclass
class ModelLimits:
    """One model's tier limits, as GET /v1/organization reports them (None = no limit)."""

    max_concurrent_generations: int | None = 2
    max_daily_generations: int | None = 200


def _default_limits() -> dict[str, ModelLimits]:
    return {
        model.id: ModelLimits(model.max_concurrent_generations, model.max_daily_generations)
        for model in (
            *runway_tables.MODELS.values(),
            *runway_tables.IMAGE_MODELS.values(),
            *runway_tables.SPEECH_MODELS.values(),
            *runway_tables.UPSCALE_MODELS.values(),
        )
    }


@dataclass
class SimulatorConfig:
    """Everything a simulator instance is started with; `reset()` returns to these values.

    `api_key` None accepts any key of Runway's shape (`key_` + 128 hex); a value accepts only it.
    `control_token` guards the /_simulator/* endpoints (reset, faults, configuration, the task log)
    and is never an API key: None makes a random one, so that nothing that can merely call the API
    (or a web page posting to loopback) can reset the simulator or arm its faults.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None
    control_token: str | None = None

    credit_balance: int = 100_000
    max_monthly_credit_spend: int = 100_000
    limits: dict[str, ModelLimits] = field(default_factory=_default_limits)

    # A task waits pending_seconds before it runs, then runs running_seconds (and at least until
    # its clip is rendered). Real Runway takes 30-120 s per clip.
    pending_seconds: float = 3.0
    running_seconds: float = 20.0

    # Output clips are rendered at ratio size x render_scale (1.0 = the size Runway would deliver).
    render_scale: float = 1.0
    render_workers: int = 2
    output_dir: Path | None = None

    url_ttl: float = 24 * 3600
    upload_ttl: float = 24 * 3600
    signing_secret: str | None = None

    data_uri_max_chars: int = runway_tables.DATA_URI_MAX_CHARS
    video_data_uri_max_chars: int = runway_tables.VIDEO_DATA_URI_MAX_CHARS
    upload_max_bytes: int = 200 * 1024 * 1024
    json_body_max_bytes: int = 32 * 1024 * 1024

    @classmethod
    def fast(cls, **overrides: object) -> SimulatorConfig:
        """Timings under which every task finishes within a few seconds."""
        values: dict[str, object] = {"pending_seconds": 0.5, "running_seconds": 2.0}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if not self.control_token:
            self.control_token = secrets.token_urlsafe(32)

    def copy(self) -> SimulatorConfig:
        return dataclasses.replace(
            self, limits={model: dataclasses.replace(lim) for model, lim in self.limits.items()}
        )
