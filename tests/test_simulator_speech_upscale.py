"""The simulator's POST /v1/text_to_speech and POST /v1/video_upscale, over real HTTP and real ffmpeg.

Bodies follow the SDK's TextToSpeechCreateParams and VideoUpscaleCreateParams (runwayml 5.24.0);
errors have Runway's 400 shapes (runway-api.md §6.2); faults and failures behave as for video.
"""

from __future__ import annotations

import base64
import math

import pytest
import requests

from generation import media, runway
from generation.simulator import runway_tables
from generation.simulator.render import render_clip

SCRIPT = "Morning light crosses the harbour as the first boats head out past the old stone pier"  # 16 words


def speech_body(**changes) -> dict:
    body = {
        "model": "eleven_multilingual_v2",
        "promptText": SCRIPT,
        "voice": {"type": "runway-preset", "presetId": "Maya"},
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def upscale_body(uri: str, **changes) -> dict:
    body = {"model": "magnific_video_upscaler_creative", "videoUri": uri, "resolution": "4k"}
    body.update(changes)
    return body


@pytest.fixture(scope="module")
def small_film(tmp_path_factory) -> bytes:
    """A one-second 320x180 clip with a tone, the shape of a tiny assembled film."""
    out = tmp_path_factory.mktemp("film") / "film.mp4"
    render_clip(
        out=out,
        width=320,
        height=180,
        duration=1,
        first_image=None,
        last_image=None,
        text="",
        with_audio=True,
    )
    return out.read_bytes()


def video_data_uri(data: bytes) -> str:
    return "data:video/mp4;base64," + base64.b64encode(data).decode()


def post(runway_sim, endpoint: str, body: dict) -> requests.Response:
    return requests.post(
        f"{runway_sim.base_url}/v1/{endpoint}", json=body, headers=runway_sim.api_headers, timeout=60
    )


def balance(runway_sim) -> int:
    return requests.get(
        f"{runway_sim.base_url}/v1/organization", headers=runway_sim.api_headers, timeout=10
    ).json()["creditBalance"]


def download(url: str, path):
    path.write_bytes(requests.get(url, timeout=30).content)
    return path


# ---------------------------------------------------------------------------------------------
# text_to_speech


def test_speech_lasts_as_long_as_its_script_takes_to_say(runway, tmp_path):
    response = post(runway, "text_to_speech", speech_body())

    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"])
    assert task["status"] == "SUCCEEDED"
    audio = media.probe_audio(download(task["output"][0], tmp_path / "speech.mp3"))
    # 16 words at 150 words a minute.
    assert audio.duration == pytest.approx(16 * 60 / runway_tables.WORDS_PER_MINUTE, abs=0.1)
    assert (audio.codec, audio.sample_rate, audio.channels) == ("mp3", 44100, 1)
    assert task["output"][0].split("?")[0].endswith(".mp3")


def test_a_faster_voice_is_shorter_and_tags_are_not_read(runway, tmp_path):
    body = speech_body(model="eleven_v3", promptText=f"[whispers] {SCRIPT} [laughs]", speed=1.2, seed=4)
    task = runway.wait_for_status(post(runway, "text_to_speech", body).json()["id"])

    audio = media.probe_audio(download(task["output"][0], tmp_path / "speech.mp3"))
    assert audio.duration == pytest.approx(16 * 60 / 150 / 1.2, abs=0.1)


def test_speech_costs_a_credit_per_fifty_characters(runway):
    before = balance(runway)
    script = "word " * 40 + "end"  # 203 characters

    response = post(runway, "text_to_speech", speech_body(promptText=script))
    task = runway.wait_for_status(response.json()["id"])

    assert response.json()["estimatedCost"] == {"credits": 5}
    assert task["cost"] == {"credits": 5}
    assert balance(runway) == before - 5


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"voice": None}, ["voice"], "invalid_type"),
        ({"voice": {"type": "runway-preset", "presetId": "Gandalf"}}, ["voice", "presetId"], "invalid_value"),
        ({"voice": {"type": "custom", "presetId": "Maya"}}, ["voice", "type"], "invalid_value"),
        ({"promptText": "x" * 1001}, ["promptText"], "too_big"),
        ({"promptText": ""}, ["promptText"], "too_small"),
        ({"speed": 1.1}, [], "unrecognized_keys"),  # eleven_multilingual_v2 takes no settings
        ({"model": "eleven_v3", "speed": 2}, ["speed"], "too_big"),
        (
            {"model": "eleven_v3", "applyTextNormalization": "always"},
            ["applyTextNormalization"],
            "invalid_value",
        ),
        ({"model": "eleven_v3", "seed": 1.5}, ["seed"], "invalid_type"),
        ({"model": "gen4_turbo"}, ["model"], "invalid_union"),
    ],
)
def test_an_invalid_speech_body_gets_runways_400(runway, changes, path, code):
    response = post(runway, "text_to_speech", speech_body(**changes))

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "Validation of body failed"
    assert body["docUrl"] == "https://docs.dev.runwayml.com/api"
    assert [path, code] in [[issue["path"], issue["code"]] for issue in body["issues"]]
    assert runway.tasks() == []


