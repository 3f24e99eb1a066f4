"""Conformance: Runway's official Python SDK (runwayml 5.24.0) drives the simulator as it drives Runway.

The SDK parses every response into its own typed models, so a shape the simulator got wrong fails
here. `wait_for_task_output()` sleeps 4.5-7.5 s before each poll: only two tests use it.
"""

from __future__ import annotations

import base64
import io

import httpx
import pytest
import requests
from PIL import Image
from runwayml import APIStatusError, BadRequestError, NotFoundError, RateLimitError, RunwayML
from runwayml.lib.polling import TaskFailedError

from generation import media
from tests.helpers import png


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.fixture
def client(runway) -> RunwayML:
    # No retries by default: a test that wants the SDK's retry policy asks for it.
    return RunwayML(api_key=runway.api_key, base_url=runway.base_url, max_retries=0)


def _poll(client: RunwayML, task_id: str, *statuses: str, timeout: float = 30):
    """Poll quickly with tasks.retrieve (wait_for_task_output would sleep 6 s per poll)."""
    import time

    wanted = set(statuses) or {"SUCCEEDED", "FAILED", "CANCELLED"}
    deadline = time.monotonic() + timeout
    while True:
        task = client.tasks.retrieve(task_id)
        if task.status in wanted or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def test_sdk_image_to_video_on_gen4_turbo_waits_for_a_downloadable_clip(client, tmp_path):
    created = client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=_data_uri(png()),
        ratio="1280:720",
        duration=2,
        prompt_text="a slow push towards the window",
        seed=7,
        content_moderation={"public_figure_threshold": "auto"},
    )
    assert created.estimated_cost.credits == 10

    task = created.wait_for_task_output(timeout=60)

    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 10
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(httpx.get(task.output[0]).content)
    info = media.probe(clip)
    assert (info.width, info.height, info.has_audio) == (320, 180, False)


def test_sdk_wait_raises_task_failed_for_a_moderated_task(client):
    created = client.image_to_video.create(
        model="gen4_turbo",
        prompt_image=_data_uri(png()),
        ratio="720:1280",
        prompt_text="[sim:fail=SAFETY.INPUT.IMAGE] a portrait",
    )

    with pytest.raises(TaskFailedError) as failed:
        created.wait_for_task_output(timeout=60)

    details = failed.value.task_details
    # Runway keeps the charge of a SAFETY.INPUT failure: gen4_turbo's default 10 s at 5 credits.
    assert (details.status, details.failure_code, details.cost.credits) == (
        "FAILED",
        "SAFETY.INPUT.IMAGE",
        50,
    )
    assert details.failure


def test_sdk_image_to_video_on_veo3_1_with_first_and_last_frames(client, tmp_path):
    created = client.image_to_video.create(
        model="veo3.1",
        prompt_image=[
            {"uri": _data_uri(png(colour=(200, 30, 30))), "position": "first"},
            {"uri": _data_uri(png(colour=(30, 30, 200))), "position": "last"},
        ],
        ratio="1920:1080",
        duration=4,
        prompt_text="the room turns from red to blue",
        negative_prompt="people",
    )
    assert created.estimated_cost.credits == 160

    task = _poll(client, created.id)

    assert task.status == "SUCCEEDED"
    clip = tmp_path / "veo.mp4"
    clip.write_bytes(httpx.get(task.output[0]).content)
    info = media.probe(clip)
    assert (info.width, info.height, info.audio_codec) == (480, 270, "aac")


def test_sdk_text_to_video_on_veo3_1_fast(client):
    created = client.text_to_video.create(
        model="veo3.1_fast", prompt_text="a harbour at dawn", ratio="1080:1920", duration=6, audio=False
    )

    assert created.estimated_cost.credits == 60
    assert _poll(client, created.id).status == "SUCCEEDED"


def test_sdk_retrieve_sees_each_state_of_a_task(client, runway):
    runway.configure(pending_seconds=60)
    pending = client.image_to_video.create(model="gen4_turbo", prompt_image=_data_uri(png()), ratio="960:960")
    runway.configure(pending_seconds=0)
    running = client.image_to_video.create(
        model="gen4_turbo", prompt_image=_data_uri(png()), ratio="960:960", prompt_text="[sim:slow=60]"
    )
    runway.cancel(pending.id)

    assert client.tasks.retrieve(pending.id).status == "CANCELLED"
    task = _poll(client, running.id, "RUNNING")
    assert task.status == "RUNNING"
    assert 0 <= task.progress <= 1
    assert task.estimated_cost.credits == 50


def test_sdk_delete_then_retrieve_raises_not_found(client):
    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720"
    )

    client.tasks.delete(created.id)

    with pytest.raises(NotFoundError) as missing:
        client.tasks.retrieve(created.id)
    assert missing.value.body == {"error": "Could not find Task"}
    with pytest.raises(NotFoundError):
        client.tasks.delete(created.id)


