"""The one HTTP client for Runway's developer API (and the CDN that serves its outputs).

No other module calls Runway. Facts about the wire protocol come from ../shared/runway-api.md:
version header, error bodies, task shapes, the two-step ephemeral upload, and the retry policy of
Runway's own SDK (retry connection errors, timeouts, 408/409/429/5xx with capped exponential
backoff and jitter, honouring Retry-After up to 60 s), which this client mirrors.

Settings (RUNWAY_API_BASE, RUNWAY_API_KEY, RUNWAY_CONNECT_TIMEOUT, RUNWAY_READ_TIMEOUT,
RUNWAY_MAX_RETRIES) are read at call time unless given to the constructor, so the same client
serves the real API and the simulator and tests can override settings. Everyone else gets a client
from `client_from_settings()`; a command line that runs a simulator of its own says so with
`connected_to()`, and everything it runs then talks to that simulator.

The API key is a secret: it is sent only in the Authorization header of API calls (never to the
upload or download hosts) and is scrubbed from every message this module builds.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import datetime as dt
import email.utils
import enum
import hashlib
import logging
import math
import mimetypes
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, BinaryIO
from urllib.parse import quote, urlsplit

import requests
import urllib3
from django.conf import settings

from generation import catalog

logger = logging.getLogger(__name__)

RUNWAY_VERSION = "2024-11-06"
# Task-creating endpoints; every one answers {id, estimatedCost} and makes a task read the same way.
# A task's `output` holds URLs whatever it made: an MP4 clip or master, a PNG still, or the speech
# audio of text_to_speech (MP3 from Runway's ElevenLabs voices); download_output streams any of them.
ENDPOINTS = (
    catalog.IMAGE_TO_VIDEO,
    catalog.TEXT_TO_VIDEO,
    catalog.TEXT_TO_IMAGE,
    catalog.TEXT_TO_SPEECH,
    catalog.VIDEO_UPSCALE,
)


class TaskStatus(enum.StrEnum):
    """A task's `status` as Runway writes it (runway-api.md section 6). A task may report one not
    listed here; `TaskState.status` keeps whatever it said, and compares equal to these."""

    PENDING = "PENDING"
    THROTTLED = "THROTTLED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


FINAL_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})
# Runway's statuses of a task still under way, and the take status each is shown as.
IN_FLIGHT_STATUSES = {
    TaskStatus.PENDING: "pending",
    TaskStatus.THROTTLED: "throttled",
    TaskStatus.RUNNING: "running",
}
# The longest window POST /v1/organization/usage accepts.
USAGE_MAX_DAYS = 90

# Backoff as Runway's SDK does it: min(0.5 * 2^n, 8) seconds, times a jitter factor in 0.75-1.0.
BACKOFF_BASE = 0.5
BACKOFF_MAX = 8.0
# A server-requested wait is honoured only when it is positive and at most this long; a longer one
# (e.g. a daily quota) would block a worker for nothing, so the ordinary backoff is used instead.
RETRY_AFTER_MAX = 60.0
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Runway has no idempotency key, so a create is resent only when Runway certainly did not act on it:
# 408 (it never read the request) and 429 (it refused before creating). After a 5xx, a 409 or a read
# timeout the task may exist, and a blind resend could create, and charge for, a second one.
CREATE_RETRY_STATUSES = frozenset({408, 429})


_KEY_PATTERN = re.compile(r"key_[0-9A-Za-z]{8,}")


# --- errors -----------------------------------------------------------------------------------


class RunwayError(Exception):
    """A Runway call failed. `retryable` says whether trying the same call later may succeed."""

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        maybe_created: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable
        # True when a create failed in a way that leaves open whether Runway made the task.
        self.maybe_created = maybe_created

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, retryable={self.retryable!r})"
        )


class RunwayAuthError(RunwayError):
    """The API key was rejected (401) or is not allowed to do this (403)."""


class RunwayCreditsError(RunwayError):
    """The Runway organisation has run out of credits (distinct from a user's budget here)."""


class RunwayValidationError(RunwayError):
    """Runway rejected the request body; `issues` holds Runway's per-field complaints."""

    def __init__(
        self,
        message: str,
        *,
        issues: list[dict[str, Any]] | None = None,
        status: int | None = 400,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, status=status, retryable=retryable)
        self.issues = issues or []


class RunwayTaskNotFound(RunwayError):
    """Runway has no such task: deleted, cancelled, or never created with this key's organisation."""


class RunwayRateLimited(RunwayError):
    """Runway kept answering 429 (a rate limit) after all retries."""

    default_retryable = True


class RunwayDailyLimit(RunwayRateLimited):
    """Runway answered 429 because the organisation's daily generations for this kind of model are
    used up (runway-api.md section 9): back-off does not help, only the rolling 24 h window does.
    Never resent at once."""


class RunwayUnavailable(RunwayError):
    """Runway could not be reached or kept failing (5xx, timeouts) after all retries."""

    default_retryable = True


class RunwayDownloadError(RunwayError):
    """An output could not be downloaded completely. Re-GET the task for a fresh URL and try again."""

    default_retryable = True


def origin_of(base_url: str, api_key: str) -> str:
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{base_url.rstrip('/')}#{digest}"


def origin_base(origin: str) -> str:
    """The API base of an origin, for messages (the fingerprint means nothing to a person)."""
    return origin.split("#", 1)[0]


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedTask:
    id: str
    estimated_credits: int | None


@dataclass(frozen=True)
class TaskState:
    id: str
    status: str  # a TaskStatus, or a status Runway added since
    progress: float | None
    output: list[str]
    failure: str | None
    failure_code: str | None
    cost_credits: int | None
    estimated_credits: int | None
    created_at: str | None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskState:
        """Parse a task object; tolerant of missing cost fields, extra fields and unknown statuses."""
        if not isinstance(data, Mapping) or not data.get("id") or not data.get("status"):
            raise RunwayError("Runway returned a task without an id or status.", retryable=True)
        output = data.get("output")
        progress = data.get("progress")
        return cls(
            id=str(data["id"]),
            status=str(data["status"]),
            progress=float(progress) if _is_number(progress) else None,
            output=[u for u in output if isinstance(u, str)] if isinstance(output, list) else [],
            failure=_str_or_none(data.get("failure")),
            failure_code=_str_or_none(data.get("failureCode")),
            cost_credits=_credits(data.get("cost")),
            estimated_credits=_credits(data.get("estimatedCost")),
            created_at=_str_or_none(data.get("createdAt")),
        )


@dataclass(frozen=True)
class ModelLimits:
    max_concurrent: int | None  # None: Runway states no limit
    max_daily: int | None
    daily_generations: int


@dataclass(frozen=True)
class Organization:
    credit_balance: int
    max_monthly_credit_spend: int | None
    models: dict[str, ModelLimits]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Organization:
        if not isinstance(data, Mapping) or not _is_number(data.get("creditBalance")):
            raise RunwayError("Runway returned an organization without a credit balance.", retryable=True)
        tier = data.get("tier") if isinstance(data.get("tier"), Mapping) else {}
        usage = data.get("usage") if isinstance(data.get("usage"), Mapping) else {}
        tier_models = tier.get("models") if isinstance(tier.get("models"), Mapping) else {}
        usage_models = usage.get("models") if isinstance(usage.get("models"), Mapping) else {}
        models: dict[str, ModelLimits] = {}
        for name in [*tier_models, *(m for m in usage_models if m not in tier_models)]:
            limits = tier_models.get(name) if isinstance(tier_models.get(name), Mapping) else {}
            used = usage_models.get(name) if isinstance(usage_models.get(name), Mapping) else {}
            models[str(name)] = ModelLimits(
                max_concurrent=_int_or_none(limits.get("maxConcurrentGenerations")),
                max_daily=_int_or_none(limits.get("maxDailyGenerations")),
                daily_generations=_int_or_none(used.get("dailyGenerations")) or 0,
            )
        return cls(
            credit_balance=int(data["creditBalance"]),
            max_monthly_credit_spend=_int_or_none(tier.get("maxMonthlyCreditSpend")),
            models=models,
        )


@dataclass(frozen=True)
class UsedCredits:
    """Credits one model used on one UTC day, net of refunds (negative when refunds exceeded charges)."""

    day: dt.date
    model: str
    credits: int


@dataclass(frozen=True)
class OrganizationUsage:
    """Runway's usage report (`POST /v1/organization/usage`) for [start_date, before_date)."""

    start_date: dt.date
    before_date: dt.date
    used: tuple[UsedCredits, ...]
    models: tuple[str, ...]

    def by_day_and_model(self) -> dict[tuple[dt.date, str], int]:
        totals: dict[tuple[dt.date, str], int] = {}
        for line in self.used:
            totals[(line.day, line.model)] = totals.get((line.day, line.model), 0) + line.credits
        return totals

    @classmethod
    def from_json(
        cls, data: Mapping[str, Any], *, start_date: dt.date, before_date: dt.date
    ) -> OrganizationUsage:
        """Parse the report; extra fields (`apiKeys`, `resultsByApiKey`, new ones) are ignored.

        An entry without a date, model or amount raises: a usage figure silently dropped would
        look like money nobody spent.
        """
        results = data.get("results") if isinstance(data, Mapping) else None
        if not isinstance(results, list):
            raise RunwayError("Runway returned a usage report without results.", retryable=True)
        used: list[UsedCredits] = []
        for result in results:
            day = _date_or_none(result.get("date")) if isinstance(result, Mapping) else None
            lines = result.get("usedCredits") if isinstance(result, Mapping) else None
            if day is None or not isinstance(lines, list):
                raise RunwayError(
                    "Runway's usage report has a day without a date or credits.", retryable=False
                )
            for line in lines:
                model = line.get("model") if isinstance(line, Mapping) else None
                amount = line.get("amount") if isinstance(line, Mapping) else None
                if not isinstance(model, str) or not model or not _is_number(amount):
                    raise RunwayError(
                        f"Runway's usage report for {day} has an entry without a model or amount.",
                        retryable=False,
                    )
                # Typed as an integer; were it ever fractional, round up as task costs are.
                used.append(UsedCredits(day=day, model=model, credits=math.ceil(amount)))
        models = data.get("models")
        return cls(
            start_date=start_date,
            before_date=before_date,
            used=tuple(used),
            models=tuple(m for m in models if isinstance(m, str)) if isinstance(models, list) else (),
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int_or_none(value: Any) -> int | None:
    return int(value) if _is_number(value) else None


def _date_or_none(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _credits(cost: Any) -> int | None:
    # Runway types credits as "number"; round up so that an estimate is never below the real hold.
    if isinstance(cost, Mapping) and _is_number(cost.get("credits")):
        return math.ceil(cost["credits"])
    return None


# --- the client -------------------------------------------------------------------------------


class RunwayClient:
    """Runway's API over `requests`, with retries, timeouts and typed errors.

    Every method either returns parsed data or raises a `RunwayError` subclass; `requests`
    exceptions never escape. Reads, cancels, uploads and downloads are idempotent and retried on
    every transient failure. Creates are not idempotent at Runway, so unlike Runway's SDK this
    client resends one only when Runway certainly did not create the task; otherwise it raises
    with `maybe_created=True` and leaves the decision to the caller.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        max_retries: int | None = None,
        session: requests.Session | None = None,
        backoff_base: float = BACKOFF_BASE,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._base_url = base_url
        self._api_key = api_key
        self._max_retries = max_retries
        self._session = session or requests.Session()
        self.backoff_base = backoff_base
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"RunwayClient(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return (self._base_url or settings.RUNWAY_API_BASE).rstrip("/")

    @property
    def max_retries(self) -> int:
        return max(0, self._max_retries if self._max_retries is not None else settings.RUNWAY_MAX_RETRIES)

    def _key(self) -> str:
        return self._api_key if self._api_key is not None else settings.RUNWAY_API_KEY

    @property
    def origin(self) -> str:
        """Which Runway this client talks to: the API base and a fingerprint of the key (a one-way
        digest, so rows can say where their task lives without holding anything secret)."""
        return origin_of(self.base_url, self._key())

    # -- API calls --

    def create_task(self, endpoint: str, body: dict) -> CreatedTask:
        """Start a generation task at POST /v1/<endpoint>; returns its id and Runway's maximum cost."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"Unknown Runway endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}.")
        data = self._api("POST", f"/v1/{endpoint}", json=body, idempotent=False)
        if not isinstance(data, Mapping) or not data.get("id"):
            raise RunwayError("Runway accepted the task but its answer had no task id.", retryable=False)
        return CreatedTask(id=str(data["id"]), estimated_credits=_credits(data.get("estimatedCost")))

    def get_task(self, task_id: str) -> TaskState:
        return TaskState.from_json(self._api("GET", f"/v1/tasks/{quote(task_id, safe='')}", task_id=task_id))

    def cancel_task(self, task_id: str) -> None:
        """Cancel a running task or delete a finished one. A task that is already gone is not an error."""
        try:
            self._api("DELETE", f"/v1/tasks/{quote(task_id, safe='')}", task_id=task_id)
        except RunwayTaskNotFound:
            pass

    def organization(self) -> Organization:
        return Organization.from_json(self._api("GET", "/v1/organization"))

    def organization_usage(self, *, start_date: dt.date, before_date: dt.date) -> OrganizationUsage:
        """Credits used per UTC day and model in [start_date, before_date) (at most 90 days).

        Runway counts every task of the organisation, whichever key made it, and books a refund
        (a failure, a cancel before RUNNING) as a negative amount on the day it happens.
        """
        days = (before_date - start_date).days
        if not 0 < days <= USAGE_MAX_DAYS:
            raise ValueError(
                f"Runway reports usage for 1 to {USAGE_MAX_DAYS} days at a time, not {days} "
                f"({start_date} to before {before_date})."
            )
        body = {"startDate": start_date.isoformat(), "beforeDate": before_date.isoformat()}
        data = self._api("POST", "/v1/organization/usage", json=body)
        return OrganizationUsage.from_json(data, start_date=start_date, before_date=before_date)

    def upload_ephemeral(self, filename: str, data: bytes) -> str:
        """Upload a file for use as a media URI; returns its runway:// URI (valid for 24 h).

        A presigned slot is used once: when the file POST fails, Runway asks clients to start over
        with a fresh `POST /v1/uploads` rather than send the file to the same URL again
        (runway-api.md section 7), so each retry asks for a new slot.
        """
        retries = self.max_retries
        for attempt in range(retries + 1):
            try:
                return self._upload_once(filename, data)
            except RunwayError as exc:
                if not exc.retryable or attempt == retries:
                    raise
                self._wait(attempt, retries, None, what="upload", reason=exc.message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _upload_once(self, filename: str, data: bytes) -> str:
        """One ephemeral upload: a fresh slot, then one POST of the file to it (never resent)."""
        slot = self._api("POST", "/v1/uploads", json={"filename": filename, "type": "ephemeral"})
        if not isinstance(slot, Mapping) or not slot.get("uploadUrl") or not slot.get("runwayUri"):
            raise RunwayError("Runway's upload slot had no uploadUrl or runwayUri.", retryable=True)
        fields = slot.get("fields") if isinstance(slot.get("fields"), Mapping) else {}
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        # A presigned POST wants every policy field before the file part; requests keeps list order.
        parts: list[tuple[str, tuple[str | None, Any] | tuple[str, bytes, str]]] = [
            (str(k), (None, str(v))) for k, v in fields.items()
        ]
        parts.append(("file", (filename, data, content_type)))
        host = urlsplit(str(slot["uploadUrl"])).netloc
        response = self._send(
            "POST",
            str(slot["uploadUrl"]),
            files=parts,
            authenticated=False,
            what=f"upload to {host}",
            retries=0,
        )
        with response:
            if response.status_code >= 400:
                raise RunwayError(
                    f"The upload host {host} refused the file ({response.status_code}); try again.",
                    status=response.status_code,
                    retryable=response.status_code in RETRY_STATUSES or response.status_code == 403,
                )
        return str(slot["runwayUri"])

    def video_uri(self, filename: str, data: bytes, *, data_uri_max_chars: int | None = None) -> str:
        """A media URI for a video Runway should read (an MP4 film for video_upscale): a data URI
        when it fits `data_uri_max_chars` (default catalog.VIDEO_DATA_URI_MAX_CHARS), else an
        ephemeral upload's runway:// URI. Uploading is a call to Runway; never inside a transaction."""
        limit = catalog.VIDEO_DATA_URI_MAX_CHARS if data_uri_max_chars is None else data_uri_max_chars
        content_type = mimetypes.guess_type(filename)[0] or "video/mp4"
        if not content_type.startswith("video/"):
            content_type = "video/mp4"
        prefix = f"data:{content_type};base64,"
        if len(prefix) + 4 * math.ceil(len(data) / 3) <= limit:
            return prefix + base64.b64encode(data).decode("ascii")
        return self.upload_ephemeral(filename, data)

    def download_output(
        self, url: str, fileobj: BinaryIO, *, chunk_size: int = 1 << 20, max_bytes: int | None = None
    ) -> int:
        """Stream an output URL into a binary file object in chunks; return the bytes written.

        Raises RunwayDownloadError when the link has expired (403/404/410), the host keeps
        failing, or the body is cut short (compared with Content-Length). Where `fileobj` is
        seekable, a failed download leaves it as it was; otherwise the caller discards it.
        """
        host = urlsplit(url).netloc or "the output host"
        what = f"download from {host}"
        try:
            response = self._send(
                "GET",
                url,
                authenticated=False,
                stream=True,
                what=what,
                headers={"Accept-Encoding": "identity"},
            )
        except RunwayError as exc:
            raise RunwayDownloadError(
                f"Could not download the output: {exc.message}", status=exc.status, retryable=exc.retryable
            ) from exc
        with response:
            status = response.status_code
            if status in (401, 403, 404, 410):
                raise RunwayDownloadError(
                    f"The output link has expired or is gone ({status}); "
                    "fetch the task again for a fresh link.",
                    status=status,
                )
            if status != 200:
                raise RunwayDownloadError(f"The output host {host} answered {status}.", status=status)
            expected = _int_header(response.headers.get("Content-Length"))
            if max_bytes is not None and expected is not None and expected > max_bytes:
                raise RunwayDownloadError(
                    f"The output is {expected} bytes, more than the {max_bytes} allowed.",
                    status=status,
                    retryable=False,
                )
            start = fileobj.tell() if _seekable(fileobj) else None
            written = 0
            try:
                for chunk in response.iter_content(chunk_size):
                    if not chunk:
                        continue
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise RunwayDownloadError(
                            f"The output is larger than the {max_bytes} bytes allowed.",
                            status=status,
                            retryable=False,
                        )
                    fileobj.write(chunk)
                encoded = response.headers.get("Content-Encoding", "identity").lower() != "identity"
                if expected is not None and not encoded and written != expected:
                    raise RunwayDownloadError(
                        f"The download was cut short: {written} of {expected} bytes; try again.",
                        status=status,
                    )
            except RunwayDownloadError:
                _rewind(fileobj, start)
                raise
            except requests.RequestException as exc:
                _rewind(fileobj, start)
                got = f"{written} of {expected}" if expected is not None else str(written)
                raise RunwayDownloadError(
                    f"The download was cut short after {got} bytes ({type(exc).__name__}); try again.",
                    status=status,
                ) from exc
        return written

    # -- transport --

    def _api(
        self, method: str, path: str, *, json: Any = None, task_id: str | None = None, idempotent: bool = True
    ) -> Any:
        what = f"{method} {path}"
        response = self._send(
            method, self.base_url + path, json=json, authenticated=True, what=what, idempotent=idempotent
        )
        with response:
            if response.status_code >= 400:
                raise self._error_for(response, what=what, task_id=task_id, idempotent=idempotent)
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise RunwayError(
                    f"Runway answered {what} with something that is not JSON; check RUNWAY_API_BASE.",
                    status=response.status_code,
                    retryable=True,
                ) from None

    def _send(
        self,
        method: str,
        url: str,
        *,
        authenticated: bool,
        what: str,
        json: Any = None,
        files: Any = None,
        stream: bool = False,
        headers: dict[str, str] | None = None,
        idempotent: bool = True,
        retries: int | None = None,
    ) -> requests.Response:
        """Send one request with bounded retries; return the last response, whatever its status.

        Raises RunwayUnavailable when the host cannot be reached (after retries) and RunwayError
        for a URL that cannot be requested at all. A request that is not `idempotent` is resent
        only when the server cannot have acted on it.
        """
        all_headers = (
            {"Accept": "application/json", "X-Runway-Version": RUNWAY_VERSION} if authenticated else {}
        )
        if authenticated:
            all_headers["Authorization"] = f"Bearer {self._key()}"
        all_headers.update(headers or {})
        timeout = (float(settings.RUNWAY_CONNECT_TIMEOUT), float(settings.RUNWAY_READ_TIMEOUT))
        retries = self.max_retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                response = self._session.request(
                    method, url, headers=all_headers, json=json, files=files, timeout=timeout, stream=stream
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                problem = "timed out" if isinstance(exc, requests.Timeout) else "could not connect"
                if not idempotent and not _never_sent(exc):
                    raise RunwayUnavailable(
                        f"Runway did not answer {what} ({type(exc).__name__}); the task may have been "
                        "created anyway, so it was not sent again.",
                        maybe_created=True,
                    ) from exc
                if attempt == retries:
                    raise RunwayUnavailable(
                        self._scrub(
                            f"Runway is unreachable: {what} {problem} after {attempt + 1} attempt(s) "
                            f"({urlsplit(url).netloc}); try again later."
                        )
                    ) from exc
                self._wait(attempt, retries, None, what=what, reason=problem)
                continue
            except requests.RequestException as exc:
                raise RunwayError(
                    self._scrub(f"Cannot send {what}: {type(exc).__name__}; check RUNWAY_API_BASE."),
                    retryable=False,
                ) from exc
            if attempt == retries or not _should_retry(response, idempotent=idempotent):
                return response
            response.close()
            self._wait(
                attempt, retries, response.headers, what=what, reason=f"answered {response.status_code}"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(
        self, attempt: int, retries: int, headers: Mapping[str, str] | None, *, what: str, reason: str
    ) -> None:
        delay = _retry_after(headers)
        if delay is None:
            delay = min(self.backoff_base * 2.0**attempt, BACKOFF_MAX) * (1 - 0.25 * random.random())
        logger.warning("Runway %s %s; retry %d of %d in %.2f s", what, reason, attempt + 1, retries, delay)
        (self._sleep or time.sleep)(delay)

    def _error_for(
        self, response: requests.Response, *, what: str, task_id: str | None, idempotent: bool = True
    ) -> RunwayError:
        status = response.status_code
        body = _json_or_none(response)
        text = body.get("error") if isinstance(body, Mapping) and isinstance(body.get("error"), str) else ""
        issues = (
            [i for i in body.get("issues", []) if isinstance(i, Mapping)] if isinstance(body, Mapping) else []
        )
        said = f" (Runway said: {text})" if text else ""
        if status == 401:
            return RunwayAuthError("Runway rejected the API key; check RUNWAY_API_KEY.", status=status)
        if status == 403:
            return RunwayAuthError(
                self._scrub(
                    f"Runway refused {what} for this API key{said}; "
                    "check RUNWAY_API_KEY and its organisation."
                ),
                status=status,
            )
        if status == 404 and task_id is not None:
            return RunwayTaskNotFound(
                self._scrub(f"Runway has no task {task_id}: it was deleted, cancelled or never created."),
                status=status,
            )
        if status == 400 and not issues and "credit" in text.lower():
            return RunwayCreditsError(
                self._scrub(
                    f"The Runway account is out of credits; buy credits at Runway, then try again.{said}"
                ),
                status=status,
            )
        if status in (400, 422):
            return RunwayValidationError(self._scrub(_summarise(text, issues)), issues=issues, status=status)
        if status == 429 and _is_daily_limit(text):
            return RunwayDailyLimit(
                self._scrub(
                    f"Runway's daily generation limit for this kind of model was reached{said}; "
                    "it resets within 24 hours."
                ),
                status=status,
            )
        if status == 429:
            return RunwayRateLimited(
                self._scrub(
                    f"Runway's rate or daily generation limit was reached{said}; try again later "
                    "(the daily limit is a rolling 24 hours)."
                ),
                status=status,
            )
        if status == 413:
            return RunwayValidationError(
                "Runway refused the request as too large; send big images and videos as uploads, not data URIs.",
                status=status,
            )
        if not idempotent and (status >= 500 or status == 409):
            return RunwayUnavailable(
                self._scrub(
                    f"Runway answered {what} with {status}{said}; the task may have been created anyway, "
                    "so it was not sent again."
                ),
                status=status,
                maybe_created=True,
            )
        if status in RETRY_STATUSES:
            return RunwayUnavailable(
                self._scrub(f"Runway kept failing: {what} answered {status}{said}; try again later."),
                status=status,
            )
        return RunwayError(
            self._scrub(f"Runway answered {what} with {status}{said}; check RUNWAY_API_BASE."), status=status
        )

    def _scrub(self, text: str) -> str:
        key = self._key()
        if key:
            text = text.replace(key, "[redacted]")
        return _KEY_PATTERN.sub("[redacted]", text)


# --- which Runway -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """A Runway other than the one in settings: a command line's own simulator, with its own key."""

    base_url: str
    api_key: str


# Per thread (and per asyncio task), so that a job's choice never leaks into other work.
_connection: contextvars.ContextVar[Connection | None] = contextvars.ContextVar(
    "runway_connection", default=None
)


def client_from_settings(**options: Any) -> RunwayClient:
    """The Runway client for the pipeline, its tasks and the commands: the Runway in settings, or
    the one chosen with `connected_to`. `options` go to RunwayClient (e.g. `max_retries`)."""
    connection = _connection.get()
    if connection is None:
        return RunwayClient(**options)
    return RunwayClient(connection.base_url, connection.api_key, **options)


@contextlib.contextmanager
def connected_to(connection: Connection | None) -> Iterator[None]:
    """Within this block, in this thread, `client_from_settings` talks to `connection` (None: to
    the Runway in settings)."""
    token = _connection.set(connection)
    try:
        yield
    finally:
        _connection.reset(token)


def _should_retry(response: requests.Response, *, idempotent: bool) -> bool:
    # Runway's SDK lets the server decide with this non-standard header; so do we.
    header = response.headers.get("x-should-retry", "").lower()
    if header in ("true", "false"):
        return header == "true"
    if response.status_code == 429 and _is_daily_limit(_error_text(response)):
        # The SDK retries every 429; a daily cap does not clear in seconds, so neither do we.
        return False
    return response.status_code in (RETRY_STATUSES if idempotent else CREATE_RETRY_STATUSES)


# Runway's wording of a daily-cap 429 is unpublished ([DOC-tiers] says only that creates beyond the
# cap answer 429); one that names a daily or 24-hour limit is taken for it. The pipeline also checks
# GET /v1/organization (generation/tiers.py), which does not depend on wording.
_DAILY_LIMIT_RE = re.compile(r"\bdaily\b|\b24[- ]?hours?\b|\bper day\b", re.IGNORECASE)


def _is_daily_limit(text: str) -> bool:
    return bool(_DAILY_LIMIT_RE.search(text or ""))


def _error_text(response: requests.Response) -> str:
    body = _json_or_none(response)
    return body.get("error") if isinstance(body, Mapping) and isinstance(body.get("error"), str) else ""


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request failed before a connection existed, so the server never saw it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    # NewConnectionError (refused, unreachable, DNS) is a ConnectTimeoutError in urllib3 2.
    return isinstance(reason, urllib3.exceptions.ConnectTimeoutError)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The server's requested wait in seconds, if it gave a sensible one (0 < wait <= 60)."""
    if not headers:
        return None
    wait: float | None = None
    try:
        if headers.get("retry-after-ms"):
            wait = float(headers["retry-after-ms"]) / 1000
        elif headers.get("retry-after"):
            value = headers["retry-after"]
            try:
                wait = float(value)
            except ValueError:
                when = email.utils.parsedate_to_datetime(value)
                wait = when.timestamp() - time.time()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if wait is None or not math.isfinite(wait) or not 0 < wait <= RETRY_AFTER_MAX:
        return None
    return wait


def _summarise(text: str, issues: list[Mapping[str, Any]]) -> str:
    if not issues:
        return f"Runway rejected the request: {text or 'no reason given'}."
    parts = []
    for issue in issues:
        path = issue.get("path")
        where = ".".join(str(p) for p in path) if isinstance(path, list) and path else "request"
        parts.append(f"{where}: {issue.get('message') or issue.get('code') or 'invalid'}")
    return "Runway rejected the request: " + "; ".join(parts) + "."


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _seekable(fileobj: IO[bytes]) -> bool:
    try:
        return bool(fileobj.seekable())
    except (AttributeError, ValueError, OSError):
        return False


def _rewind(fileobj: IO[bytes], start: int | None) -> None:
    if start is None:
        return
    fileobj.seek(start)
    fileobj.truncate()
