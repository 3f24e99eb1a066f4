"""The simulator's organisation as Runway runs one: tiers whose limits each kind of model (video,
image, audio) shares, the daily cap's 429 and its rolling reset, price changes the catalog does not
know of, and 4K masters a few pixels off the guessed size. Real HTTP on loopback throughout."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from generation import catalog, media
from generation.simulator import SimulatorControl
from generation.simulator.render import render_clip
from generation.simulator.runway_tables import TIERS
from tests.helpers import png


def _png_data_uri() -> str:
    return "data:image/png;base64," + base64.b64encode(png(colour=(90, 140, 60))).decode()


IMAGE = _png_data_uri()
GEN4_TURBO = {"model": "gen4_turbo", "promptImage": IMAGE, "ratio": "1280:720", "duration": 2}
VEO_FAST = {"model": "veo3.1_fast", "promptText": "a harbour", "ratio": "1280:720", "duration": 4}
GEN45 = {"model": "gen4.5", "promptText": "a lighthouse", "ratio": "720:1280", "duration": 2}
STILL = {"model": "gen4_image", "promptText": "a chair by a window", "ratio": "1280:720"}
SPEECH = {
    "model": "eleven_multilingual_v2",
    "promptText": "Welcome home.",
    "voice": {"type": "runway-preset", "presetId": "Maya"},
}
ENDPOINTS = {
    "gen4_turbo": "image_to_video",
    "gen4_image": "text_to_image",
    "eleven_multilingual_v2": "text_to_speech",
}


def post(sim: SimulatorControl, body: dict, endpoint: str | None = None) -> requests.Response:
    endpoint = endpoint or ENDPOINTS.get(body["model"], "text_to_video")
    return requests.post(f"{sim.base_url}/v1/{endpoint}", json=body, headers=sim.api_headers, timeout=30)


def create(sim: SimulatorControl, body: dict, endpoint: str | None = None) -> dict:
    response = post(sim, body, endpoint)
    assert response.status_code == 200, response.text
    return response.json()


def organization(sim: SimulatorControl) -> dict:
    return requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10).json()


def status(sim: SimulatorControl, task_id: str) -> str:
    return sim.get_task(task_id).json()["status"]


@pytest.fixture
def parked(runway):
    """Tasks wait a minute before they run, so nothing renders and counts stay put."""
    runway.configure(pending_seconds=60)
    return runway


# ---------------------------------------------------------------------------------------------
# Tiers


@pytest.mark.parametrize("tier", sorted(TIERS))
def test_each_tier_reports_runways_published_limits_for_every_model(runway, tier):
    runway.set_tier(tier)

    org = organization(runway)

    published = TIERS[tier]
    assert org["tier"]["maxMonthlyCreditSpend"] == published.max_monthly_credit_spend
    video = published.limits["video"]
    for model in ("gen4_turbo", "gen4.5", "veo3.1", "veo3.1_fast", "magnific_video_upscaler_creative"):
        assert org["tier"]["models"][model] == {
            "maxConcurrentGenerations": video.max_concurrent_generations,
            "maxDailyGenerations": video.max_daily_generations,
        }
    assert (
        org["tier"]["models"]["gen4_image"]["maxDailyGenerations"]
        == published.limits["image"].max_daily_generations
    )
    assert (
        org["tier"]["models"]["eleven_v3"]["maxDailyGenerations"]
        == published.limits["audio"].max_daily_generations
    )


def test_tier_1_is_one_video_at_a_time_50_a_day_and_10000_credits_a_month(runway):
    runway.set_tier(1)

    org = organization(runway)

    assert org["tier"]["models"]["gen4_turbo"] == {"maxConcurrentGenerations": 1, "maxDailyGenerations": 50}
    assert org["tier"]["maxMonthlyCreditSpend"] == 10_000
    # A tier changes limits, not the balance (the test fixture's stays large).
    assert org["creditBalance"] == 100_000


def test_an_unknown_tier_is_refused_and_changes_nothing(runway):
    with pytest.raises(requests.HTTPError):
        runway.set_tier(6)

    assert runway.config()["tier"] is None
    assert organization(runway)["tier"]["models"]["gen4_turbo"]["maxConcurrentGenerations"] == 2


def test_untiered_is_the_generous_default_and_set_tier_none_restores_it(runway):
    assert runway.config()["tier"] is None
    runway.set_tier(1)
    runway.set_tier(None)

    org = organization(runway)

    assert org["tier"]["models"]["veo3.1"] == {"maxConcurrentGenerations": 2, "maxDailyGenerations": 200}
    assert org["tier"]["maxMonthlyCreditSpend"] == 100_000


# ---------------------------------------------------------------------------------------------
# Concurrency, shared per kind


def test_at_tier_1_a_second_video_of_any_model_is_throttled_while_other_kinds_run(parked):
    parked.set_tier(1)
    first = create(parked, GEN4_TURBO)["id"]
    second = create(parked, VEO_FAST)["id"]
    still = create(parked, STILL)["id"]
    speech = create(parked, SPEECH)["id"]

    assert status(parked, first) == "PENDING"
    assert status(parked, second) == "THROTTLED"
    assert status(parked, still) == "PENDING"
    assert status(parked, speech) == "PENDING"


def test_a_throttled_video_gets_the_kinds_slot_when_another_models_video_ends(runway):
    runway.set_tier(1)
    runway.configure(pending_seconds=60)
    first = create(runway, GEN4_TURBO)["id"]
    runway.configure(pending_seconds=0.05)
    second = create(runway, GEN45)["id"]
    assert status(runway, second) == "THROTTLED"

    requests.delete(f"{runway.base_url}/v1/tasks/{first}", headers=runway.api_headers, timeout=10)

    assert runway.wait_for_status(second, "RUNNING", "SUCCEEDED")["status"] in ("RUNNING", "SUCCEEDED")


def test_null_concurrency_is_no_limit(parked):
    parked.configure(limits={"video": {"max_concurrent_generations": None}})
    ids = [create(parked, GEN4_TURBO)["id"] for _ in range(4)]

    assert [status(parked, task_id) for task_id in ids] == ["PENDING"] * 4
    assert organization(parked)["tier"]["models"]["gen4.5"]["maxConcurrentGenerations"] is None


# ---------------------------------------------------------------------------------------------
# The daily cap


def test_at_tier_1_the_51st_video_of_the_day_is_refused_with_a_429_that_names_the_daily_cap(parked):
    parked.set_tier(1)
    for number in range(50):
        create(parked, GEN4_TURBO if number % 2 else VEO_FAST)

    refused = post(parked, GEN45)

    assert refused.status_code == 429
    assert set(refused.json()) == {"error"}
    assert re.search(r"daily generations \(50 in 24 hours for video models", refused.json()["error"])
    assert len(parked.tasks()) == 50
    # Images have a cap of their own.
    assert post(parked, STILL).status_code == 200


def test_the_organisation_reports_each_models_own_count_and_they_add_up_to_the_cap(parked):
    parked.set_tier(1)
    parked.configure(limits={"video": {"max_daily_generations": 3}})
    for body in (GEN4_TURBO, GEN4_TURBO, VEO_FAST):
        create(parked, body)

    org = organization(parked)

    assert org["usage"]["models"] == {
        "gen4_turbo": {"dailyGenerations": 2},
        "veo3.1_fast": {"dailyGenerations": 1},
    }
    assert post(parked, GEN45).status_code == 429


def test_a_refused_create_charges_nothing_and_counts_nothing(parked):
    parked.configure(limits={"video": {"max_daily_generations": 1}})
    create(parked, GEN4_TURBO)
    balance = organization(parked)["creditBalance"]

    assert post(parked, GEN4_TURBO).status_code == 429
    org = organization(parked)
    assert org["creditBalance"] == balance
    assert org["usage"]["models"] == {"gen4_turbo": {"dailyGenerations": 1}}


def test_failed_and_cancelled_tasks_still_count_towards_the_day(runway):
    runway.configure(limits={"video": {"max_daily_generations": 2}})
    runway.fail_next("bad_output")
    failed = create(runway, GEN4_TURBO)["id"]
    runway.wait_for_status(failed, "FAILED")
    runway.configure(pending_seconds=60)
    cancelled = create(runway, GEN4_TURBO)["id"]
    requests.delete(f"{runway.base_url}/v1/tasks/{cancelled}", headers=runway.api_headers, timeout=10)

    assert post(runway, GEN4_TURBO).status_code == 429


def test_advance_day_crosses_the_reset_so_a_capped_run_can_resume(parked):
    parked.set_tier(1)
    parked.configure(limits={"video": {"max_daily_generations": 2}})
    create(parked, GEN4_TURBO)
    create(parked, GEN4_TURBO)
    assert post(parked, GEN4_TURBO).status_code == 429

    parked.advance_day()

    assert organization(parked)["usage"]["models"] == {}
    assert post(parked, GEN4_TURBO).status_code == 200


def test_the_window_rolls_so_only_creates_older_than_24_hours_leave_it(parked):
    parked.configure(limits={"video": {"max_daily_generations": 2}})
    create(parked, GEN4_TURBO)
    parked.advance_clock(12 * 3600)
    create(parked, GEN4_TURBO)
    assert post(parked, GEN4_TURBO).status_code == 429

    parked.advance_clock(12 * 3600)  # the first create is now 24 h old, the second 12 h

    assert organization(parked)["usage"]["models"] == {"gen4_turbo": {"dailyGenerations": 1}}
    assert post(parked, GEN4_TURBO).status_code == 200
    assert post(parked, GEN4_TURBO).status_code == 429


def test_advancing_the_clock_leaves_tasks_where_they_were(parked):
    task_id = create(parked, GEN4_TURBO)["id"]

    parked.advance_day()

    assert status(parked, task_id) == "PENDING"


def test_advance_clock_refuses_going_back(runway):
    response = requests.post(
        f"{runway.base_url}/_simulator/advance_clock",
        json={"seconds": -1},
        headers=runway.control_headers,
        timeout=10,
    )

    assert response.status_code == 400


# ---------------------------------------------------------------------------------------------
# Price drift


def test_a_raised_price_sets_the_estimate_and_the_final_cost_but_not_the_catalog(runway):
    catalog_before = catalog.MODELS["gen4_turbo"].credits_per_second
    before = create(runway, GEN4_TURBO)
    runway.set_price("gen4_turbo", credits_per_second=8)
    after = create(runway, GEN4_TURBO)

    assert before["estimatedCost"] == {"credits": 10}
    assert after["estimatedCost"] == {"credits": 16}
    assert runway.wait_for_status(before["id"])["cost"] == {"credits": 10}
    assert runway.wait_for_status(after["id"])["cost"] == {"credits": 16}
    assert catalog.MODELS["gen4_turbo"].credits_per_second == catalog_before == 5
    assert runway.config()["prices"] == {
        "gen4_turbo": {"credits_per_second": 8, "credits_per_second_silent": 8}
    }


def test_a_veo_price_with_and_without_sound_can_each_be_raised(parked):
    parked.set_price("veo3.1_fast", credits_per_second=20, credits_per_second_silent=12)

    assert create(parked, VEO_FAST)["estimatedCost"] == {"credits": 80}
    assert create(parked, {**VEO_FAST, "audio": False})["estimatedCost"] == {"credits": 48}


def test_an_image_price_can_be_raised(parked):
    parked.set_price("gen4_image", credits_720p=7)

    assert create(parked, STILL)["estimatedCost"] == {"credits": 7}


def test_a_raised_price_leaves_a_failures_refund_whole(runway):
    runway.set_price("gen4_turbo", credits_per_second=8)
    balance = organization(runway)["creditBalance"]
    runway.fail_next("fail", code="THIRD_PARTY.UNAVAILABLE")

    task = runway.wait_for_status(create(runway, GEN4_TURBO)["id"])

    assert task["cost"] == {"credits": 0}
    assert organization(runway)["creditBalance"] == balance


@pytest.mark.parametrize(
    "prices",
    [
        {"nonsense": 3},
        {"credits_720p": 3},  # an image model's field on a video model
    ],
)
def test_a_price_field_the_model_does_not_have_is_refused(runway, prices):
    with pytest.raises(requests.HTTPError):
        runway.set_price("gen4_turbo", **prices)

    assert runway.config()["prices"] == {}


# ---------------------------------------------------------------------------------------------
# 4K masters a few pixels off the guess


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("tiers-film") / "film.mp4"
    render_clip(
        out=out,
        width=320,
        height=180,
        duration=1,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )
    return "data:video/mp4;base64," + base64.b64encode(out.read_bytes()).decode()


def upscale(sim: SimulatorControl, uri: str, resolution: str) -> dict:
    body = {"model": "magnific_video_upscaler_creative", "videoUri": uri, "resolution": resolution}
    return create(sim, body, "video_upscale")


def output_size(sim: SimulatorControl, task_id: str) -> tuple[int, int]:
    return tuple(next(t for t in sim.tasks() if t["id"] == task_id)["outputSize"])


def test_an_upscale_size_offset_fault_moves_the_next_master_off_the_guess_only(parked, film):
    parked.fail_next("upscale_size_offset", pixels=8)
    shifted = upscale(parked, film, "4k")["id"]
    guessed = upscale(parked, film, "4k")["id"]

    assert output_size(parked, shifted) == (3848, 2160)
    assert output_size(parked, guessed) == (3840, 2160)


def test_an_upscale_size_offset_is_not_used_up_by_a_clip(parked, film):
    parked.fail_next("upscale_size_offset", pixels=-8, short_pixels=-16)
    create(parked, GEN4_TURBO)

    assert output_size(parked, upscale(parked, film, "4k")["id"]) == (3832, 2144)


def test_a_configured_size_offset_applies_to_every_master_of_its_resolution(parked, film):
    parked.configure(upscale_size_offsets={"4k": [0, -16]})

    assert output_size(parked, upscale(parked, film, "4k")["id"]) == (3840, 2144)
    assert output_size(parked, upscale(parked, film, "4k")["id"]) == (3840, 2144)
    assert output_size(parked, upscale(parked, film, "2k")["id"]) == (2560, 1440)


def test_the_delivered_master_has_the_offset_size(runway, film, tmp_path):
    # 720p keeps the render quick; the offset works the same at every resolution.
    runway.fail_next("upscale_size_offset", pixels=8)
    task = runway.wait_for_status(upscale(runway, film, "720p")["id"], timeout=60)

    assert task["status"] == "SUCCEEDED"
    master = tmp_path / "master.mp4"
    master.write_bytes(requests.get(task["output"][0], timeout=30).content)
    info = media.probe(master)
    assert (info.width, info.height) == (1288, 720)


@pytest.mark.parametrize("params", [{"pixels": 7}, {"short_pixels": 3}, {"pixels": "8"}])
def test_an_odd_size_offset_is_refused(runway, params):
    with pytest.raises(requests.HTTPError):
        runway.fail_next("upscale_size_offset", **params)


# ---------------------------------------------------------------------------------------------
# The command line


def _serve(*args: str) -> tuple[subprocess.Popen, str, str]:
    token = "t" * 40
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runway_simulator", "--port", "0", "--fast", *args],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUNWAY_SIMULATOR_CONTROL_TOKEN": token},
    )
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    if match is None:
        process.kill()
        raise AssertionError(f"the simulator did not start: {line!r}")
    return process, match[0], line


@pytest.mark.parametrize(
    ("args", "concurrency", "daily", "credits", "monthly"),
    [
        ((), 1, 50, 10_000, 10_000),  # a new Runway account: Tier 1, $100
        (("--tier", "3"), 5, 1_000, 200_000, 200_000),
        (("--tier", "none", "--credits", "500"), 2, 200, 500, 100_000),
    ],
)
def test_the_command_starts_the_organisation_at_its_tier(args, concurrency, daily, credits, monthly):
    process, base_url, line = _serve(*args)
    try:
        control = SimulatorControl(base_url, "key_" + "0" * 128, control_token="t" * 40)
        org = requests.get(f"{base_url}/v1/organization", headers=control.api_headers, timeout=10).json()
        assert org["tier"]["models"]["veo3.1"] == {
            "maxConcurrentGenerations": concurrency,
            "maxDailyGenerations": daily,
        }
        assert (org["creditBalance"], org["tier"]["maxMonthlyCreditSpend"]) == (credits, monthly)
        assert ("untiered" if "none" in args else "Tier") in line
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
