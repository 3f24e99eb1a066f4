"""Misbehaviour on demand: queued faults for the next N requests, and per-task prompt markers.

A fault is armed through `POST /_simulator/faults` (or `SimulatorControl.fail_next`) and is used up
by the next `count` events of its scope. A prompt may also carry markers such as
`[sim:fail=SAFETY.INPUT.TEXT]`, `[sim:charge]` / `[sim:refund]` (a failure keeps / returns its
charge whatever its code), `[sim:slow=10]`, `[sim:stall]` or `[sim:truncate]`, which act on that
task alone; they are how end-to-end tests make one particular clip misbehave.

Failing a task: `fail_next("fail", code=CODE)` fails the next created task with any Runway failure
code (`moderation` and `bad_output` are the same with other default codes), e.g.
`fail_next("fail", code="THIRD_PARTY.UNAVAILABLE")` or `code="INPUT_PREPROCESSING.INTERNAL"`.
Whether it is refunded follows Runway (runway_tables.is_charged_failure: SAFETY.INPUT.* keeps its
charge, every other code is refunded); `charge=True` / `charge=False` overrides that for one fault.
A failed task fails when it would have finished (after pending_seconds and running_seconds).

Output size: `fail_next("upscale_size_offset", pixels=8, short_pixels=0)` makes the next
video_upscale task deliver its master `pixels` wider on the long side (negative: narrower) and
`short_pixels` on the short side than runway_tables' guessed size; both must be even.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .runway_tables import FAILURE_TEXTS

__all__ = ["FAILURE_TEXTS", "KINDS", "Fault", "FaultQueue", "TaskPlan", "failure_text", "strip_markers"]

# kind -> (scope, default parameters). Scopes: "task" (next created tasks), "api" (next /v1
# requests), "create" (next create requests), "download" (next output downloads), "task_get" (next
# task GETs that carry output URLs), "delete" (next DELETEs of a task not yet RUNNING), "upscale"
# (next created video_upscale tasks).
KINDS: dict[str, tuple[str, dict[str, Any]]] = {
    # `charge`: None follows Runway's rule for the code (SAFETY.INPUT.* charged, others refunded);
    # True keeps the charge (cost = estimate), False refunds it (cost 0), whatever the code.
    "moderation": ("task", {"code": "SAFETY.INPUT.TEXT", "charge": None}),
    "bad_output": ("task", {"code": "INTERNAL.BAD_OUTPUT.CODE01", "charge": None}),
    "fail": ("task", {"code": "INTERNAL", "charge": None}),
    "slow": ("task", {"seconds": 10.0}),
    # `path`: only requests whose path starts with it (e.g. "/v1/image_to_video"); None: any.
    "http_error": ("api", {"status": 500, "path": None}),
    # A 429 that is not the daily cap: {"error": RATE_LIMIT_TEXT}, no task created.
    "rate_limit": ("create", {}),
    # The task is created but the client sees an error: the case that tempts clients to resubmit.
    # 500 or 504 (or a dropped connection): Runway documents 502 and 503 as load shedding, which
    # means the request was not taken, so a "lost" 502/503 would contradict Runway (arm refuses it).
    "lost_response": ("create", {"status": 504}),
    "stall_download": ("download", {"fraction": 0.5, "hold_seconds": 30.0}),
    "truncate_download": ("download", {"fraction": 0.5}),
    "expired_urls": ("task_get", {}),
    # The race between a client's GET (PENDING) and its DELETE, made deterministic: Runway's scheduler
    # starts the task just as the DELETE arrives, so the cancel finds it RUNNING and Runway keeps its
    # charge (runway-api.md section 5). Used up only by a DELETE of a PENDING or THROTTLED task.
    "start_on_delete": ("delete", {}),
    # The task a DELETE cancels stays readable as CANCELLED with its cost, as Runway's schema allows;
    # Runway itself has been observed to answer 404 after a DELETE, which is what happens without it.
    "readable_after_delete": ("delete", {}),
    # The next video_upscale tasks deliver a master off the guessed size (runway_tables, "Output
    # sizes"): `pixels` on the long side, `short_pixels` on the short one, each even, may be negative.
    "upscale_size_offset": ("upscale", {"pixels": 8, "short_pixels": 0}),
}

MARKER_RE = re.compile(r"\[sim:([a-z_]+)(?:=([^\]]*))?\]")


def failure_text(code: str) -> str:
    return FAILURE_TEXTS.get(code, f"The task failed ({code}).")


@dataclass
class Fault:
    kind: str
    remaining: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        return KINDS[self.kind][0]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "remaining": self.remaining, **self.params}


class FaultQueue:
    """Armed faults, consumed in the order they were armed, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def arm(self, kind: str, count: int = 1, **params: Any) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"Unknown fault kind {kind!r}; known: {', '.join(sorted(KINDS))}")
        if count < 1:
            raise ValueError("count must be at least 1")
        defaults = KINDS[kind][1]
        unknown = set(params) - set(defaults) - {"failure"}
        if unknown:
            raise ValueError(f"Unknown parameters for {kind}: {', '.join(sorted(unknown))}")
        if kind == "upscale_size_offset":
            for name in ("pixels", "short_pixels"):
                value = params.get(name, defaults[name])
                if not isinstance(value, int) or isinstance(value, bool) or value % 2:
                    raise ValueError(
                        f"{name} must be an even whole number of pixels (H.264 needs even sides)"
                    )
        if kind == "lost_response" and int(params.get("status", defaults["status"])) in (502, 503):
            raise ValueError(
                "Runway documents 502 and 503 as load shedding (the task is not created); "
                "use http_error for those, and 500 or 504 for a lost response."
            )
        fault = Fault(kind=kind, remaining=count, params={**defaults, **params})
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, scope: str, *, path: str | None = None) -> Fault | None:
        """Use up one occurrence of the oldest armed fault of `scope` (with `path`, only one whose
        own `path` parameter is unset or a prefix of it)."""
        with self._lock:
            for fault in self._faults:
                wanted = fault.params.get("path")
                if wanted and (path is None or not path.startswith(str(wanted))):
                    continue
                if fault.scope == scope and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return Fault(kind=fault.kind, remaining=0, params=dict(fault.params))
        return None

    def take_all(self, scope: str) -> list[Fault]:
        """Use up one occurrence of every armed fault of `scope` (a task may be slow and fail)."""
        taken: list[Fault] = []
        while True:
            with self._lock:
                candidates = [f for f in self._faults if f.scope == scope and f.remaining > 0]
                kinds = {f.kind for f in taken}
                fault = next((f for f in candidates if f.kind not in kinds), None)
                if fault is None:
                    return taken
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                taken.append(Fault(kind=fault.kind, remaining=0, params=dict(fault.params)))

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


