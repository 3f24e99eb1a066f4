"""A small client for the simulator's control endpoints (used by tests, benches and scripts)."""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any

import requests

from .validation import API_VERSION


class SimulatorControl:
    """Drives a running simulator over HTTP: arm faults, read the task log, reset, configure.

    Works for an in-process `SimulatorServer` (pass `server.config.control_token`) and for one
    started with `manage.py runway_simulator` (the token it was given or printed at start; without
    one here, RUNWAY_SIMULATOR_CONTROL_TOKEN). The API key only calls Runway's own routes.
    """

    def __init__(self, base_url: str, api_key: str, control_token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.control_token = control_token or os.environ.get("RUNWAY_SIMULATOR_CONTROL_TOKEN", "")
        self._session = requests.Session()
        self._session.headers.update(self.control_headers)

    @property
    def control_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.control_token}"} if self.control_token else {}

    def _call(self, method: str, path: str, json: object | None = None) -> Any:
        response = self._session.request(method, f"{self.base_url}{path}", json=json, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def fail_next(self, kind: str, count: int = 1, **params: Any) -> dict[str, Any]:
        """Arm a fault for the next `count` events of its kind (see generation.simulator.faults.KINDS):
        `fail_next("moderation", code="SAFETY.INPUT.IMAGE")` (charged, as Runway charges SAFETY.INPUT.*),
        `fail_next("fail", code="THIRD_PARTY.UNAVAILABLE")` (any failure code; refunded unless
        SAFETY.INPUT.*; `charge=True/False` overrides), `fail_next("http_error", 2, status=503)`
        (`path="/v1/image_to_video"`: only requests to that path),
        `fail_next("slow", seconds=5)`, `fail_next("truncate_download", fraction=0.3)`,
        `fail_next("start_on_delete")` (the next cancelled PENDING task had just started RUNNING),
        `fail_next("upscale_size_offset", pixels=8, short_pixels=0)` (the next video_upscale master
        comes back that many pixels off the guessed size), `fail_next("rate_limit")` (a 429 that is
        not the daily cap).
        """
        return self._call("POST", "/_simulator/faults", {"kind": kind, "count": count, **params})

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_simulator/faults")["faults"]

    def tasks(self) -> list[dict[str, Any]]:
        """Every task created since the last reset, with its request body (data URIs shortened)."""
        return self._call("GET", "/_simulator/tasks")["tasks"]

    def requests_log(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_simulator/requests")["requests"]

    def reset(self) -> None:
        """Forget tasks, uploads and faults; restore the starting tier, balance, limits, prices,
        timings and clock."""
        self._call("POST", "/_simulator/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change tier (1-5 or None; first, then the rest on top), credit_balance,
        max_monthly_credit_spend, pending_seconds, running_seconds, url_ttl, render_scale,
        video_data_uri_max_chars (the longest data:video/ URI accepted),
        limits={kind or model: {max_concurrent_generations, max_daily_generations}} (a model id
        stands for its kind: limits are shared by "video", "image" and "audio"),
        prices={model: {field: credits}} or upscale_size_offsets={"4k": [long_px, short_px]}.
        Returns the whole configuration (GET /_simulator/config)."""
        return self._call("POST", "/_simulator/config", settings)

    def config(self) -> dict[str, Any]:
        return self._call("GET", "/_simulator/config")

    def set_tier(self, tier: int | None) -> dict[str, Any]:
        """Give the organisation Runway's tier `tier` (1-5: runway_tables.TIERS; Tier 1 runs one
        video at a time and 50 a day, 10,000 credits a month), or None for the generous untiered
        limits tests start with. Changes limits and maxMonthlyCreditSpend, never the balance."""
        return self.configure(tier=tier)

    def set_price(self, model: str, **prices: int | dict[str, int]) -> dict[str, Any]:
        """Raise (or lower) a model's price in the simulator only: `set_price("gen4_turbo",
        credits_per_second=8)`; the next creates' estimatedCost and their final cost follow it.
        Fields per table (runway_tables.PRICE_FIELDS): video credits_per_second and
        credits_per_second_silent (one price for a model without sound), image credits_720p and
        credits_1080p, speech characters_per_credit and min_credits, upscale
        tenth_credits_per_frame={"4k": 12} and min_credits. Tasks already created keep their price."""
        return self.configure(prices={model: prices})

    def advance_clock(self, seconds: float) -> float:
        """Move the simulator's "now" forward by `seconds` for the rolling 24 h daily window only
        (tasks keep their timings); returns the total offset."""
        return self._call("POST", "/_simulator/advance_clock", {"seconds": seconds})["clock_offset"]

    def advance_day(self) -> float:
        """Cross the daily reset: every create so far leaves the daily window."""
        return self.advance_clock(24 * 3600)

    def adjust_usage(self, day: date | str, model: str, amount: int) -> dict[str, Any]:
        """Book `amount` credits for `model` on the UTC `day` in the usage report, leaving the balance
        alone: a mismatch between Runway's report and the app's ledger, for reconciliation tests."""
        day_text = day.isoformat() if isinstance(day, date) else day
        return self._call(
            "POST", "/_simulator/usage_adjust", {"date": day_text, "model": model, "amount": amount}
        )

    def cancel(self, task_id: str) -> dict[str, Any]:
        """Cancel a task server-side (as from Runway's dashboard); it stays readable as CANCELLED."""
        return self._call("POST", f"/_simulator/tasks/{task_id}/cancel")

    # -- conveniences over the public API --------------------------------------------------------

    @property
    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    def get_task(self, task_id: str) -> requests.Response:
        return requests.get(f"{self.base_url}/v1/tasks/{task_id}", headers=self.api_headers, timeout=10)

    def wait_for_status(self, task_id: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        """Poll the task until its status is one of `statuses` (or it is terminal); return it."""
        wanted = set(statuses) or {"SUCCEEDED", "FAILED", "CANCELLED"}
        deadline = time.monotonic() + timeout
        while True:
            body = self.get_task(task_id).json()
            if body.get("status") in wanted:
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(f"Task {task_id} still {body.get('status')} after {timeout} s")
            time.sleep(0.05)
