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
        `fail_next("moderation", code="SAFETY.INPUT.IMAGE")`, `fail_next("http_error", 2, status=503)`,
        `fail_next("slow", seconds=5)`, `fail_next("truncate_download", fraction=0.3)`,
        `fail_next("start_on_delete")` (the next cancelled PENDING task had just started RUNNING).
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
        """Forget tasks, uploads and faults; restore the starting balance, limits and timings."""
        self._call("POST", "/_simulator/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change credit_balance, max_monthly_credit_spend, pending_seconds, running_seconds,
        url_ttl, render_scale, video_data_uri_max_chars (the longest data:video/ URI accepted) or
        limits={model: {max_concurrent_generations, max_daily_generations}}."""
        return self._call("POST", "/_simulator/config", settings)

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
