"""The Runway client: parsing of recorded Runway JSON, and behaviour over real HTTP on loopback.

`stub_runway` is a tiny scripted HTTP server standing in for Runway where a test needs an exact
wire behaviour (503 bursts, Retry-After, truncated bodies); the simulator tests further down run
the same client against generation/simulator.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from generation import catalog
from generation.keyframes import image_uri, prepare_image
from generation.runway import (
    CreatedTask,
    ModelLimits,
    Organization,
    RunwayAuthError,
    RunwayClient,
    RunwayCreditsError,
    RunwayDailyLimit,
    RunwayDownloadError,
    RunwayError,
    RunwayRateLimited,
    RunwayTaskNotFound,
    RunwayUnavailable,
    RunwayValidationError,
    TaskState,
)

FIXTURES = Path(__file__).parent / "fixtures" / "runway"
KEY = "key_" + "5eca" * 32
TASK_ID = "acf9ba3d-a513-42c9-a646-96e8bc97c691"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# --- a scripted stand-in for Runway -----------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: dict | list | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Announce the full Content-Length but send only this many bytes, then hang up.
    truncate_to: int | None = None
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubRunway:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                stub.seen.append(Seen(self.command, path, dict(self.headers), body))
                replies = stub.routes.get((self.command, path))
                if not replies:
                    reply = Reply(599, {"error": f"no route for {self.command} {path}"})
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body if isinstance(reply.body, bytes) else b""
                if isinstance(reply.body, dict | list):
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    if isinstance(reply.body, dict | list):
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(
                        payload[: reply.truncate_to] if reply.truncate_to is not None else payload
                    )
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (read timeout); nothing to answer

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.routes[(method, path)] = list(replies)

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if (s.method, s.path) == (method, path))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_runway():
    stub = StubRunway()
    yield stub
    stub.close()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def client(stub_runway, slept, settings) -> RunwayClient:
    settings.RUNWAY_CONNECT_TIMEOUT = 2.0
    settings.RUNWAY_READ_TIMEOUT = 5.0
    # Recording the requested waits instead of sleeping keeps the tests fast; the HTTP is real.
    return RunwayClient(stub_runway.url, KEY, max_retries=3, sleep=slept.append)


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- parsing recorded JSON ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "is_final", "progress", "estimated", "cost"),
    [
        ("task_pending", "PENDING", False, None, 63, None),
        ("task_throttled", "THROTTLED", False, None, 63, None),
        ("task_running", "RUNNING", False, 0.2, 50, None),
        ("task_succeeded", "SUCCEEDED", True, None, None, 50),
        ("task_failed", "FAILED", True, None, None, 0),
        ("task_cancelled", "CANCELLED", True, None, None, 0),
    ],
)
def test_it_parses_each_recorded_task_status(name, status, is_final, progress, estimated, cost):
    task = TaskState.from_json(fixture(name))

    assert task.status == status
    assert task.is_final is is_final
    assert task.progress == progress
    assert task.estimated_credits == estimated
    assert task.cost_credits == cost
    assert task.created_at == "2026-08-26T06:30:33.796Z"


def test_it_reads_output_urls_of_a_succeeded_task():
    task = TaskState.from_json(fixture("task_succeeded"))

    assert task.output == ["https://dnznrvs05pmza.cloudfront.net/.../out.mp4?_jwt=..."]
    assert task.failure is None


def test_it_reads_failure_text_and_code_of_a_failed_task():
    task = TaskState.from_json(fixture("task_failed"))

    assert task.failure == "The provided image was flagged by content moderation."
    assert task.failure_code == "SAFETY.INPUT.IMAGE"
    assert task.output == []


def test_it_accepts_an_old_task_without_cost_fields():
    task = TaskState.from_json(fixture("task_old_succeeded_without_cost"))

    assert task.status == "SUCCEEDED"
    assert task.is_final
    assert task.cost_credits is None
    assert task.estimated_credits is None
    assert len(task.output) == 1


def test_it_keeps_an_unknown_status_and_ignores_unknown_fields():
    task = TaskState.from_json(
        {
            "id": TASK_ID,
            "status": "ARCHIVING",
            "createdAt": "2026-08-26T06:30:33.796Z",
            "shinyNewField": {"a": 1},
        }
    )

    assert task.status == "ARCHIVING"
    assert not task.is_final


def test_it_rounds_fractional_credits_up():
    task = TaskState.from_json({"id": TASK_ID, "status": "PENDING", "estimatedCost": {"credits": 62.2}})

    assert task.estimated_credits == 63


def test_it_parses_the_organization_limits_and_usage():
    org = Organization.from_json(fixture("organization"))

    assert org.credit_balance == 5000
    assert org.max_monthly_credit_spend == 10000
    assert org.models["gen4_turbo"] == ModelLimits(max_concurrent=2, max_daily=200, daily_generations=12)
    assert org.models["veo3.1"] == ModelLimits(max_concurrent=2, max_daily=100, daily_generations=0)


def test_it_treats_null_model_limits_as_no_limit():
    org = Organization.from_json(
        {
            "creditBalance": 7,
            "tier": {"maxMonthlyCreditSpend": 100, "models": {"gen4.5": {"maxConcurrentGenerations": None}}},
            "usage": {"models": {"veo3.1_fast": {"dailyGenerations": 3}}},
        }
    )

    assert org.models["gen4.5"] == ModelLimits(max_concurrent=None, max_daily=None, daily_generations=0)
    assert org.models["veo3.1_fast"] == ModelLimits(max_concurrent=None, max_daily=None, daily_generations=3)


# --- requests and headers -----------------------------------------------------------------------


def test_it_creates_a_task_with_version_and_bearer_headers(stub_runway, client):
    stub_runway.on("POST", "/v1/image_to_video", Reply(200, fixture("create_response")))
    body = {"model": "gen4_turbo", "promptImage": "data:image/jpeg;base64,AAAA", "ratio": "1280:720"}

    created = client.create_task("image_to_video", body)

    assert created == CreatedTask(id=TASK_ID, estimated_credits=63)
    sent = stub_runway.seen[0]
    assert sent.headers["X-Runway-Version"] == "2024-11-06"
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == body


def test_it_creates_text_to_video_tasks(stub_runway, client):
    stub_runway.on("POST", "/v1/text_to_video", Reply(200, {"id": TASK_ID, "estimatedCost": {"credits": 96}}))

    created = client.create_task("text_to_video", {"model": "gen4.5", "promptText": "a harbour"})

    assert created.estimated_credits == 96


def test_it_refuses_an_unknown_endpoint_without_calling_runway(stub_runway, client):
    with pytest.raises(ValueError, match="image_to_video"):
        client.create_task("video_to_video", {})

    assert stub_runway.seen == []


def test_it_reads_base_url_and_key_from_settings_at_call_time(stub_runway, settings):
    settings.RUNWAY_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    client = RunwayClient()
    settings.RUNWAY_API_BASE = stub_runway.url
    settings.RUNWAY_API_KEY = KEY
    stub_runway.on("GET", f"/v1/tasks/{TASK_ID}", Reply(200, fixture("task_running")))

    task = client.get_task(TASK_ID)

    assert task.progress == 0.2
    assert stub_runway.seen[0].headers["Authorization"] == f"Bearer {KEY}"


def test_it_reads_the_organization_over_http(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(200, fixture("organization")))

    org = client.organization()

    assert org.credit_balance == 5000
    assert org.models["gen4_turbo"].daily_generations == 12


def test_it_cancels_with_delete(stub_runway, client):
    stub_runway.on("DELETE", f"/v1/tasks/{TASK_ID}", Reply(204))

    assert client.cancel_task(TASK_ID) is None
    assert stub_runway.count("DELETE", f"/v1/tasks/{TASK_ID}") == 1


def test_it_ignores_a_cancel_of_a_task_that_is_already_gone(stub_runway, client):
    stub_runway.on("DELETE", f"/v1/tasks/{TASK_ID}", Reply(404, fixture("error_task_not_found")))

    assert client.cancel_task(TASK_ID) is None
    assert stub_runway.count("DELETE", f"/v1/tasks/{TASK_ID}") == 1


def test_it_uploads_fields_first_then_the_file_without_auth(stub_runway, client):
    fields = {"key": "uploads/abc/image.jpg", "policy": "eyJleHBpcmF0aW9uIjoi", "x-amz-signature": "f00d"}
    stub_runway.on(
        "POST",
        "/v1/uploads",
        Reply(200, {"uploadUrl": f"{stub_runway.url}/bucket", "fields": fields, "runwayUri": "runway://abc"}),
    )
    stub_runway.on("POST", "/bucket", Reply(204))
    data = b"\xff\xd8\xff" + os.urandom(2000)

    uri = client.upload_ephemeral("image.jpg", data)

    assert uri == "runway://abc"
    slot_request, upload = stub_runway.seen
    assert json.loads(slot_request.body) == {"filename": "image.jpg", "type": "ephemeral"}
    assert slot_request.headers["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in upload.headers
    assert upload.headers["Content-Type"].startswith("multipart/form-data")
    positions = [upload.body.index(f'name="{name}"'.encode()) for name in [*fields, "file"]]
    assert positions == sorted(positions)
    assert data in upload.body
    assert b"Content-Type: image/jpeg" in upload.body


def test_a_failed_upload_starts_over_with_a_fresh_slot(stub_runway, client, slept):
    # Runway: a presigned slot is used once; after a failed file POST, ask for a new one.
    stub_runway.on(
        "POST",
        "/v1/uploads",
        Reply(
            200,
            {"uploadUrl": f"{stub_runway.url}/bucket-1", "fields": {"key": "a"}, "runwayUri": "runway://a"},
        ),
        Reply(
            200,
            {"uploadUrl": f"{stub_runway.url}/bucket-2", "fields": {"key": "b"}, "runwayUri": "runway://b"},
        ),
    )
    stub_runway.on("POST", "/bucket-1", Reply(503))
    stub_runway.on("POST", "/bucket-2", Reply(204))

    uri = client.upload_ephemeral("image.jpg", b"\xff\xd8\xff" + os.urandom(2000))

    assert uri == "runway://b"
    assert stub_runway.count("POST", "/v1/uploads") == 2
    assert stub_runway.count("POST", "/bucket-1") == 1
    assert stub_runway.count("POST", "/bucket-2") == 1


# --- errors and retries ---------------------------------------------------------------------------


def test_it_survives_a_burst_of_503(stub_runway, client, slept):
    stub_runway.on(
        "GET",
        f"/v1/tasks/{TASK_ID}",
        Reply(503, {"error": "Service Unavailable"}),
        Reply(503, {"error": "Service Unavailable"}),
        Reply(200, fixture("task_succeeded")),
    )

    task = client.get_task(TASK_ID)

    assert task.status == "SUCCEEDED"
    assert stub_runway.count("GET", f"/v1/tasks/{TASK_ID}") == 3
    assert len(slept) == 2


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 504])
def test_it_retries_transient_statuses(stub_runway, client, status):
    stub_runway.on(
        "GET", "/v1/organization", Reply(status, {"error": "busy"}), Reply(200, fixture("organization"))
    )

    assert client.organization().credit_balance == 5000
    assert stub_runway.count("GET", "/v1/organization") == 2


def test_it_backs_off_exponentially_with_jitter(stub_runway, client, slept):
    stub_runway.on("GET", "/v1/organization", Reply(502))

    with pytest.raises(RunwayUnavailable):
        client.organization()

    assert len(slept) == 3
    for attempt, wait in enumerate(slept):
        ceiling = min(0.5 * 2**attempt, 8)
        assert 0.75 * ceiling <= wait <= ceiling


def test_it_caps_the_backoff_at_eight_seconds(stub_runway, slept):
    client = RunwayClient(stub_runway.url, KEY, max_retries=6, sleep=slept.append)
    stub_runway.on("GET", "/v1/organization", Reply(502))

    with pytest.raises(RunwayUnavailable):
        client.organization()

    assert len(slept) == 6
    assert all(wait <= 8 for wait in slept)
    assert slept[-1] >= 6


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after-ms": "250"}, 0.25), ({"Retry-After": "3"}, 3.0), ({"Retry-After": "1.5"}, 1.5)],
)
def test_it_honours_the_servers_retry_after(stub_runway, client, slept, headers, expected):
    stub_runway.on(
        "GET",
        "/v1/organization",
        Reply(429, {"error": "slow down"}, headers),
        Reply(200, fixture("organization")),
    )

    client.organization()

    assert slept == [expected]


def test_it_ignores_a_retry_after_longer_than_a_minute(stub_runway, client, slept):
    stub_runway.on(
        "GET",
        "/v1/organization",
        Reply(429, headers={"Retry-After": "3600"}),
        Reply(200, fixture("organization")),
    )

    client.organization()

    assert len(slept) == 1
    assert slept[0] <= 0.5


def test_it_obeys_x_should_retry_false(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(503, {"error": "down"}, {"x-should-retry": "false"}))

    with pytest.raises(RunwayUnavailable):
        client.organization()

    assert stub_runway.count("GET", "/v1/organization") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 409])
def test_it_does_not_resend_a_create_that_runway_may_have_acted_on(stub_runway, client, status):
    stub_runway.on(
        "POST",
        "/v1/image_to_video",
        Reply(status, {"error": "upstream"}),
        Reply(200, fixture("create_response")),
    )

    with pytest.raises(RunwayUnavailable, match="may have been created") as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo"})

    assert stub_runway.count("POST", "/v1/image_to_video") == 1
    assert caught.value.maybe_created
    assert caught.value.retryable
    assert caught.value.status == status


@pytest.mark.parametrize("status", [408, 429])
def test_it_resends_a_create_that_runway_refused_to_read(stub_runway, client, status):
    stub_runway.on(
        "POST",
        "/v1/image_to_video",
        Reply(status, {"error": "later"}),
        Reply(200, fixture("create_response")),
    )

    assert client.create_task("image_to_video", {"model": "gen4_turbo"}).id == TASK_ID
    assert stub_runway.count("POST", "/v1/image_to_video") == 2


def test_it_resends_a_create_when_runway_says_it_is_safe(stub_runway, client):
    stub_runway.on(
        "POST",
        "/v1/image_to_video",
        Reply(503, {"error": "shedding"}, {"x-should-retry": "true"}),
        Reply(200, fixture("create_response")),
    )

    assert client.create_task("image_to_video", {"model": "gen4_turbo"}).id == TASK_ID


def test_it_does_not_resend_a_create_whose_answer_timed_out(stub_runway, settings, slept):
    settings.RUNWAY_READ_TIMEOUT = 0.2
    client = RunwayClient(stub_runway.url, KEY, max_retries=3, sleep=slept.append)
    stub_runway.on("POST", "/v1/image_to_video", Reply(200, fixture("create_response"), delay=2))

    with pytest.raises(RunwayUnavailable, match="may have been created") as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo"})

    assert caught.value.maybe_created
    assert stub_runway.count("POST", "/v1/image_to_video") == 1


def test_it_resends_a_create_that_never_reached_runway(slept):
    client = RunwayClient(refused_url(), KEY, max_retries=2, sleep=slept.append)

    with pytest.raises(RunwayUnavailable, match="could not connect after 3 attempt") as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo"})

    assert not caught.value.maybe_created


def test_it_does_not_retry_a_400_and_parses_its_issues(stub_runway, client):
    body = fixture("error_validation_ratio")
    stub_runway.on("POST", "/v1/image_to_video", Reply(400, body))

    with pytest.raises(RunwayValidationError) as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo", "ratio": "1920:1080"})

    assert stub_runway.count("POST", "/v1/image_to_video") == 1
    exc = caught.value
    assert exc.status == 400
    assert not exc.retryable
    assert exc.issues == body["issues"]
    assert str(exc).startswith("Runway rejected the request: ratio: Invalid option: expected one of")


def test_it_summarises_several_issues_by_path(stub_runway, client):
    stub_runway.on("POST", "/v1/image_to_video", Reply(400, fixture("error_validation_model")))

    with pytest.raises(RunwayValidationError) as caught:
        client.create_task("image_to_video", {})

    assert str(caught.value) == (
        "Runway rejected the request: model: Invalid input: expected string, received undefined; "
        "model: Invalid input."
    )
    assert len(caught.value.issues) == 2


def test_it_reports_a_400_without_issues_in_runways_words(stub_runway, client):
    stub_runway.on("POST", "/v1/image_to_video", Reply(400, {"error": "promptImage: failed to fetch asset"}))

    with pytest.raises(RunwayValidationError, match="failed to fetch asset") as caught:
        client.create_task("image_to_video", {})

    assert caught.value.issues == []


def test_it_says_when_the_runway_account_is_out_of_credits(stub_runway, client):
    stub_runway.on("POST", "/v1/image_to_video", Reply(400, fixture("error_credits")))

    with pytest.raises(RunwayCreditsError, match="out of credits") as caught:
        client.create_task("image_to_video", {})

    assert not caught.value.retryable
    assert stub_runway.count("POST", "/v1/image_to_video") == 1


def test_it_says_the_key_is_wrong_on_401_without_showing_it(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(401, {"error": f"Invalid API key {KEY}"}))

    with pytest.raises(RunwayAuthError) as caught:
        client.organization()

    assert str(caught.value) == "Runway rejected the API key; check RUNWAY_API_KEY."
    assert KEY not in str(caught.value)
    assert not caught.value.retryable
    assert stub_runway.count("GET", "/v1/organization") == 1


def test_it_does_not_retry_a_403(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(403, {"error": "Organization suspended"}))

    with pytest.raises(RunwayAuthError, match="Organization suspended"):
        client.organization()

    assert stub_runway.count("GET", "/v1/organization") == 1


def test_it_raises_task_not_found_on_404(stub_runway, client):
    stub_runway.on("GET", f"/v1/tasks/{TASK_ID}", Reply(404, fixture("error_task_not_found")))

    with pytest.raises(RunwayTaskNotFound, match=TASK_ID) as caught:
        client.get_task(TASK_ID)

    assert caught.value.status == 404
    assert stub_runway.count("GET", f"/v1/tasks/{TASK_ID}") == 1


def test_it_retries_429_then_gives_up_rate_limited(stub_runway, client, slept):
    stub_runway.on(
        "POST", "/v1/image_to_video", Reply(429, {"error": "Too many requests. Please slow down."})
    )

    with pytest.raises(RunwayRateLimited, match="slow down") as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo"})

    assert not isinstance(caught.value, RunwayDailyLimit)
    assert stub_runway.count("POST", "/v1/image_to_video") == 4
    assert caught.value.retryable
    assert caught.value.status == 429
    assert len(slept) == 3


def test_a_daily_limit_429_is_told_apart_and_not_retried(stub_runway, client, slept):
    stub_runway.on("POST", "/v1/image_to_video", Reply(429, {"error": "Daily task limit reached"}))

    with pytest.raises(RunwayDailyLimit, match="daily generation limit") as caught:
        client.create_task("image_to_video", {"model": "gen4_turbo"})

    assert stub_runway.count("POST", "/v1/image_to_video") == 1
    assert caught.value.status == 429
    assert slept == []


def test_it_gives_up_unavailable_after_a_long_5xx_outage(stub_runway, client):
    stub_runway.on("GET", f"/v1/tasks/{TASK_ID}", Reply(503, {"error": "Service Unavailable"}))

    with pytest.raises(RunwayUnavailable) as caught:
        client.get_task(TASK_ID)

    assert caught.value.retryable
    assert caught.value.status == 503
    assert stub_runway.count("GET", f"/v1/tasks/{TASK_ID}") == 4


def test_it_reports_connection_refused_as_unavailable(slept):
    client = RunwayClient(refused_url(), KEY, max_retries=2, sleep=slept.append)

    with pytest.raises(RunwayUnavailable, match="could not connect after 3 attempt") as caught:
        client.get_task(TASK_ID)

    assert caught.value.retryable
    assert caught.value.status is None
    assert len(slept) == 2


def test_it_retries_a_read_timeout_then_reports_unavailable(stub_runway, settings, slept):
    settings.RUNWAY_READ_TIMEOUT = 0.2
    client = RunwayClient(stub_runway.url, KEY, max_retries=1, sleep=slept.append)
    stub_runway.on("GET", "/v1/organization", Reply(200, fixture("organization"), delay=2))

    with pytest.raises(RunwayUnavailable, match="timed out"):
        client.organization()

    assert len(slept) == 1


def test_it_reports_a_non_json_answer_as_retryable(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(200, b"<html>captive portal</html>"))

    with pytest.raises(RunwayError, match="not JSON") as caught:
        client.organization()

    assert caught.value.retryable


def test_it_points_at_the_base_url_for_an_unknown_path(stub_runway, client):
    stub_runway.on("GET", "/v1/organization", Reply(404, {"error": "Not Found"}))

    with pytest.raises(RunwayError, match="RUNWAY_API_BASE") as caught:
        client.organization()

    assert not isinstance(caught.value, RunwayTaskNotFound)


# --- the key never leaks ----------------------------------------------------------------------------


def _echo(status: int, **headers: str) -> Reply:
    return Reply(status, {"error": f"Key {KEY} says no", "issues": []}, headers)


@pytest.mark.parametrize(
    ("route", "reply", "call", "error"),
    [
        ("/v1/organization", _echo(401), lambda c: c.organization(), RunwayAuthError),
        ("/v1/organization", _echo(403), lambda c: c.organization(), RunwayAuthError),
        ("/v1/organization", _echo(405), lambda c: c.organization(), RunwayError),
        ("/v1/organization", _echo(503), lambda c: c.organization(), RunwayUnavailable),
        ("/v1/organization", _echo(429), lambda c: c.organization(), RunwayRateLimited),
        (f"/v1/tasks/{TASK_ID}", _echo(404), lambda c: c.get_task(TASK_ID), RunwayTaskNotFound),
        (
            "/v1/image_to_video",
            Reply(400, {"error": f"Not enough credits for {KEY}"}),
            lambda c: c.create_task("image_to_video", {}),
            RunwayCreditsError,
        ),
        (
            "/v1/image_to_video",
            Reply(400, {"error": "bad", "issues": [{"path": ["promptText"], "message": f"echo {KEY}"}]}),
            lambda c: c.create_task("image_to_video", {}),
            RunwayValidationError,
        ),
        (
            "/out.mp4",
            _echo(403),
            lambda c: c.download_output(c.base_url + "/out.mp4", io.BytesIO()),
            RunwayDownloadError,
        ),
    ],
)
def test_the_key_never_appears_in_errors_reprs_or_logs(stub_runway, slept, caplog, route, reply, call, error):
    caplog.set_level(logging.DEBUG)
    client = RunwayClient(stub_runway.url, KEY, max_retries=1, sleep=slept.append)
    for method in ("GET", "POST", "DELETE"):
        stub_runway.on(method, route, reply)

    with pytest.raises(error) as caught:
        call(client)

    assert type(caught.value) is error
    for text in (str(caught.value), repr(caught.value), repr(client), caplog.text):
        assert KEY not in text
        assert KEY[4:] not in text


def test_the_key_never_appears_when_runway_is_unreachable(caplog, slept):
    caplog.set_level(logging.DEBUG)
    client = RunwayClient(refused_url(), KEY, max_retries=1, sleep=slept.append)

    with pytest.raises(RunwayUnavailable) as caught:
        client.organization()

    assert KEY not in str(caught.value) + repr(caught.value) + caplog.text


# --- downloads --------------------------------------------------------------------------------------


class RecordingFile:
    """A write-only, non-seekable sink that remembers how it was written to."""

    def __init__(self) -> None:
        self.writes: list[int] = []
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.writes.append(len(chunk))
        self.data += chunk
        return len(chunk)

    def seekable(self) -> bool:
        return False


def test_it_streams_a_download_in_chunks(stub_runway, client):
    body = os.urandom(5 * 1024 + 7)
    stub_runway.on("GET", "/cdn/out.mp4", Reply(200, body, {"Content-Type": "video/mp4"}))
    sink = RecordingFile()

    written = client.download_output(f"{stub_runway.url}/cdn/out.mp4?_jwt=abc", sink, chunk_size=1024)

    assert written == len(body)
    assert bytes(sink.data) == body
    assert len(sink.writes) >= 6
    assert max(sink.writes) <= 1024


def test_it_never_sends_the_key_to_the_output_host(stub_runway, client):
    stub_runway.on("GET", "/cdn/out.mp4", Reply(200, b"video"))

    client.download_output(f"{stub_runway.url}/cdn/out.mp4", io.BytesIO())

    assert "Authorization" not in stub_runway.seen[0].headers


def test_it_detects_a_truncated_download_and_leaves_the_file_as_it_was(stub_runway, client):
    stub_runway.on("GET", "/cdn/out.mp4", Reply(200, os.urandom(100_000), truncate_to=40_000))
    target = io.BytesIO(b"header")
    target.seek(0, io.SEEK_END)

    with pytest.raises(RunwayDownloadError, match="cut short") as caught:
        client.download_output(f"{stub_runway.url}/cdn/out.mp4", target, chunk_size=8192)

    assert caught.value.retryable
    assert target.getvalue() == b"header"


def test_it_says_an_expired_output_link_needs_a_fresh_task_fetch(stub_runway, client):
    stub_runway.on("GET", "/cdn/out.mp4", Reply(403, b"<Error>Expired</Error>"))

    with pytest.raises(RunwayDownloadError, match="fetch the task again") as caught:
        client.download_output(f"{stub_runway.url}/cdn/out.mp4?_jwt=old", io.BytesIO())

    assert caught.value.retryable
    assert caught.value.status == 403
    assert stub_runway.count("GET", "/cdn/out.mp4") == 1


def test_it_retries_a_flaky_output_host(stub_runway, client):
    stub_runway.on("GET", "/cdn/out.mp4", Reply(502), Reply(200, b"video-bytes"))
    target = io.BytesIO()

    assert client.download_output(f"{stub_runway.url}/cdn/out.mp4", target) == len(b"video-bytes")
    assert target.getvalue() == b"video-bytes"


def test_it_refuses_a_download_over_the_size_limit(stub_runway, client):
    stub_runway.on("GET", "/cdn/out.mp4", Reply(200, os.urandom(10_000)))

    with pytest.raises(RunwayDownloadError, match="more than the 5000") as caught:
        client.download_output(f"{stub_runway.url}/cdn/out.mp4", io.BytesIO(), max_bytes=5000)

    assert not caught.value.retryable


def test_it_reports_an_unreachable_output_host_as_a_download_error(slept):
    client = RunwayClient(refused_url(), KEY, max_retries=1, sleep=slept.append)

    with pytest.raises(RunwayDownloadError) as caught:
        client.download_output(client.base_url + "/out.mp4", io.BytesIO())

    assert caught.value.retryable


# --- uploads of images too big for a data URI ----------------------------------------------------


def _jpeg(image: Image.Image, **save_args: object) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, **save_args)
    buffer.seek(0)
    return buffer


def _noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def test_an_image_too_big_for_a_data_uri_is_uploaded(stub_runway, client):
    data = prepare_image(_jpeg(_noise(3600, 3600)), max_side=3600)
    stub_runway.on(
        "POST",
        "/v1/uploads",
        Reply(
            200,
            {"uploadUrl": f"{stub_runway.url}/bucket", "fields": {"key": "k"}, "runwayUri": "runway://big"},
        ),
    )
    stub_runway.on("POST", "/bucket", Reply(201))

    uri = image_uri(data, client=client, filename="shot-1.jpg")

    assert len(data) * 4 / 3 > catalog.DATA_URI_MAX_CHARS
    assert uri == "runway://big"
    assert data in stub_runway.seen[-1].body


# --- against the simulator ----------------------------------------------------------------------------
# The same client, over loopback, against generation/simulator (fixtures from generation.simulator.testing).


@pytest.fixture
def sim_client(runway) -> RunwayClient:
    # Settings point at the simulator; a tiny backoff keeps retries real but quick.
    return RunwayClient(max_retries=2, backoff_base=0.001)


def _photo_uri(client: RunwayClient) -> str:
    image = Image.new("RGB", (320, 180), (40, 90, 160))
    return image_uri(prepare_image(_jpeg(image)), client=client)


def _wait_final(client: RunwayClient, task_id: str, timeout: float = 30.0) -> TaskState:
    deadline = time.monotonic() + timeout
    while True:
        task = client.get_task(task_id)
        if task.is_final or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def test_the_simulator_runs_an_image_to_video_task_to_a_downloadable_clip(runway, sim_client, tmp_path):
    created = sim_client.create_task(
        "image_to_video",
        {"model": "gen4_turbo", "promptImage": _photo_uri(sim_client), "ratio": "1280:720", "duration": 2},
    )

    task = _wait_final(sim_client, created.id)

    assert created.estimated_credits == 10
    assert task.status == "SUCCEEDED"
    assert task.cost_credits == 10
    assert len(task.output) == 1
    target = tmp_path / "out.mp4"
    with target.open("wb") as fh:
        written = sim_client.download_output(task.output[0], fh, chunk_size=4096)
    assert written == target.stat().st_size > 0
    assert target.read_bytes()[4:8] == b"ftyp"


def test_the_simulator_reports_a_pending_or_running_task_before_it_finishes(runway, sim_client):
    runway.configure(pending_seconds=5, running_seconds=5)
    created = sim_client.create_task(
        "text_to_video", {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2}
    )

    task = sim_client.get_task(created.id)

    assert task.status in ("PENDING", "THROTTLED", "RUNNING")
    assert not task.is_final
    assert task.estimated_credits == created.estimated_credits == 24
    assert task.created_at


def test_cancelling_a_simulated_task_makes_it_gone_and_a_second_cancel_is_harmless(runway, sim_client):
    runway.configure(pending_seconds=5)
    created = sim_client.create_task(
        "text_to_video", {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2}
    )

    sim_client.cancel_task(created.id)
    sim_client.cancel_task(created.id)

    with pytest.raises(RunwayTaskNotFound):
        sim_client.get_task(created.id)


def test_the_simulators_organization_shows_balance_limits_and_usage(runway, sim_client):
    runway.configure(credit_balance=777)
    sim_client.create_task(
        "text_to_video", {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2}
    )

    org = sim_client.organization()

    assert org.credit_balance == 777 - 24
    assert org.models["gen4.5"].max_concurrent == 2
    assert org.models["gen4.5"].daily_generations == 1
    assert org.models["veo3.1"].daily_generations == 0


def test_an_upload_to_the_simulator_gives_a_uri_it_accepts_as_an_image(runway, sim_client):
    data = prepare_image(_jpeg(Image.new("RGB", (320, 180), (200, 100, 50))))

    uri = sim_client.upload_ephemeral("first.jpg", data)
    created = sim_client.create_task(
        "image_to_video", {"model": "gen4_turbo", "promptImage": uri, "ratio": "1280:720", "duration": 2}
    )

    assert uri.startswith("runway://")
    assert _wait_final(sim_client, created.id).status == "SUCCEEDED"


def test_the_simulator_rejects_a_wrong_key_without_the_key_in_the_message(runway, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "key_" + "f" * 128
    client = RunwayClient(api_key=wrong, max_retries=2, backoff_base=0.001)

    with pytest.raises(RunwayAuthError, match="check RUNWAY_API_KEY") as caught:
        client.organization()

    assert wrong not in str(caught.value) + repr(caught.value) + caplog.text
    assert runway.api_key not in str(caught.value) + caplog.text


def test_the_simulators_validation_issues_reach_the_caller(runway, sim_client):
    with pytest.raises(RunwayValidationError, match="ratio") as caught:
        sim_client.create_task(
            "image_to_video",
            {
                "model": "gen4_turbo",
                "promptImage": _photo_uri(sim_client),
                "ratio": "1920:1080",
                "duration": 2,
            },
        )

    assert any(issue["path"] == ["ratio"] for issue in caught.value.issues)
    assert runway.tasks() == []


def test_the_simulator_refuses_a_task_the_account_cannot_pay_for(runway, sim_client):
    runway.configure(credit_balance=5)

    with pytest.raises(RunwayCreditsError, match="out of credits"):
        sim_client.create_task(
            "text_to_video",
            {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2},
        )


def test_the_simulators_daily_cap_ends_in_rate_limited(runway, sim_client):
    runway.configure(limits={"gen4.5": {"max_concurrent_generations": 2, "max_daily_generations": 0}})

    with pytest.raises(RunwayRateLimited, match="daily generations"):
        sim_client.create_task(
            "text_to_video",
            {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2},
        )


def test_the_client_rides_out_simulated_server_errors(runway, sim_client):
    created = sim_client.create_task(
        "text_to_video", {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2}
    )
    runway.fail_next("http_error", 2, status=503)

    assert sim_client.get_task(created.id).id == created.id


def test_a_lost_create_answer_is_not_resent(runway, sim_client):
    runway.fail_next("lost_response")

    with pytest.raises(RunwayUnavailable) as caught:
        sim_client.create_task(
            "text_to_video",
            {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2},
        )

    assert caught.value.maybe_created
    assert len(runway.tasks()) == 1


def test_a_simulated_moderation_failure_is_read_as_a_failed_task(runway, sim_client):
    runway.fail_next("moderation", code="SAFETY.INPUT.IMAGE")
    created = sim_client.create_task(
        "image_to_video",
        {"model": "gen4_turbo", "promptImage": _photo_uri(sim_client), "ratio": "1280:720", "duration": 2},
    )

    task = _wait_final(sim_client, created.id)

    assert task.status == "FAILED"
    assert task.failure_code == "SAFETY.INPUT.IMAGE"
    assert task.failure


def test_an_expired_or_truncated_simulated_download_is_a_retryable_download_error(runway, sim_client):
    created = sim_client.create_task(
        "text_to_video", {"model": "gen4.5", "promptText": "a harbour", "ratio": "1280:720", "duration": 2}
    )
    _wait_final(sim_client, created.id)

    runway.fail_next("expired_urls")
    with pytest.raises(RunwayDownloadError, match="fetch the task again") as expired:
        sim_client.download_output(sim_client.get_task(created.id).output[0], io.BytesIO())
    runway.fail_next("truncate_download")
    target = io.BytesIO()
    with pytest.raises(RunwayDownloadError, match="cut short") as truncated:
        sim_client.download_output(sim_client.get_task(created.id).output[0], target)
    fresh = io.BytesIO()
    written = sim_client.download_output(sim_client.get_task(created.id).output[0], fresh)

    assert expired.value.retryable
    assert truncated.value.retryable
    assert target.getvalue() == b""
    assert written == len(fresh.getvalue()) > 0