def test_eleven_v3_takes_a_longer_script_than_multilingual_v2(runway):
    script = "a " * 1500

    assert post(runway, "text_to_speech", speech_body(promptText=script)).status_code == 400
    assert (
        post(runway, "text_to_speech", speech_body(model="eleven_v3", promptText=script)).status_code == 200
    )


@pytest.mark.parametrize(("code", "charged"), [("SAFETY.INPUT.TEXT", True), ("INTERNAL", False)])
def test_a_failed_speech_task_is_charged_or_refunded_like_a_clip(runway, code, charged):
    before = balance(runway)
    runway.fail_next("moderation" if code.startswith("SAFETY") else "fail", code=code)

    created = post(runway, "text_to_speech", speech_body()).json()
    task = runway.wait_for_status(created["id"])

    assert task["status"] == "FAILED"
    assert task["failureCode"] == code
    cost = created["estimatedCost"]["credits"] if charged else 0
    assert task["cost"] == {"credits": cost}
    assert "output" not in task
    assert balance(runway) == before - cost


def test_a_prompt_marker_fails_one_speech_task_and_can_keep_its_charge(runway):
    before = balance(runway)
    body = speech_body(promptText=f"[sim:fail=SAFETY.OUTPUT.THIRD_PARTY][sim:charge] {SCRIPT}")

    task = runway.wait_for_status(post(runway, "text_to_speech", body).json()["id"])

    # Markers are characters sent, so they are billed like the rest of the script.
    charge = math.ceil(len(body["promptText"]) / 50)
    assert (task["status"], task["failureCode"]) == ("FAILED", "SAFETY.OUTPUT.THIRD_PARTY")
    assert task["cost"] == {"credits": charge}
    assert balance(runway) == before - charge


def test_a_lost_create_response_still_makes_and_charges_the_speech_task(runway):
    before = balance(runway)
    runway.fail_next("lost_response", status=504)

    response = post(runway, "text_to_speech", speech_body())

    assert response.status_code == 504
    [task] = runway.tasks()
    assert task["endpoint"] == "text_to_speech"
    assert balance(runway) == before - 2


def test_the_client_creates_and_downloads_speech(runway, tmp_path):
    client = runway_client(runway)
    created = client.create_task("text_to_speech", speech_body())
    runway.wait_for_status(created.id)

    state = client.get_task(created.id)
    with (tmp_path / "speech.mp3").open("wb") as fh:
        written = client.download_output(state.output[0], fh)

    assert created.estimated_credits == 2
    assert (state.status, state.cost_credits) == ("SUCCEEDED", 2)
    assert written == (tmp_path / "speech.mp3").stat().st_size
    assert media.probe_audio(tmp_path / "speech.mp3").duration > 6


def test_a_truncated_speech_download_is_a_retryable_download_error(runway, tmp_path):
    client = runway_client(runway)
    created = client.create_task("text_to_speech", speech_body())
    runway.wait_for_status(created.id)
    runway.fail_next("truncate_download", fraction=0.3)

    state = client.get_task(created.id)
    with (
        (tmp_path / "speech.mp3").open("wb") as fh,
        pytest.raises(runway_module.RunwayDownloadError) as caught,
    ):
        client.download_output(state.output[0], fh)

    assert caught.value.retryable


runway_module = runway


def runway_client(runway_sim) -> runway.RunwayClient:
    return runway.RunwayClient(runway_sim.base_url, runway_sim.api_key, max_retries=0)


# ---------------------------------------------------------------------------------------------
# video_upscale