def test_sdk_reads_the_organization(client, runway):
    runway.configure(credit_balance=777, limits={"image": {"max_concurrent_generations": None}})
    client.text_to_video.create(model="gen4.5", prompt_text="a lighthouse", ratio="720:1280", duration=5)

    org = client.organization.retrieve()

    assert org.credit_balance == 777 - 60
    assert org.tier.models["gen4_turbo"].max_concurrent_generations == 2
    # null is "no limit" in the SDK's types, and the limit is the whole kind's.
    assert org.tier.models["gen4_image"].max_concurrent_generations is None
    assert org.tier.models["gen4_image_turbo"].max_concurrent_generations is None
    assert org.usage.models["gen4.5"].daily_generations == 1


def test_sdk_reads_a_tier_1_organization_with_limits_for_every_model(client, runway):
    runway.set_tier(1)
    client.image_to_video.create(
        model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720", duration=2
    )
    client.text_to_video.create(model="veo3.1_fast", prompt_text="a harbour", ratio="1280:720", duration=4)

    org = client.organization.retrieve()

    assert org.tier.max_monthly_credit_spend == 10_000  # $100 at $0.01 a credit
    for model in ("gen4_turbo", "gen4.5", "veo3.1", "veo3.1_fast", "magnific_video_upscaler_creative"):
        limits = org.tier.models[model]
        assert (limits.max_concurrent_generations, limits.max_daily_generations) == (1, 50)
    assert org.tier.models["gen4_image"].max_daily_generations == 200
    assert org.tier.models["eleven_v3"].max_daily_generations == 200
    assert {m: u.daily_generations for m, u in org.usage.models.items()} == {
        "gen4_turbo": 1,
        "veo3.1_fast": 1,
    }


def test_sdk_raises_rate_limit_for_the_daily_cap_with_a_body_that_names_it(client, runway):
    runway.set_tier(1)
    runway.configure(limits={"video": {"max_daily_generations": 1}})
    client.image_to_video.create(
        model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720", duration=2
    )

    with pytest.raises(RateLimitError) as capped:
        client.text_to_video.create(model="gen4.5", prompt_text="a lighthouse", ratio="720:1280", duration=2)

    assert capped.value.status_code == 429
    assert set(capped.value.body) == {"error"}
    assert "maximum number of daily generations" in capped.value.body["error"]
    runway.advance_day()
    created = client.text_to_video.create(
        model="gen4.5", prompt_text="a lighthouse", ratio="720:1280", duration=2
    )
    assert created.estimated_cost.credits == 24


def test_sdk_raises_rate_limit_for_a_throttle_without_naming_the_daily_cap(client, runway):
    runway.fail_next("rate_limit")

    with pytest.raises(RateLimitError) as limited:
        client.image_to_video.create(model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720")

    assert "daily" not in limited.value.body["error"]


def test_sdk_takes_a_data_image_jpg_uri_as_runways_docs_write_it(client):
    out = io.BytesIO()
    Image.new("RGB", (640, 360), (40, 120, 200)).save(out, "JPEG")
    uri = "data:image/jpg;base64," + base64.b64encode(out.getvalue()).decode()

    created = client.image_to_video.create(model="gen4_turbo", prompt_image=uri, ratio="1280:720", duration=2)

    assert _poll(client, created.id).status == "SUCCEEDED"


def test_sdk_upload_of_a_file_under_512_bytes_is_refused(client):
    with pytest.raises(APIStatusError) as refused:
        client.uploads.create_ephemeral(file=("tiny.png", b"\x89PNG" + b"\0" * 100))

    assert refused.value.status_code == 400
    assert "EntityTooSmall" in refused.value.body


def test_sdk_upload_of_a_name_without_an_extension_is_a_bad_request(client, runway):
    with pytest.raises(BadRequestError) as refused:
        client.uploads.create_ephemeral(file=("frame", png()))

    assert refused.value.body["issues"][0]["path"] == ["filename"]


def test_sdk_estimate_and_cost_follow_a_raised_price(client, runway):
    runway.set_price("gen4_turbo", credits_per_second=8)

    created = client.image_to_video.create(
        model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720", duration=2
    )

    assert created.estimated_cost.credits == 16
    assert _poll(client, created.id).cost.credits == 16


def test_sdk_ephemeral_upload_gives_a_usable_runway_uri(client):
    upload = client.uploads.create_ephemeral(file=("frame.png", png((800, 600))))

    assert upload.uri.startswith("runway://")
    created = client.image_to_video.create(
        model="gen4.5", prompt_image=upload.uri, ratio="1104:832", duration=2, prompt_text="a desk"
    )
    assert _poll(client, created.id).status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (
            lambda c: c.image_to_video.create(
                model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1920:1080"
            ),
            ["ratio"],
        ),
        (lambda c: c.text_to_video.create(model="gen4_turbo", prompt_text="x", ratio="1280:720"), ["model"]),
        (
            lambda c: c.image_to_video.create(
                model="veo3.1", prompt_image=_data_uri(png()), ratio="1280:720", duration=5
            ),
            ["duration"],
        ),
        (
            lambda c: c.image_to_video.create(
                model="gen4.5", prompt_image=_data_uri(png()), ratio="1280:720", duration=5
            ),
            ["promptText"],
        ),
        (
            lambda c: c.image_to_video.create(
                model="gen4_turbo",
                prompt_image=[{"uri": _data_uri(png()), "position": "last"}],
                ratio="1280:720",
            ),
            ["promptImage", 0, "position"],
        ),
    ],
)
def test_sdk_raises_bad_request_with_issues_for_invalid_bodies(client, runway, call, path):
    with pytest.raises(BadRequestError) as refused:
        call(client)

    body = refused.value.body
    assert body["error"] == "Validation of body failed"
    assert path in [issue["path"] for issue in body["issues"]]
    assert runway.tasks() == []


