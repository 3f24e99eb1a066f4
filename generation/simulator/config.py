"""Configuration of the Runway simulator: organisation, tier, limits, prices, timings, output URLs."""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import runway_tables

SIMULATED_MODELS = tuple(runway_tables.all_models())


@dataclass
class ModelLimits:
    """One modality's limits (video, image or audio), shared by all its models, as GET
    /v1/organization reports them for each of those models (None = no limit)."""

    max_concurrent_generations: int | None = runway_tables.UNTIERED_LIMITS.max_concurrent_generations
    max_daily_generations: int | None = runway_tables.UNTIERED_LIMITS.max_daily_generations


def limits_for_tier(tier: int | None) -> dict[str, ModelLimits]:
    """Each kind's limits at Runway's tier `tier` (runway_tables.TIERS), or the simulator's generous
    untiered limits for None."""
    if tier is None:
        return {kind: ModelLimits() for kind in runway_tables.KINDS}
    if tier not in runway_tables.TIERS:
        raise ValueError(
            f"Unknown tier {tier!r}; Runway has tiers {', '.join(map(str, runway_tables.TIERS))}"
        )
    return {
        kind: ModelLimits(lim.max_concurrent_generations, lim.max_daily_generations)
        for kind, lim in runway_tables.TIERS[tier].limits.items()
    }


def monthly_spend_for_tier(tier: int | None) -> int:
    if tier is None:
        return runway_tables.UNTIERED_MONTHLY_CREDIT_SPEND
    return runway_tables.TIERS[tier].max_monthly_credit_spend


@dataclass
class SimulatorConfig:
    """Everything a simulator instance is started with; `reset()` returns to these values.

    `api_key` None accepts any key of Runway's shape (`key_` + 128 hex); a value accepts only it.
    `control_token` guards the /_simulator/* endpoints (reset, faults, configuration, the task log)
    and is never an API key: None makes a random one, so that nothing that can merely call the API
    (or a web page posting to loopback) can reset the simulator or arm its faults.

    `tier` is one of Runway's usage tiers (1-5, runway_tables.TIERS), or None for the simulator's
    generous untiered limits (2 at a time and 200 a day per kind: what tests get unless they ask).
    `limits` (per kind: "video", "image", "audio") and `max_monthly_credit_spend` default to the
    tier's; given, they replace them. `prices` overrides a model's price fields, e.g.
    `{"gen4_turbo": {"credits_per_second": 8}}` (runway_tables.PRICE_FIELDS); the tables stay as
    Runway publishes them. `upscale_size_offsets` maps a video_upscale resolution to (long side,
    short side) pixels added to every master of that resolution, e.g. `{"4k": (8, 0)}`.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_key: str | None = None
    control_token: str | None = None

    tier: int | None = None
    credit_balance: int = 100_000
    max_monthly_credit_spend: int | None = None
    limits: dict[str, ModelLimits] | None = None
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)

    # A task waits pending_seconds before it runs, then runs running_seconds (and at least until
    # its clip is rendered). Real Runway takes 30-120 s per clip.
    pending_seconds: float = 3.0
    running_seconds: float = 20.0

    # Output clips are rendered at ratio size x render_scale (1.0 = the size Runway would deliver).
    render_scale: float = 1.0
    render_workers: int = 2
    output_dir: Path | None = None
    upscale_size_offsets: dict[str, tuple[int, int]] = field(default_factory=dict)

    url_ttl: float = 24 * 3600
    upload_ttl: float = 24 * 3600
    signing_secret: str | None = None

    data_uri_max_chars: int = runway_tables.DATA_URI_MAX_CHARS
    video_data_uri_max_chars: int = runway_tables.VIDEO_DATA_URI_MAX_CHARS
    upload_min_bytes: int = runway_tables.UPLOAD_MIN_BYTES
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
        tiered = limits_for_tier(self.tier)
        if self.limits is None:
            self.limits = tiered
        else:
            self.limits = {**tiered, **{kind_key(key): lim for key, lim in self.limits.items()}}
        if self.max_monthly_credit_spend is None:
            self.max_monthly_credit_spend = monthly_spend_for_tier(self.tier)

    def copy(self) -> SimulatorConfig:
        assert self.limits is not None
        return dataclasses.replace(
            self,
            limits={kind: dataclasses.replace(lim) for kind, lim in self.limits.items()},
            prices={model: dict(fields) for model, fields in self.prices.items()},
            upscale_size_offsets=dict(self.upscale_size_offsets),
        )


def kind_key(key: str) -> str:
    """A limits key: a kind, or a model id standing for its kind (limits are shared by kind)."""
    if key in runway_tables.KINDS:
        return key
    if key in runway_tables.all_models():
        return runway_tables.model_kind(key)
    raise ValueError(f"Unknown kind or model {key!r}; kinds: {', '.join(runway_tables.KINDS)}")