def test_a_film_is_upscaled_to_3840x2160_with_its_length_and_sound(runway, small_film, tmp_path):
    response = post(
        runway, "video_upscale", upscale_body(video_data_uri(small_film), creativity=20, flavor="natural")
    )

    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"], timeout=120)
    assert task["status"] == "SUCCEEDED", task
    master = media.probe(download(task["output"][0], tmp_path / "master.mp4"))
    assert (master.width, master.height) == (3840, 2160)
    assert master.duration == pytest.approx(1.0, abs=0.05)
    assert master.has_audio
    # 24 frames at $0.012 a frame: 28.8 credits, rounded up.
    assert response.json()["estimatedCost"] == {"credits": 29}
    assert task["cost"] == {"credits": 29}


def test_a_portrait_film_is_mastered_at_the_4k_size_for_its_ratio(runway, tmp_path):
    portrait = tmp_path / "portrait.mp4"
    render_clip(
        out=portrait,
        width=72,
        height=128,
        duration=1,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )

    task = runway.wait_for_status(
        post(
            runway, "video_upscale", upscale_body(video_data_uri(portrait.read_bytes()), resolution="720p")
        ).json()["id"],
        timeout=60,
    )

    master = media.probe(download(task["output"][0], tmp_path / "master.mp4"))
    assert (master.width, master.height) == (720, 1280)
    assert not master.has_audio
    assert task["cost"] == {"credits": math.ceil(24 * 0.7)}


def test_a_film_above_the_data_uri_limit_goes_up_as_an_upload(runway, small_film, tmp_path):
    runway.configure(video_data_uri_max_chars=1000)
    client = runway_client(runway)

    refused = post(runway, "video_upscale", upscale_body(video_data_uri(small_film)))
    uri = client.video_uri("film.mp4", small_film, data_uri_max_chars=1000)
    created = client.create_task("video_upscale", upscale_body(uri, resolution="720p"))
    task = runway.wait_for_status(created.id, timeout=60)

    assert refused.status_code == 400
    assert [["videoUri"], "too_big"] in [[i["path"], i["code"]] for i in refused.json()["issues"]]
    assert uri.startswith("runway://")
    assert task["status"] == "SUCCEEDED"
    assert media.probe(download(task["output"][0], tmp_path / "master.mp4")).width == 1280


def test_a_video_data_uri_is_capped_at_5_mb_as_the_sdk_says(runway):
    prefix = "data:video/mp4;base64,"
    oversized = prefix + "A" * (5_242_880 - len(prefix) + 4)

    refused = post(runway, "video_upscale", upscale_body(oversized))

    assert refused.status_code == 400
    issues = refused.json()["issues"]
    assert [(i["path"], i["code"], i.get("maximum")) for i in issues] == [
        (["videoUri"], "too_big", 5_242_880)
    ]


def test_an_uploaded_video_needs_a_video_extension(runway, small_film):
    slot = post(runway, "uploads", {"filename": "film.png", "type": "ephemeral"}).json()
    sent = requests.post(
        slot["uploadUrl"], data=slot["fields"], files={"file": ("film.png", small_film)}, timeout=30
    )

    refused = post(runway, "video_upscale", upscale_body(slot["runwayUri"]))

    assert sent.status_code == 204
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("videoUri: ")


def test_a_small_film_goes_as_a_data_uri(runway, small_film):
    uri = runway_client(runway).video_uri("film.mp4", small_film)

    assert uri.startswith("data:video/mp4;base64,")
    assert not any(entry["path"] == "/v1/uploads" for entry in runway.requests_log())


def test_a_film_over_30_seconds_gets_the_400_runway_gives(runway, tmp_path):
    long_film = tmp_path / "long.mp4"
    render_clip(
        out=long_film,
        width=64,
        height=36,
        duration=31,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )

    response = post(runway, "video_upscale", upscale_body(video_data_uri(long_film.read_bytes())))

    assert response.status_code == 400
    assert response.json() == {
        "error": "Validation of body failed",
        "issues": [
            {
                "code": "too_big",
                "maximum": 30,
                "type": "number",
                "inclusive": True,
                "origin": "number",
                "message": "Asset duration must be at most 30 seconds",
                "path": ["videoUri"],
            }
        ],
        "docUrl": "https://docs.dev.runwayml.com/api",
    }
    assert runway.tasks() == []