def test_sdk_raises_bad_request_when_credits_run_out(client, runway):
    runway.configure(credit_balance=5)

    with pytest.raises(BadRequestError) as refused:
        client.image_to_video.create(model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720")
    assert refused.value.body == {"error": "You do not have enough credits to run this task."}


def test_sdk_retries_a_503_burst_and_gives_up_on_the_daily_cap(runway):
    client = RunwayML(api_key=runway.api_key, base_url=runway.base_url, max_retries=2)
    runway.fail_next("http_error", count=2, status=503)
    assert client.organization.retrieve().credit_balance == 100_000

    runway.configure(limits={"gen4_turbo": {"max_daily_generations": 0}})
    with pytest.raises(RateLimitError):
        client.image_to_video.create(model="gen4_turbo", prompt_image=_data_uri(png()), ratio="1280:720")
    retries = [r["retryCount"] for r in runway.requests_log() if r["path"] == "/v1/image_to_video"]
    assert retries == ["0", "1", "2"]


def test_raw_requests_with_the_sdks_own_headers_are_accepted(runway):
    headers = {**runway.api_headers, "User-Agent": "RunwayML/Python 5.24.0", "x-stainless-retry-count": "0"}

    assert requests.get(f"{runway.base_url}/v1/organization", headers=headers, timeout=10).status_code == 200


# ---------------------------------------------------------------------------------------------
# text_to_speech and video_upscale (narration and 4K masters)


def test_sdk_text_to_speech_makes_downloadable_speech(client, tmp_path):
    created = client.text_to_speech.create(
        model="eleven_v3",
        prompt_text="[calm] Welcome to the house on the hill, where every room looks out to sea.",
        voice={"type": "runway-preset", "preset_id": "Rachel"},
        speed=1.0,
        stability=0.5,
        apply_text_normalization="auto",
    )
    assert created.estimated_cost.credits == 2

    task = _poll(client, created.id)

    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 2
    speech = tmp_path / "speech.mp3"
    speech.write_bytes(httpx.get(task.output[0]).content)
    assert media.probe_audio(speech).duration == pytest.approx(14 * 60 / 150, abs=0.1)


def test_sdk_text_to_speech_bad_voice_is_a_bad_request(client):
    with pytest.raises(BadRequestError) as caught:
        client.text_to_speech.create(
            model="eleven_multilingual_v2",
            prompt_text="Hello",
            voice={"type": "runway-preset", "preset_id": "Nobody"},  # type: ignore[typeddict-item]
        )

    assert caught.value.status_code == 400
    assert caught.value.body["issues"][0]["path"] == ["voice", "presetId"]


def test_sdk_video_upscale_makes_a_4k_master(client, tmp_path):
    film = tmp_path / "film.mp4"
    from generation.simulator.render import render_clip

    render_clip(
        out=film,
        width=320,
        height=180,
        duration=1,
        first_image=None,
        last_image=None,
        text="",
        with_audio=True,
    )
    created = client.video_upscale.create(
        model="magnific_video_upscaler_creative",
        video_uri="data:video/mp4;base64," + base64.b64encode(film.read_bytes()).decode(),
        resolution="4k",
        creativity=10,
        flavor="vivid",
        fps_boost=False,
    )
    assert created.estimated_cost.credits == 29

    task = _poll(client, created.id, timeout=120)

    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 29
    master = tmp_path / "master.mp4"
    master.write_bytes(httpx.get(task.output[0]).content)
    info = media.probe(master)
    assert (info.width, info.height, info.has_audio) == (3840, 2160, True)


def test_sdk_video_upscale_over_an_upload(client, runway, tmp_path):
    film = tmp_path / "film.mp4"
    from generation.simulator.render import render_clip

    render_clip(
        out=film,
        width=320,
        height=180,
        duration=1,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )
    with film.open("rb") as fh:
        uploaded = client.uploads.create_ephemeral(file=("film.mp4", fh, "video/mp4"))

    created = client.video_upscale.create(
        model="magnific_video_upscaler_creative", video_uri=uploaded.uri, resolution="720p"
    )
    task = _poll(client, created.id, timeout=60)

    assert uploaded.uri.startswith("runway://")
    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 17  # 24 frames at 0.7 credits