@dataclass
class TaskPlan:
    """How one task will misbehave, from armed faults and its prompt markers."""

    failure_code: str | None = None
    failure: str | None = None
    # None: Runway's rule for the code (runway_tables.is_charged_failure); True / False: override.
    charge_on_failure: bool | None = None
    extra_seconds: float = 0.0
    download_fault: Fault | None = None
    # (long side, short side) pixels added to a video_upscale output's guessed size.
    size_offset: tuple[int, int] = (0, 0)

    def apply(self, fault: Fault) -> None:
        if fault.kind in ("moderation", "bad_output", "fail"):
            self.failure_code = str(fault.params["code"])
            self.failure = str(fault.params.get("failure") or failure_text(self.failure_code))
            charge = fault.params.get("charge")
            self.charge_on_failure = None if charge is None else bool(charge)
        elif fault.kind == "slow":
            self.extra_seconds += float(fault.params["seconds"])
        elif fault.kind == "upscale_size_offset":
            self.size_offset = (int(fault.params["pixels"]), int(fault.params["short_pixels"]))

    @classmethod
    def from_prompt(cls, prompt: str | None) -> TaskPlan:
        plan = cls()
        for name, value in MARKER_RE.findall(prompt or ""):
            if name in ("slow", "stall") and value and not _is_number(value):
                continue
            if name == "fail" and value:
                plan.failure_code = value
                plan.failure = failure_text(value)
            elif name == "charge":
                plan.charge_on_failure = True
            elif name == "refund":
                plan.charge_on_failure = False
            elif name == "slow":
                plan.extra_seconds += float(value or 10)
            elif name == "stall":
                plan.download_fault = Fault("stall_download", 0, dict(KINDS["stall_download"][1]))
                if value:
                    plan.download_fault.params["hold_seconds"] = float(value)
            elif name == "truncate":
                plan.download_fault = Fault("truncate_download", 0, dict(KINDS["truncate_download"][1]))
        return plan


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def strip_markers(prompt: str | None) -> str | None:
    if prompt is None:
        return None
    return MARKER_RE.sub("", prompt).strip() or None