@pytest.mark.parametrize(
    ("changes", "path", "code"),
    [
        ({"resolution": "8k"}, ["resolution"], "invalid_value"),
        ({"creativity": 101}, ["creativity"], "too_big"),
        ({"sharpen": 2.5}, ["sharpen"], "invalid_type"),
        ({"smartGrain": -1}, ["smartGrain"], "too_small"),
        ({"flavor": "cinematic"}, ["flavor"], "invalid_value"),
        ({"fpsBoost": "yes"}, ["fpsBoost"], "invalid_type"),
        ({"ratio": "1280:720"}, [], "unrecognized_keys"),
        ({"videoUri": "http://example.com/film.mp4"}, ["videoUri"], "invalid_union"),
        ({"videoUri": "data:image/png;base64,AAAA"}, ["videoUri"], "invalid_union"),
        ({"videoUri": None}, ["videoUri"], "invalid_type"),
    ],
)
def test_an_invalid_upscale_body_gets_runways_400(runway, small_film, changes, path, code):
    body = {
        key: value
        for key, value in upscale_body(video_data_uri(small_film), **changes).items()
        if value is not None
    }

    response = post(runway, "video_upscale", body)

    assert response.status_code == 400
    assert [path, code] in [[issue["path"], issue["code"]] for issue in response.json()["issues"]]
    assert runway.tasks() == []


def test_bytes_that_are_not_a_video_are_an_asset_error(runway):
    response = post(
        runway,
        "video_upscale",
        upscale_body("data:video/mp4;base64," + base64.b64encode(b"not a film" * 10).decode()),
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("videoUri: Invalid asset")


def test_an_unknown_upload_is_an_asset_error(runway):
    response = post(
        runway,
        "video_upscale",
        upscale_body("runway://uploads/00000000-0000-4000-8000-000000000000/film.mp4"),
    )

    assert response.status_code == 400
    assert "videoUri" in response.json()["error"]


@pytest.mark.parametrize(
    ("kind", "code", "charged"),
    [("moderation", "SAFETY.INPUT.TEXT", True), ("bad_output", "INTERNAL.BAD_OUTPUT.CODE01", False)],
)
def test_a_failed_upscale_is_charged_or_refunded_like_a_clip(runway, small_film, kind, code, charged):
    before = balance(runway)
    runway.fail_next(kind)

    created = post(runway, "video_upscale", upscale_body(video_data_uri(small_film))).json()
    task = runway.wait_for_status(created["id"])

    cost = created["estimatedCost"]["credits"] if charged else 0
    assert (task["status"], task["failureCode"], task["cost"]) == ("FAILED", code, {"credits": cost})
    assert balance(runway) == before - cost


def test_cancelling_a_running_upscale_keeps_its_charge_and_a_pending_one_is_refunded(runway, small_film):
    before = balance(runway)
    runway.fail_next("slow", 2, seconds=30)
    running = post(runway, "video_upscale", upscale_body(video_data_uri(small_film))).json()["id"]
    runway.wait_for_status(running, "RUNNING")
    runway.configure(pending_seconds=30)
    pending = post(runway, "video_upscale", upscale_body(video_data_uri(small_film))).json()["id"]

    running_task = runway.cancel(running)
    pending_task = runway.cancel(pending)

    assert (running_task["status"], running_task["cost"]) == ("CANCELLED", {"credits": 29})
    assert (pending_task["status"], pending_task["cost"]) == ("CANCELLED", {"credits": 0})
    assert balance(runway) == before - 29


def test_an_upscale_beyond_the_daily_cap_is_a_429(runway, small_film):
    runway.configure(limits={"magnific_video_upscaler_creative": {"max_daily_generations": 1}})

    first = post(runway, "video_upscale", upscale_body(video_data_uri(small_film), resolution="720p"))
    second = post(runway, "video_upscale", upscale_body(video_data_uri(small_film), resolution="720p"))

    assert first.status_code == 200
    assert second.status_code == 429


def test_output_sizes_follow_the_captured_tiers():
    model = runway_tables.UPSCALE_MODELS["magnific_video_upscaler_creative"]

    # The two live captures, then the 4K tier for each of Runway's clip ratios.
    assert model.output_size(640, 360, "1k") == (1920, 1072)
    assert model.output_size(1280, 720, "2k") == (2560, 1440)
    assert model.output_size(1280, 720, "4k") == (3840, 2160)
    assert model.output_size(1920, 1080, "4k") == (3840, 2160)
    assert model.output_size(720, 1280, "4k") == (2160, 3840)
    assert model.output_size(960, 960, "4k") == (3840, 3840)
    assert model.cost(frames=90, resolution="1k") == 63
    assert model.cost(frames=90, resolution="2k") == 81
