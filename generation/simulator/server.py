"""The simulator's HTTP face: Runway's routes, the output and upload hosts, the control endpoints.

Routes (runway-api.md §2):
    POST   /v1/image_to_video, /v1/text_to_video     create a task
    POST   /v1/text_to_image                         create an image task (gen4_image, gen4_image_turbo)
    POST   /v1/text_to_speech                        create a speech task (eleven_* voices; MP3 output)
    POST   /v1/video_upscale                         create an upscale task (magnific_video_upscaler_creative)
    GET    /v1/tasks/{id}, DELETE /v1/tasks/{id}      read, cancel or delete a task
    GET    /v1/organization                          balance, tier limits, daily usage
    POST   /v1/organization/usage                    credits used per UTC day and model
    POST   /v1/uploads                               start an ephemeral upload
    POST   /_uploads/{id}                            the presigned upload target (no auth header)
    GET    /_outputs/{task}.mp4|.png|.mp3?_jwt=..     signed, expiring output URL (a clip, still or speech)
    *      /_simulator/...                           control endpoints (control token required):
           GET|POST /_simulator/config                 tier, limits, prices, balance, timings, size offsets
           GET|POST|DELETE /_simulator/faults          armed faults (faults.KINDS)
           POST /_simulator/advance_clock {"seconds"}  move the daily window's "now" (cross the reset)
           POST /_simulator/usage_adjust               book a usage mismatch
           POST /_simulator/reset, GET /_simulator/tasks, GET /_simulator/requests,
           POST /_simulator/tasks/{id}/cancel

A create beyond the daily cap of its kind answers 429 {"error": runway_tables.DAILY_LIMIT_TEXT};
the `rate_limit` fault answers 429 {"error": runway_tables.RATE_LIMIT_TEXT}; Runway's 429 body is
only documented as {"error": string} (runway-api.md §6.2).
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import validation
from .config import SimulatorConfig
from .runway_tables import (
    IMAGE_TO_VIDEO,
    RATE_LIMIT_TEXT,
    TEXT_TO_IMAGE,
    TEXT_TO_SPEECH,
    TEXT_TO_VIDEO,
    VIDEO_UPSCALE,
)
from .state import (
    SUCCEEDED,
    DailyLimitReached,
    InsufficientCredits,
    Simulator,
    Task,
)
from .validation import AssetRejected, ValidationFailed

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024
NOT_FOUND_TASK = {"error": "Could not find Task"}

Handler = Callable[["RunwayRequestHandler", re.Match[str]], None]


class SimulatorServer:
    """A simulator on a background thread: `start()` returns its base URL, `stop()` ends it.

    Every thread it starts is a daemon, and `stop()` joins them, so a test session never hangs on it.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.simulator = Simulator(self.config)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, **overrides: object) -> SimulatorServer:
        """A simulator configured from Django settings (RUNWAY_SIMULATOR_FAST), on a free port."""
        from django.conf import settings

        fast = bool(overrides.pop("fast", getattr(settings, "RUNWAY_SIMULATOR_FAST", False)))
        if fast:
            return cls(SimulatorConfig.fast(**overrides))
        return cls(SimulatorConfig(**overrides))  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("The simulator is not running")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._httpd = _HTTPServer((self.config.host, self.config.port), RunwayRequestHandler)
        self._httpd.simulator = self.simulator
        self.simulator.start_clock()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="runway-simulator",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.simulator.stopping.set()  # releases stalled downloads
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread:
            self._thread.join(5)
        self.simulator.shutdown()
        self._httpd = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator: Simulator

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on every open connection, so idle keep-alive handler threads end now."""
        with self._open_lock:
            for connection in list(self._open):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class RunwayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RunwaySimulator/1.0"
    # Idle keep-alive connections are closed after this many seconds, so no thread lingers.
    timeout = 30
    server: _HTTPServer

    # -- dispatch ---------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    @property
    def sim(self) -> Simulator:
        return self.server.simulator

    def _dispatch(self, method: str) -> None:
        self._status = 0
        parts = urlsplit(self.path)
        self.route_path = parts.path
        self.query = parse_qs(parts.query)
        try:
            if not self._read_body():
                return
            for pattern, methods, area in ROUTES:
                match = pattern.match(self.route_path)
                if not match:
                    continue
                handler = methods.get(method)
                if handler is None:
                    allow = ", ".join(sorted(methods))
                    self.send_json(405, {"error": f"Method {method} not allowed"}, headers={"Allow": allow})
                    return
                if self._guard(area):
                    handler(self, match)
                return
            self.send_json(404, {"error": "Not found"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client hung up (a download it gave up on)
        except Exception:
            logger.exception("Simulator failed on %s %s", method, self.path)
            if not self._status:
                self.send_json(
                    500, {"error": "Internal server error", "detail": traceback.format_exc(limit=3)}
                )

    def _read_body(self) -> bool:
        self.raw_body = b""
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.send_json(411, {"error": "Length required"}, close=True)
            return False
        if not length:
            return True
        try:
            size = int(length)
        except ValueError:
            self.send_json(400, {"error": "Invalid Content-Length"}, close=True)
            return False
        limit = (
            self.sim.config.upload_max_bytes + 1024 * 1024
            if self.route_path.startswith("/_uploads/")
            else self.sim.config.json_body_max_bytes
        )
        if size > limit:
            self.send_json(413, {"error": "Request body too large"}, close=True)
            return False
        self.raw_body = self.rfile.read(size)
        return True

    def _guard(self, area: str) -> bool:
        """Checks every request of an area goes through before its handler runs."""
        if area == "api":
            fault = self.sim.faults.take("api", path=self.route_path)
            if fault:
                status = int(fault.params["status"])
                self.send_json(status, {"error": HTTPStatus(status).phrase})
                return False
            if not validation.check_api_key(
                self.headers.get("Authorization"), expected=self.sim.config.api_key
            ):
                self.send_json(
                    401, {"error": "Invalid API key. Keys look like key_ followed by 128 hex digits."}
                )
                return False
            version_error = validation.check_version(self.headers.get("X-Runway-Version"))
            if version_error:
                self.send_json(400, version_error.body())
                return False
        elif area == "control":
            authorization = self.headers.get("Authorization") or ""
            if not authorization.startswith("Bearer "):
                self.send_json(401, {"error": "A control token is required"})
                return False
            given = authorization[len("Bearer ") :].encode()
            if not hmac.compare_digest(given, self.sim.config.control_token.encode()):
                self.send_json(403, {"error": "Wrong control token"})
                return False
        return True

    # -- responses --------------------------------------------------------------------------------

    def send_response(self, code: int, message: str | None = None) -> None:
        # Logged before the response leaves, so a client that reads the log next sees its request.
        self._status = code
        path = getattr(self, "route_path", self.path)
        if path != "/_simulator/requests":
            self.sim.log_request(
                {
                    "method": self.command,
                    "path": path,
                    "status": code,
                    "retryCount": self.headers.get("x-stainless-retry-count") if self.headers else None,
                    "at": round(time.time(), 3),
                }
            )
        super().send_response(code, message)

    def send_json(
        self, status: int, body: object, *, headers: dict[str, str] | None = None, close: bool = False
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def json_body(self) -> object:
        """The parsed JSON body; None when absent or not sent as JSON (Runway sees no body then)."""
        content_type = self.headers.get("Content-Type", "")
        if not self.raw_body or not content_type.split(";")[0].strip().lower() == "application/json":
            return None
        try:
            return json.loads(self.raw_body)
        except (ValueError, UnicodeDecodeError):
            raise _BadJSON from None

    def public_base(self) -> str:
        host = self.headers.get("Host")
        return (
            f"http://{host}"
            if host
            else f"http://{self.server.server_address[0]}:{self.server.server_address[1]}"
        )

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    # -- /v1 --------------------------------------------------------------------------------------

    def create_image_to_video(self, match: re.Match[str]) -> None:
        self._create(IMAGE_TO_VIDEO)

    def create_text_to_video(self, match: re.Match[str]) -> None:
        self._create(TEXT_TO_VIDEO)

    def create_text_to_image(self, match: re.Match[str]) -> None:
        self._create(TEXT_TO_IMAGE)

    def create_text_to_speech(self, match: re.Match[str]) -> None:
        self._create(TEXT_TO_SPEECH)

    def create_video_upscale(self, match: re.Match[str]) -> None:
        self._create(VIDEO_UPSCALE)

    def _create(self, endpoint: str) -> None:
        fault = self.sim.faults.take("create")
        if fault and fault.kind == "rate_limit":
            self.send_json(429, {"error": RATE_LIMIT_TEXT})
            return
        try:
            task = self.sim.create_task(endpoint, self.json_body())
        except _BadJSON:
            self.send_json(400, {"error": "Request body is not valid JSON", "docUrl": validation.DOC_URL})
            return
        except (ValidationFailed, AssetRejected) as exc:
            self.send_json(400, exc.body())
            return
        except InsufficientCredits as exc:
            self.send_json(400, {"error": str(exc)})
            return
        except DailyLimitReached as exc:
            self.send_json(429, {"error": str(exc)})
            return
        if fault and fault.kind == "lost_response":
            status = int(fault.params["status"])
            self.send_json(status, {"error": HTTPStatus(status).phrase})
            return
        self.send_json(200, {"id": task.id, "estimatedCost": {"credits": task.estimated_cost}})

    def get_task(self, match: re.Match[str]) -> None:
        task_id = match["id"]
        if not self._check_task_id(task_id):
            return
        task = self.sim.get_task(task_id)
        if task is None:
            self.send_json(404, NOT_FOUND_TASK)
            return
        urls: list[str] = []
        if task.status == SUCCEEDED:
            expired = self.sim.faults.take("task_get") is not None
            urls = [self.output_url(task, expired=expired)]
        self.send_json(200, self.sim.task_body(task, urls))

    def delete_task(self, match: re.Match[str]) -> None:
        task_id = match["id"]
        if not self._check_task_id(task_id):
            return
        if self.sim.delete_task(task_id):
            self.send_empty(204)
        else:
            self.send_json(404, NOT_FOUND_TASK)

    def _check_task_id(self, task_id: str) -> bool:
        if validation.TASK_ID_RE.match(task_id):
            return True
        issue = {
            "origin": "string",
            "code": "invalid_format",
            "format": "uuid",
            "path": ["id"],
            "message": "Invalid UUID",
        }
        self.send_json(
            400,
            {
                "error": "Validation of path parameters failed",
                "issues": [issue],
                "docUrl": validation.DOC_URL,
            },
        )
        return False

    def get_organization(self, match: re.Match[str]) -> None:
        self.send_json(200, self.sim.organization())

    def organization_usage(self, match: re.Match[str]) -> None:
        try:
            start, before = validation.validate_usage_body(self.json_body(), today=datetime.now(UTC).date())
        except _BadJSON:
            self.send_json(400, {"error": "Request body is not valid JSON", "docUrl": validation.DOC_URL})
            return
        except ValidationFailed as exc:
            self.send_json(400, exc.body())
            return
        self.send_json(200, self.sim.usage_report(start, before))

    def create_upload(self, match: re.Match[str]) -> None:
        try:
            filename = validation.validate_upload_body(self.json_body())
        except _BadJSON:
            self.send_json(400, {"error": "Request body is not valid JSON", "docUrl": validation.DOC_URL})
            return
        except ValidationFailed as exc:
            self.send_json(400, exc.body())
            return
        upload = self.sim.create_upload(filename)
        self.send_json(
            200,
            {
                "uploadUrl": f"{self.public_base()}/_uploads/{upload.id}",
                "fields": {"key": upload.key, "x-amz-signature": upload.signature},
                "runwayUri": upload.uri,
            },
        )

    # -- upload target (an S3-style presigned POST) -----------------------------------------------

    def receive_upload(self, match: re.Match[str]) -> None:
        upload = self.sim.uploads.get(match["id"])
        if upload is None or upload.expires_clock < time.monotonic():
            self.send_json(403, {"error": "AccessDenied: no such upload slot, or it expired"})
            return
        if "Authorization" in self.headers:
            self.send_json(400, {"error": "InvalidArgument: presigned uploads take no Authorization header"})
            return
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            self.send_json(400, {"error": "InvalidArgument: expected multipart/form-data"})
            return
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + self.raw_body
        )
        fields: dict[str, str] = {}
        file_data: bytes | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                file_data = part.get_payload(decode=True) or b""
                break  # like S3, fields after the file are ignored
            fields[str(name)] = (part.get_payload(decode=True) or b"").decode()
        if fields.get("key") != upload.key or fields.get("x-amz-signature") != upload.signature:
            self.send_json(403, {"error": "AccessDenied: the form fields do not match the upload's policy"})
            return
        if file_data is None:
            self.send_json(
                400, {"error": "InvalidArgument: no file field (it must come after the other fields)"}
            )
            return
        if len(file_data) > self.sim.config.upload_max_bytes:
            self.send_json(400, {"error": "EntityTooLarge"})
            return
        if len(file_data) < self.sim.config.upload_min_bytes:
            # runway-api.md §7: at least 512 bytes. S3 refuses a file outside the presigned POST's
            # content-length-range with 400 EntityTooSmall, and the slot stays unfilled.
            self.send_json(
                400,
                {
                    "error": f"EntityTooSmall: the file must be at least {self.sim.config.upload_min_bytes} bytes "
                    f"(got {len(file_data)})"
                },
            )
            return
        self.sim.complete_upload(upload.id, file_data)
        self.send_empty(204)

    # -- outputs ----------------------------------------------------------------------------------

    def output_url(self, task: Task, *, expired: bool = False) -> str:
        # Rounded up, so a URL is good for at least url_ttl seconds.
        exp = int(time.time() - 1) if expired else math.ceil(time.time() + self.sim.config.url_ttl)
        signature = self.sim.sign(f"output:{task.id}:{exp}")
        return f"{self.public_base()}/_outputs/{task.id}.{task.output_extension}?_jwt={signature}&exp={exp}"

    def get_output(self, match: re.Match[str]) -> None:
        task_id = match["id"]
        signature = (self.query.get("_jwt") or [""])[0]
        exp_text = (self.query.get("exp") or [""])[0]
        if not exp_text.isdigit() or not self.sim.verify(f"output:{task_id}:{exp_text}", signature):
            self.send_json(403, {"error": "Access denied: invalid signature"})
            return
        if int(exp_text) < time.time():
            self.send_json(403, {"error": "Access denied: the URL has expired"})
            return
        task = self.sim.get_task(task_id)
        if (
            task is None
            or task.output_extension != match["ext"]
            or task.output_path is None
            or not task.output_path.exists()
        ):
            self.send_json(404, {"error": "Not found"})
            return
        self._stream_file(task)

    def _stream_file(self, task: Task) -> None:
        path = task.output_path
        assert path is not None
        size = path.stat().st_size
        start, end = 0, size - 1
        status = 200
        range_header = self.headers.get("Range")
        if range_header:
            parsed = _parse_range(range_header, size)
            if parsed is None:
                self.send_json(
                    416, {"error": "Range not satisfiable"}, headers={"Content-Range": f"bytes */{size}"}
                )
                return
            start, end = parsed
            status = 206
        length = end - start + 1
        fault = None
        if self.command == "GET":
            fault = task.plan.download_fault or self.sim.faults.take("download")
            with self.sim.lock:
                task.downloads += 1

        self.send_response(status)
        content_types = {"png": "image/png", "mp3": "audio/mpeg", "mp4": "video/mp4"}
        self.send_header("Content-Type", content_types[task.output_extension])
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if fault:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return

        cut = length
        if fault:
            cut = int(length * float(fault.params.get("fraction", 0.5)))
        with path.open("rb") as stream:
            stream.seek(start)
            sent = 0
            while sent < cut:
                chunk = stream.read(min(CHUNK, cut - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        self.wfile.flush()
        if fault and fault.kind == "stall_download":
            # Hold the connection open, sending nothing, as a stuck CDN edge would.
            self.sim.stopping.wait(float(fault.params.get("hold_seconds", 30)))

    # -- control ----------------------------------------------------------------------------------

    def health(self, match: re.Match[str]) -> None:
        self.send_json(200, {"ok": True})

    def control_tasks(self, match: re.Match[str]) -> None:
        self.send_json(200, {"tasks": self.sim.task_log()})

    def control_cancel(self, match: re.Match[str]) -> None:
        task = self.sim.cancel_task(match["id"])
        if task is None:
            self.send_json(404, NOT_FOUND_TASK)
        else:
            self.send_json(200, self.sim.task_body(task, []))

    def control_faults(self, match: re.Match[str]) -> None:
        if self.command == "GET":
            self.send_json(200, {"faults": self.sim.faults.armed()})
            return
        if self.command == "DELETE":
            self.sim.faults.clear()
            self.send_empty(204)
            return
        body = self._control_body()
        if not isinstance(body, dict) or "kind" not in body:
            self.send_json(400, {"error": 'Expected {"kind": ..., "count": N, ...parameters}'})
            return
        params = dict(body)
        kind = params.pop("kind")
        count = int(params.pop("count", 1))
        try:
            fault = self.sim.faults.arm(kind, count, **params)
        except ValueError as exc:
            self.send_json(400, {"error": str(exc)})
            return
        self.send_json(200, fault.as_dict())

    def control_reset(self, match: re.Match[str]) -> None:
        self.sim.reset()
        self.send_empty(204)

    def control_config(self, match: re.Match[str]) -> None:
        if self.command == "GET":
            self.send_json(200, self.sim.describe_config())
            return
        body = self._control_body()
        if not isinstance(body, dict):
            self.send_json(400, {"error": "Expected a JSON object of settings"})
            return
        try:
            self.send_json(200, self.sim.configure(body))
        except (ValueError, TypeError, AttributeError) as exc:
            self.send_json(400, {"error": str(exc)})

    def control_usage_adjust(self, match: re.Match[str]) -> None:
        body = self._control_body()
        expected = 'Expected {"date": "YYYY-MM-DD", "model": ..., "amount": N}'
        if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
            self.send_json(400, {"error": expected})
            return
        amount = body.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool):
            self.send_json(400, {"error": expected})
            return
        try:
            day = date.fromisoformat(str(body.get("date")))
        except ValueError:
            self.send_json(400, {"error": expected})
            return
        total = self.sim.adjust_usage(day, body["model"], amount)
        self.send_json(200, {"date": day.isoformat(), "model": body["model"], "amount": total})

    def control_advance_clock(self, match: re.Match[str]) -> None:
        body = self._control_body()
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            self.send_json(400, {"error": 'Expected {"seconds": N}, N >= 0'})
            return
        self.send_json(200, {"clock_offset": self.sim.advance_clock(seconds)})

    def control_requests(self, match: re.Match[str]) -> None:
        with self.sim.lock:
            self.send_json(200, {"requests": list(self.sim.requests)})

    def _control_body(self) -> object:
        try:
            return json.loads(self.raw_body or b"{}")
        except ValueError:
            return None


class _BadJSON(Exception):
    pass


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:
        start, end = max(0, size - int(match[2])), size - 1
    else:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    if start > end or start >= size:
        return None
    return start, end


H = RunwayRequestHandler
_ID = r"(?P<id>[^/]+)"
ROUTES: list[tuple[re.Pattern[str], dict[str, Handler], str]] = [
    (re.compile(r"^/v1/image_to_video$"), {"POST": H.create_image_to_video}, "api"),
    (re.compile(r"^/v1/text_to_video$"), {"POST": H.create_text_to_video}, "api"),
    (re.compile(r"^/v1/text_to_image$"), {"POST": H.create_text_to_image}, "api"),
    (re.compile(r"^/v1/text_to_speech$"), {"POST": H.create_text_to_speech}, "api"),
    (re.compile(r"^/v1/video_upscale$"), {"POST": H.create_video_upscale}, "api"),
    (re.compile(rf"^/v1/tasks/{_ID}$"), {"GET": H.get_task, "DELETE": H.delete_task}, "api"),
    (re.compile(r"^/v1/organization$"), {"GET": H.get_organization}, "api"),
    (re.compile(r"^/v1/organization/usage$"), {"POST": H.organization_usage}, "api"),
    (re.compile(r"^/v1/uploads$"), {"POST": H.create_upload}, "api"),
    (re.compile(rf"^/_uploads/{_ID}$"), {"POST": H.receive_upload}, "upload"),
    (
        re.compile(rf"^/_outputs/{_ID}\.(?P<ext>mp4|png|mp3)$"),
        {"GET": H.get_output, "HEAD": H.get_output},
        "output",
    ),
    (re.compile(r"^/_simulator/health$"), {"GET": H.health}, "public"),
    (re.compile(r"^/_simulator/tasks$"), {"GET": H.control_tasks}, "control"),
    (re.compile(rf"^/_simulator/tasks/{_ID}/cancel$"), {"POST": H.control_cancel}, "control"),
    (
        re.compile(r"^/_simulator/faults$"),
        {"GET": H.control_faults, "POST": H.control_faults, "DELETE": H.control_faults},
        "control",
    ),
    (re.compile(r"^/_simulator/reset$"), {"POST": H.control_reset}, "control"),
    (re.compile(r"^/_simulator/config$"), {"GET": H.control_config, "POST": H.control_config}, "control"),
    (re.compile(r"^/_simulator/requests$"), {"GET": H.control_requests}, "control"),
    (re.compile(r"^/_simulator/usage_adjust$"), {"POST": H.control_usage_adjust}, "control"),
    (re.compile(r"^/_simulator/advance_clock$"), {"POST": H.control_advance_clock}, "control"),
]
