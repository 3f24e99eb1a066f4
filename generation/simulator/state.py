"""The simulated organisation and its tasks: credits, tier limits, lifecycle, rendering, uploads.

Lifecycle of a task (runway-api.md §5, §9):

    THROTTLED (no free concurrency slot for its kind of model; promoted in submission order)
      -> PENDING (pending_seconds) -> RUNNING (running_seconds, and until its clip is rendered)
      -> SUCCEEDED | FAILED;  DELETE cancels (PENDING/THROTTLED/RUNNING) or deletes (finished),
      and the task is gone afterwards (GET answers 404). The `start_on_delete` fault makes a DELETE
      find a PENDING/THROTTLED task just started (the race between a client's GET and its DELETE).

Limits (runway-api.md §9): concurrency and daily generations belong to a kind of model (video,
image, audio: runway_tables.model_kind) and are shared by all its models. `config.tier` picks
Runway's published limits (runway_tables.TIERS), None the simulator's generous untiered ones;
`configure(limits=...)` changes a kind's. A create beyond the kind's daily cap answers 429 with
runway_tables.DAILY_LIMIT_TEXT; one beyond its concurrency is THROTTLED. The daily window is a
rolling 24 hours of creates; `advance_clock(seconds)` moves the simulator's "now" for that window
alone (tasks keep their own timings), so a test can cross the daily reset without waiting.
GET /v1/organization reports every served model under `tier.models` with its kind's limits, and
under `usage.models` each model used in the window with its own `dailyGenerations` (the SDK: "for
this model"); the cap applies to their sum over the kind (a guess: Runway does not say how shared
limits are reported).

Credits: the estimated cost is taken from the balance when the task is created (a create without
enough credits is refused), kept on success, and given back on failure and on cancelling a task that
had not started RUNNING (runway-api.md section 5: no refund once Runway saw the task RUNNING, none
for deleting a finished task). A failure is refunded unless its code is SAFETY.INPUT.* (runway-api.md
§6.3: those are charged their estimate), or a fault's `charge` or a `[sim:charge]` / `[sim:refund]`
marker says otherwise. Every terminal task reports its `cost`. Guess where Runway is silent: the
final cost always equals the estimate (Runway says the final may be lower). Prices are the tables'
unless `config.prices` (`set_price`) overrides a model's: the estimate and the final cost follow it.
Time is read from a monotonic clock; `tick()` advances every task and runs
both from a background clock thread and before every read, so what a client sees never lags.

Usage (`POST /v1/organization/usage`): the simulator keeps its own book of credits used per UTC
day and model, written where the balance changes, never derived from the app's ledger or catalog.
Runway documents only the report's shape (net credits per day and model, negative after refunds),
so these are guesses: a charge counts on the UTC day the task is created (when its estimated cost
leaves the balance); a refund (failure, or a cancel before RUNNING) counts as a negative amount on
the UTC day it happens, so a task that fails after midnight shows on two days; a day and model
appear in the report once anything was booked for them, even when the net is 0; days with nothing
booked are left out. `adjust_usage` books an amount by hand, to give tests a mismatch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import runway_tables
from .config import ModelLimits, SimulatorConfig, kind_key, limits_for_tier, monthly_spend_for_tier
from .faults import FaultQueue, TaskPlan, strip_markers
from .validation import TaskRequest, VideoFacts, validate_task_body

logger = logging.getLogger(__name__)

PENDING = "PENDING"
THROTTLED = "THROTTLED"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TERMINAL = (SUCCEEDED, FAILED, CANCELLED)
DAY = 24 * 3600
READ_TICK_SECONDS = 0.01


class InsufficientCredits(Exception):
    message = "You do not have enough credits to run this task."


class DailyLimitReached(Exception):
    """A create beyond its kind's daily cap: a 429 whose text says so (runway_tables.DAILY_LIMIT_TEXT)."""

    def __init__(self, model: str, kind: str, limit: int) -> None:
        super().__init__(runway_tables.DAILY_LIMIT_TEXT.format(limit=limit, kind=kind, model=model))


@dataclass
class Task:
    id: str
    request: TaskRequest
    summary: dict[str, Any]
    plan: TaskPlan
    created_at: datetime
    created_clock: float
    estimated_cost: int
    pending_seconds: float
    running_seconds: float
    status: str = PENDING
    slot_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    cost: int | None = None
    failure: str | None = None
    failure_code: str | None = None
    output_path: Path | None = None
    render_state: str = "idle"  # idle | rendering | done | error
    render_error: str | None = None
    deleted_at: float | None = None
    downloads: int = 0
    events: list[tuple[str, float]] = field(default_factory=list)

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def kind(self) -> str:
        return runway_tables.model_kind(self.request.model)

    @property
    def output_extension(self) -> str:
        if self.request.is_image:
            return "png"
        return "mp3" if self.request.is_speech else "mp4"

    @property
    def holds_slot(self) -> bool:
        return self.deleted_at is None and self.status in (PENDING, RUNNING)

    def progress(self, now: float) -> float:
        if self.started_at is None or self.running_seconds <= 0:
            return 0.0
        # Never 1.0 while RUNNING: the clip may still be rendering.
        return round(min(0.99, (now - self.started_at) / self.running_seconds), 2)


@dataclass
class Upload:
    id: str
    filename: str
    uri: str
    signature: str
    expires_clock: float
    path: Path | None = None

    @property
    def key(self) -> str:
        return f"uploads/{self.id}/{self.filename}"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Simulator:
    """The whole simulated Runway account; every public method is thread-safe."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.initial = config.copy()
        self.config = config.copy()
        self.secret = (config.signing_secret or secrets.token_hex(32)).encode()
        self._own_dir = config.output_dir is None
        self.dir = Path(config.output_dir or tempfile.mkdtemp(prefix="runway-simulator-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.faults = FaultQueue()
        self.stopping = threading.Event()
        self._render_slots = threading.BoundedSemaphore(max(1, config.render_workers))
        self._render_threads: set[threading.Thread] = set()
        self._clock_thread: threading.Thread | None = None
        self._generation = 0
        self._clear_state()

    def _clear_state(self) -> None:
        self.balance = self.config.credit_balance
        self.tasks: dict[str, Task] = {}
        self.uploads: dict[str, Upload] = {}
        self.created_log: deque[tuple[float, str]] = deque()
        # Net credits per (UTC day, model): the usage report's own book (see the module docstring).
        self.usage: dict[tuple[date, str], int] = {}
        self.requests: deque[dict[str, Any]] = deque(maxlen=2000)
        self._ticked_at = float("-inf")
        # Seconds added to "now" for the daily window only (advance_clock).
        self.clock_offset = 0.0

    # -- clock ----------------------------------------------------------------------------------

    def start_clock(self, interval: float = 0.05) -> None:
        def run() -> None:
            while not self.stopping.wait(interval):
                try:
                    self.tick()
                except Exception:  # a bug in one tick must not stop the simulated world
                    logger.exception("Simulator tick failed")

        self._clock_thread = threading.Thread(target=run, name="runway-simulator-clock", daemon=True)
        self._clock_thread.start()

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._clock_thread:
            self._clock_thread.join(timeout)
        deadline = time.monotonic() + timeout
        for thread in list(self._render_threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- organisation -----------------------------------------------------------------------------

    def limits_for(self, model: str) -> ModelLimits:
        """The limits of `model`'s kind, shared by every model of that kind."""
        assert self.config.limits is not None
        return self.config.limits.get(runway_tables.model_kind(model)) or ModelLimits(None, None)

    def _window(self, now: float) -> list[tuple[float, str]]:
        """Creates within the rolling daily window ending at `now` (+ the clock offset)."""
        start = now + self.clock_offset - runway_tables.DAILY_WINDOW_SECONDS
        while self.created_log and self.created_log[0][0] <= start:
            self.created_log.popleft()
        return list(self.created_log)

    def daily_generations(self, model: str, now: float) -> int:
        """Creates for `model` in the window (what `usage.models[model].dailyGenerations` says)."""
        return sum(1 for _, m in self._window(now) if m == model)

    def daily_generations_of_kind(self, kind: str, now: float) -> int:
        """Creates for every model of `kind` in the window: what its daily cap counts."""
        return sum(1 for _, m in self._window(now) if runway_tables.model_kind(m) == kind)

    def advance_clock(self, seconds: float) -> float:
        """Move "now" forward by `seconds` for the daily window (a control for tests: a day's
        creates age out at once); returns the total offset."""
        with self.lock:
            self.clock_offset += float(seconds)
            self._tick(time.monotonic())
            return self.clock_offset

    def organization(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            self._tick(now)
            used: dict[str, int] = {}
            for _, model in self._window(now):
                used[model] = used.get(model, 0) + 1
            models: dict[str, Any] = {}
            for model in runway_tables.all_models():
                lim = self.limits_for(model)
                models[model] = {
                    "maxConcurrentGenerations": lim.max_concurrent_generations,
                    "maxDailyGenerations": lim.max_daily_generations,
                }
            return {
                "creditBalance": self.balance,
                "tier": {"maxMonthlyCreditSpend": self.config.max_monthly_credit_spend, "models": models},
                # Runway lists only the models used in the last day.
                "usage": {"models": {m: {"dailyGenerations": n} for m, n in used.items()}},
            }

    # -- prices -----------------------------------------------------------------------------------

    def priced(self, model: str) -> Any:
        """`model`'s table row with any price override (config.prices) applied."""
        table = runway_tables.all_models()[model]
        overrides = self.config.prices.get(model)
        return dataclasses.replace(table, **overrides) if overrides else table

    def _set_prices(self, prices: dict[str, Any]) -> None:
        for model, fields in prices.items():
            table = runway_tables.all_models().get(model)
            if table is None:
                raise ValueError(f"Unknown model {model!r}")
            if not isinstance(fields, dict) or not fields:
                raise ValueError(f"Expected price fields for {model}, e.g. credits_per_second")
            allowed = runway_tables.PRICE_FIELDS[type(table)]
            unknown = set(fields) - allowed
            if unknown:
                raise ValueError(
                    f"{model} has no price field {', '.join(sorted(unknown))}; it has {', '.join(sorted(allowed))}"
                )
            values: dict[str, Any] = {}
            for name, value in fields.items():
                if name == "tenth_credits_per_frame":
                    values[name] = {**table.tenth_credits_per_frame, **{k: int(v) for k, v in value.items()}}
                else:
                    values[name] = int(value)
            # A video model without sound has one price: credits_per_second sets it.
            if isinstance(table, runway_tables.RunwayModel) and not table.has_audio:
                if "credits_per_second" in values:
                    values["credits_per_second_silent"] = values["credits_per_second"]
            self.config.prices[model] = {**self.config.prices.get(model, {}), **values}

    def _book_usage(self, model: str, credits: int, day: date | None = None) -> None:
        key = (day or datetime.now(UTC).date(), model)
        self.usage[key] = self.usage.get(key, 0) + credits

    def usage_report(self, start: date, before: date) -> dict[str, Any]:
        """The body of POST /v1/organization/usage for UTC days in [start, before)."""
        with self.lock:
            self._tick(time.monotonic())
            booked = sorted(
                (day, model, n) for (day, model), n in self.usage.items() if start <= day < before
            )
        results: list[dict[str, Any]] = []
        for day, model, credits in booked:
            if not results or results[-1]["date"] != day.isoformat():
                results.append({"date": day.isoformat(), "usedCredits": []})
            results[-1]["usedCredits"].append({"model": model, "amount": credits})
        return {"results": results, "models": sorted({model for _, model, _ in booked})}

    def adjust_usage(self, day: date, model: str, credits: int) -> int:
        """Book `credits` for `model` on `day` without touching the balance (a control for tests
        of reconciliation); returns the day's new net amount for the model."""
        with self.lock:
            self._book_usage(model, credits, day)
            return self.usage[(day, model)]

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change the tier, limits, prices, balance or timings of the running simulator (control
        endpoint). `tier` comes first: it resets every kind's limits and the monthly spend cap to
        the tier's, and the other changes of the same call apply on top."""
        simple: dict[str, Callable[[Any], Any]] = {
            "credit_balance": int,
            "max_monthly_credit_spend": int,
            "pending_seconds": float,
            "running_seconds": float,
            "url_ttl": float,
            "render_scale": float,
            "video_data_uri_max_chars": int,
        }
        with self.lock:
            if "tier" in changes:
                tier = changes["tier"]
                tier = None if tier is None else int(tier)
                self.config.limits = limits_for_tier(tier)  # raises ValueError for an unknown tier
                self.config.tier = tier
                self.config.max_monthly_credit_spend = monthly_spend_for_tier(tier)
            for key, value in changes.items():
                if key == "tier":
                    continue
                if key in simple:
                    setattr(self.config, key, simple[key](value))
                    if key == "credit_balance":
                        self.balance = int(value)
                elif key == "limits":
                    assert self.config.limits is not None
                    for name, lim in value.items():
                        current = self.config.limits.setdefault(kind_key(name), ModelLimits())
                        for field_name, number in lim.items():
                            if field_name not in ("max_concurrent_generations", "max_daily_generations"):
                                raise ValueError(f"Unknown limit {field_name!r}")
                            setattr(current, field_name, None if number is None else int(number))
                elif key == "prices":
                    self._set_prices(value)
                elif key == "upscale_size_offsets":
                    self.config.upscale_size_offsets = _size_offsets(value)
                else:
                    raise ValueError(f"Unknown setting {key!r}")
            self._tick(time.monotonic())
            return self.describe_config()

    def describe_config(self) -> dict[str, Any]:
        c = self.config
        assert c.limits is not None
        return {
            "tier": c.tier,
            "credit_balance": self.balance,
            "max_monthly_credit_spend": c.max_monthly_credit_spend,
            "pending_seconds": c.pending_seconds,
            "running_seconds": c.running_seconds,
            "url_ttl": c.url_ttl,
            "render_scale": c.render_scale,
            "video_data_uri_max_chars": c.video_data_uri_max_chars,
            "limits": {
                kind: {"max_concurrent_generations": lim.max_concurrent_generations,
                       "max_daily_generations": lim.max_daily_generations}
                for kind, lim in c.limits.items()
            },
            "prices": {model: dict(fields) for model, fields in c.prices.items()},
            "upscale_size_offsets": {res: list(offset) for res, offset in c.upscale_size_offsets.items()},
            "clock_offset": self.clock_offset,
        }  # fmt: skip

    def reset(self) -> None:
        """Forget every task, upload and fault; restore the starting balance, limits and timings."""
        with self.lock:
            self._generation += 1
            for task in self.tasks.values():
                task.deleted_at = task.deleted_at or time.monotonic()
            self.faults.clear()
            self.config = self.initial.copy()
            self._clear_state()
            for child in self.dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    # -- tasks ------------------------------------------------------------------------------------

    def create_task(self, endpoint: str, body: object) -> Task:
        """Validate and accept a task; raises ValidationFailed, AssetRejected, DailyLimitReached or
        InsufficientCredits, in the order Runway checks them."""
        request = validate_task_body(
            endpoint,
            body,
            resolve_upload=self.upload_bytes,
            data_uri_max_chars=self.config.data_uri_max_chars,
            video_data_uri_max_chars=self.config.video_data_uri_max_chars,
            inspect_video=_inspect_video,
        )
        summary = summarize_body(body)
        now = time.monotonic()
        with self.lock:
            self._tick(now)
            cost = self._cost(request)
            kind = runway_tables.model_kind(request.model)
            limit = self.limits_for(request.model).max_daily_generations
            if limit is not None and self.daily_generations_of_kind(kind, now) >= limit:
                raise DailyLimitReached(request.model, kind, limit)
            if self.balance < cost:
                raise InsufficientCredits(InsufficientCredits.message)
            self.balance -= cost
            self._book_usage(request.model, cost)
            # Stamped on the daily window's clock (now + the offset advance_clock has added).
            self.created_log.append((now + self.clock_offset, request.model))
            plan = TaskPlan.from_prompt(request.prompt_text)
            for fault in self.faults.take_all("task"):
                plan.apply(fault)
            if request.upscale is not None:
                for fault in self.faults.take_all("upscale"):
                    plan.apply(fault)
            task = Task(
                id=str(uuid.uuid4()),
                request=request,
                summary=summary,
                plan=plan,
                created_at=datetime.now(UTC),
                created_clock=now,
                estimated_cost=cost,
                pending_seconds=self.config.pending_seconds,
                running_seconds=self.config.running_seconds + plan.extra_seconds,
            )
            if self._has_free_slot(request.model):
                task.slot_at = now
            else:
                task.status = THROTTLED
            task.events.append((task.status, now))
            self.tasks[task.id] = task
            self._tick(now)
            return task

    def _cost(self, request: TaskRequest) -> int:
        """What `request` costs at the simulator's current prices (the tables', or set_price's)."""
        model = self.priced(request.model)
        if request.is_image:
            return model.cost(ratio=request.ratio)
        if request.speech is not None:
            return model.cost(units=request.speech.units)
        if request.upscale is not None:
            upscale = request.upscale
            fps = model.output_fps(upscale.facts.fps, fps_boost=upscale.fps_boost)
            # Billed per output frame: the source's frames, times the boost's rate change.
            frames = round(upscale.facts.frames * fps / upscale.facts.fps) if upscale.facts.fps else 0
            return model.cost(frames=frames, resolution=upscale.resolution)
        return model.cost(duration=request.duration, audio=request.audio)

    def get_task(self, task_id: str) -> Task | None:
        """The task as a client may see it, or None when unknown or deleted."""
        with self.lock:
            now = time.monotonic()
            # A tick walks every task, so a sweep of N reads would cost N x N; state at most
            # READ_TICK_SECONDS old is as fresh as any client can tell (Runway asks for 5 s polls).
            if now - self._ticked_at >= READ_TICK_SECONDS:
                self._tick(now)
            task = self.tasks.get(task_id)
            return None if task is None or task.deleted_at is not None else task

    def delete_task(self, task_id: str) -> bool:
        """DELETE /v1/tasks/{id}: cancel an unfinished task or delete a finished one. Either way the
        task is gone afterwards (GET answers 404), as observed at Runway (runway-api.md section 5),
        unless a `readable_after_delete` fault keeps a cancelled one readable."""
        with self.lock:
            now = time.monotonic()
            self._tick(now)
            task = self.tasks.get(task_id)
            if task is None or task.deleted_at is not None:
                return False
            readable = False
            if task.status not in TERMINAL:
                if task.status in (PENDING, THROTTLED):
                    kinds = {fault.kind for fault in self.faults.take_all("delete")}
                    readable = "readable_after_delete" in kinds
                    if "start_on_delete" in kinds:
                        self._start(task, now, render=False)  # cancelled at once: nothing to render
                self._cancel(task, now)
            if readable:
                self._tick(now)
                return True
            task.deleted_at = now
            if task.output_path:
                task.output_path.unlink(missing_ok=True)
            self._tick(now)
            return True

    def cancel_task(self, task_id: str) -> Task | None:
        """Cancel as if from Runway's dashboard: the task stays readable as CANCELLED."""
        with self.lock:
            now = time.monotonic()
            self._tick(now)
            task = self.tasks.get(task_id)
            if task is None or task.deleted_at is not None:
                return None
            if task.status not in TERMINAL:
                self._cancel(task, now)
            self._tick(now)
            return task

    def _has_free_slot(self, model: str) -> bool:
        """True when a new task for `model` may start PENDING rather than THROTTLED: its kind has a
        free slot (the models of a kind share them)."""
        kind = runway_tables.model_kind(model)
        same_kind = [t for t in self.tasks.values() if t.kind == kind and t.deleted_at is None]
        if any(t.status == THROTTLED for t in same_kind):
            return False  # earlier tasks queue first
        limit = self.limits_for(model).max_concurrent_generations
        return limit is None or sum(1 for t in same_kind if t.holds_slot) < limit

    def _cancel(self, task: Task, now: float) -> None:
        # Runway refunds a cancel unless it had seen the task RUNNING (runway-api.md §5).
        if task.status == RUNNING:
            task.cost = task.estimated_cost
        else:
            task.cost = 0
            self.balance += task.estimated_cost
            self._book_usage(task.model, -task.estimated_cost)
        self._finish(task, CANCELLED, now)

    def _finish(self, task: Task, status: str, now: float) -> None:
        task.status = status
        task.finished_at = now
        task.events.append((status, now))

    def tick(self) -> None:
        with self.lock:
            self._tick(time.monotonic())

    def _tick(self, now: float) -> None:
        self._ticked_at = now
        changed = True
        while changed:
            changed = self._promote_throttled(now)
            for task in self.tasks.values():
                if task.deleted_at is None and task.status not in TERMINAL:
                    changed = self._advance(task, now) or changed

    def _promote_throttled(self, now: float) -> bool:
        changed = False
        active: dict[str, int] = {}
        for task in self.tasks.values():
            if task.holds_slot:
                active[task.kind] = active.get(task.kind, 0) + 1
        # Dicts keep insertion order, so this walks tasks in submission order.
        for task in self.tasks.values():
            if task.deleted_at is not None or task.status != THROTTLED:
                continue
            limit = self.limits_for(task.model).max_concurrent_generations
            if limit is not None and active.get(task.kind, 0) >= limit:
                continue
            active[task.kind] = active.get(task.kind, 0) + 1
            task.status = PENDING
            task.slot_at = now
            task.events.append((PENDING, now))
            changed = True
        return changed

    def _advance(self, task: Task, now: float) -> bool:
        if task.status == PENDING and now - (task.slot_at or now) >= task.pending_seconds:
            self._start(task, now)
            return True
        if task.status == RUNNING and now - (task.started_at or now) >= task.running_seconds:
            if task.plan.failure_code is not None:
                self._fail(task, task.plan.failure_code, task.plan.failure or "", now)
                return True
            if task.render_state == "done":
                task.cost = task.estimated_cost
                self._finish(task, SUCCEEDED, now)
                return True
            if task.render_state == "error":
                self._fail(task, "INTERNAL", "An unexpected error occurred.", now)
                return True
        return False

    def _start(self, task: Task, now: float, *, render: bool = True) -> None:
        if task.status == THROTTLED:
            task.events.append((PENDING, now))  # a throttled task gets its slot on the way
        task.status = RUNNING
        task.slot_at = task.slot_at or now
        task.started_at = now
        task.events.append((RUNNING, now))
        if render and task.plan.failure_code is None:
            self._start_render(task)

    def _fail(self, task: Task, code: str, failure: str, now: float) -> None:
        task.failure_code = code
        task.failure = failure
        # Runway keeps the charge of SAFETY.INPUT.* failures and refunds every other (runway-api.md
        # §6.3); a fault's `charge` or a [sim:charge] / [sim:refund] marker overrides the rule.
        charged = task.plan.charge_on_failure
        if charged is None:
            charged = runway_tables.is_charged_failure(code)
        if charged:
            task.cost = task.estimated_cost
        else:
            task.cost = 0
            self.balance += task.estimated_cost
            self._book_usage(task.model, -task.estimated_cost)
        self._finish(task, FAILED, now)

    # -- rendering --------------------------------------------------------------------------------

    def output_size(self, task: Task) -> tuple[int, int]:
        request = task.request
        if request.speech is not None:
            return 0, 0
        if request.upscale is not None:
            # A master is delivered at the tier's true size whatever render_scale says: its size is
            # what a caller pays for and checks. A size offset (fault or config) moves it off the
            # guess, as Runway's unpublished 4k geometry might (runway_tables, "Output sizes").
            facts = request.upscale.facts
            model = runway_tables.UPSCALE_MODELS[request.model]
            width, height = model.output_size(facts.width, facts.height, request.upscale.resolution)
            long_extra, short_extra = task.plan.size_offset
            if task.plan.size_offset == (0, 0):
                long_extra, short_extra = self.config.upscale_size_offsets.get(
                    request.upscale.resolution, (0, 0)
                )
            if width >= height:
                return width + long_extra, height + short_extra
            return width + short_extra, height + long_extra
        if request.is_image:
            # A still costs milliseconds at full size, and a keyframe must have its ratio's size.
            return request.width, request.height
        scale = self.config.render_scale

        def even(value: float) -> int:
            return max(2, int(round(value * scale / 2)) * 2)

        return even(request.width), even(request.height)

    def _start_render(self, task: Task) -> None:
        task.render_state = "rendering"
        width, height = self.output_size(task)
        thread = threading.Thread(
            target=self._render,
            args=(task, width, height, self._generation),
            name=f"runway-simulator-render-{task.id[:8]}",
            daemon=True,
        )
        self._render_threads.add(thread)
        thread.start()

    def _render(self, task: Task, width: int, height: int, generation: int) -> None:
        work = self.dir / f"work-{task.id}"
        final = self.dir / f"{task.id}.{task.output_extension}"
        error: str | None = None
        try:
            with self._render_slots:
                if self.stopping.is_set():
                    raise RuntimeError("simulator stopping")
                work.mkdir(parents=True, exist_ok=True)
                if task.request.is_image:
                    self._render_image(task, work, final, width, height)
                elif task.request.speech is not None:
                    self._render_speech(task, final)
                elif task.request.upscale is not None:
                    self._render_upscale(task, final, width, height)
                else:
                    self._render_clip(task, work, final, width, height)
        except Exception as exc:
            if generation == self._generation and not self.stopping.is_set():
                logger.exception("Simulator render of task %s failed", task.id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self._render_threads.discard(threading.current_thread())
        with self.lock:
            if generation != self._generation or task.deleted_at is not None:
                final.unlink(missing_ok=True)
                return
            if error:
                task.render_state, task.render_error = "error", error
            else:
                task.render_state, task.output_path = "done", final
            self._tick(time.monotonic())

    def _render_clip(self, task: Task, work: Path, final: Path, width: int, height: int) -> None:
        images: dict[str, Path] = {}
        for keyframe in task.request.keyframes:
            path = work / f"{keyframe.position}.{keyframe.extension}"
            path.write_bytes(keyframe.data)
            images[keyframe.position] = path
        from .render import render_clip  # imported late: only rendering needs ffmpeg

        partial = work / "out.mp4"
        render_clip(
            out=partial,
            width=width,
            height=height,
            duration=task.request.duration,
            fps=24,
            first_image=images.get("first"),
            last_image=images.get("last"),
            text=strip_markers(task.request.prompt_text) or "",
            with_audio=task.request.audio,
        )
        partial.replace(final)

    def _render_speech(self, task: Task, final: Path) -> None:
        from .render import render_speech

        speech = task.request.speech
        assert speech is not None
        seconds = runway_tables.speech_seconds(task.request.prompt_text or "", speed=speech.speed)
        render_speech(out=final, duration=seconds)

    def _render_upscale(self, task: Task, final: Path, width: int, height: int) -> None:
        from .render import render_upscale

        upscale = task.request.upscale
        assert upscale is not None
        model = runway_tables.UPSCALE_MODELS[task.model]
        fps = model.output_fps(upscale.facts.fps, fps_boost=upscale.fps_boost) if upscale.fps_boost else None
        render_upscale(source=upscale.video, out=final, width=width, height=height, fps=fps)

    def _render_image(self, task: Task, work: Path, final: Path, width: int, height: int) -> None:
        from .render import render_image

        references: list[tuple[str | None, Path]] = []
        for number, reference in enumerate(task.request.references):
            path = work / f"reference-{number}.{reference.extension}"
            path.write_bytes(reference.data)
            references.append((reference.tag, path))
        render_image(
            out=final,
            width=width,
            height=height,
            references=references,
            text=strip_markers(task.request.prompt_text) or "",
        )

    # -- uploads ----------------------------------------------------------------------------------

    def create_upload(self, filename: str) -> Upload:
        upload_id = str(uuid.uuid4())
        upload = Upload(
            id=upload_id,
            filename=filename,
            uri=f"runway://uploads/{upload_id}/{quote(filename)}",
            signature=self.sign(f"upload:{upload_id}"),
            expires_clock=time.monotonic() + self.config.upload_ttl,
        )
        with self.lock:
            self.uploads[upload_id] = upload
        return upload

    def complete_upload(self, upload_id: str, data: bytes) -> None:
        with self.lock:
            upload = self.uploads[upload_id]
            path = self.dir / f"upload-{upload_id}"
            path.write_bytes(data)
            upload.path = path

    def upload_bytes(self, uri: str) -> bytes | None:
        with self.lock:
            upload = next((u for u in self.uploads.values() if u.uri == uri), None)
            if upload is None or upload.path is None or upload.expires_clock < time.monotonic():
                return None
            return upload.path.read_bytes()

    # -- signing ----------------------------------------------------------------------------------

    def sign(self, message: str) -> str:
        return hmac.new(self.secret, message.encode(), hashlib.sha256).hexdigest()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    # -- views ------------------------------------------------------------------------------------

    def task_body(self, task: Task, output_urls: list[str]) -> dict[str, Any]:
        """The task exactly as GET /v1/tasks/{id} returns it (runway-api.md §5)."""
        body: dict[str, Any] = {"id": task.id, "createdAt": iso(task.created_at), "status": task.status}
        if task.status in (PENDING, THROTTLED):
            body["estimatedCost"] = {"credits": task.estimated_cost}
        elif task.status == RUNNING:
            body["progress"] = task.progress(time.monotonic())
            body["estimatedCost"] = {"credits": task.estimated_cost}
        elif task.status == SUCCEEDED:
            body["output"] = output_urls
            body["cost"] = {"credits": task.cost}
        elif task.status == FAILED:
            body["failure"] = task.failure
            body["failureCode"] = task.failure_code
            body["cost"] = {"credits": task.cost}
        else:
            body["cost"] = {"credits": task.cost}
        return body

    def task_log(self) -> list[dict[str, Any]]:
        """Every task ever created since the last reset, for tests and the control endpoint."""
        with self.lock:
            self._tick(time.monotonic())
            return [self._log_entry(task) for task in self.tasks.values()]

    def _log_entry(self, task: Task) -> dict[str, Any]:
        def stamp(clock: float | None) -> str | None:
            # Wall-clock times derived from the monotonic clock, so that tasks compare with each other.
            return (
                None
                if clock is None
                else iso(task.created_at + timedelta(seconds=clock - task.created_clock))
            )

        return {
            "id": task.id,
            "endpoint": task.request.endpoint,
            "model": task.model,
            "request": task.summary,
            "status": task.status,
            "deleted": task.deleted_at is not None,
            "createdAt": iso(task.created_at),
            "events": [{"status": status, "at": stamp(clock)} for status, clock in task.events],
            "deletedAt": stamp(task.deleted_at),
            "estimatedCost": task.estimated_cost,
            "cost": task.cost,
            "failureCode": task.failure_code,
            "renderError": task.render_error,
            "outputSize": list(self.output_size(task)),
            "downloads": task.downloads,
        }

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)


def _inspect_video(data: bytes) -> VideoFacts:
    """An input video's facts, read with ffmpeg; ValueError when it is not a video."""
    from generation.media import MediaError

    from .render import inspect_video  # imported late: only video inputs need ffmpeg

    try:
        width, height, fps, frames, duration, has_audio = inspect_video(data)
    except MediaError as exc:
        raise ValueError(str(exc)) from exc
    return VideoFacts(
        width=width, height=height, fps=fps, frames=frames, duration=duration, has_audio=has_audio
    )


def summarize_body(body: object) -> Any:
    """The request body with data URIs replaced by a short description (they run to megabytes)."""
    if isinstance(body, dict):
        return {key: summarize_body(value) for key, value in body.items()}
    if isinstance(body, list):
        return [summarize_body(value) for value in body]
    if isinstance(body, str) and body.startswith("data:") and len(body) > 200:
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        return f"{body[: body.find(',') + 1]}... ({len(body)} chars, sha256 {digest})"
    return body


def _size_offsets(value: object) -> dict[str, tuple[int, int]]:
    """{resolution: [long side, short side]} pixels, each even (H.264 in yuv420p needs even sides)."""
    if not isinstance(value, dict):
        raise ValueError('Expected {"4k": [long_pixels, short_pixels], ...}')
    resolutions = {r for m in runway_tables.UPSCALE_MODELS.values() for r in m.resolutions}
    offsets: dict[str, tuple[int, int]] = {}
    for resolution, pair in value.items():
        if resolution not in resolutions:
            raise ValueError(f"Unknown resolution {resolution!r}")
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"Expected [long_pixels, short_pixels] for {resolution}")
        if any(not isinstance(n, int) or isinstance(n, bool) or n % 2 for n in pair):
            raise ValueError("Size offsets must be even whole numbers of pixels")
        offsets[resolution] = (int(pair[0]), int(pair[1]))
    return offsets
