"""The catalog and the simulator's own tables agree, so a wrong price or ratio must be made twice.

generation.catalog is the app's table of Runway models; generation.simulator.runway_tables is the
simulator's, written separately from the same published figures (shared/runway-api.md §3, §10).
The end-to-end checks hold the catalog's estimate against what the simulator charges over HTTP.
"""

import base64
import io

import pytest
import requests
from PIL import Image

from generation import catalog
from generation.simulator import SimulatorConfig, runway_tables
from generation.simulator.validation import VARIANTS

CATALOG_MODELS = list(catalog.MODELS)


def simulated(model_id: str) -> runway_tables.RunwayModel:
    assert model_id in runway_tables.MODELS, f"the simulator does not serve {model_id}"
    return runway_tables.MODELS[model_id]


@pytest.mark.parametrize("model_id", CATALOG_MODELS)
def test_it_serves_the_same_endpoints_and_ratios(model_id):
    model, sim = catalog.MODELS[model_id], simulated(model_id)

    assert set(model.endpoints) == set(sim.endpoints)
    for endpoint in model.endpoints:
        assert set(model.ratios[endpoint]) == set(sim.ratios[endpoint]), endpoint


@pytest.mark.parametrize("model_id", CATALOG_MODELS)
def test_it_makes_the_same_durations(model_id):
    model, sim = catalog.MODELS[model_id], simulated(model_id)

    assert model.durations == tuple(sim.durations)
    assert model.is_duration_required == sim.is_duration_required


@pytest.mark.parametrize("model_id", CATALOG_MODELS)
def test_it_charges_the_same_price_with_and_without_audio(model_id):
    model, sim = catalog.MODELS[model_id], simulated(model_id)

    assert model.has_audio == sim.has_audio
    for audio in (True, False):
        assert model.price_per_second(audio=audio) == sim.price_per_second(audio=audio), audio


@pytest.mark.parametrize("model_id", CATALOG_MODELS)
def test_it_takes_the_same_keyframes_and_fields(model_id):
    model, sim = catalog.MODELS[model_id], simulated(model_id)

    assert model.has_last_frame == sim.has_last_frame
    assert "first" in sim.keyframe_positions
    assert model.is_prompt_text_required_for_image == sim.is_prompt_text_required_with_image
    assert model.accepts_content_moderation == ("contentModeration" in sim.optional_fields)


@pytest.mark.parametrize("model_id", CATALOG_MODELS)
def test_the_simulator_validates_with_its_own_tables(model_id):
    sim = simulated(model_id)
    for endpoint in ("image_to_video", "text_to_video"):
        variant = VARIANTS.get((endpoint, model_id))
        if endpoint not in sim.endpoints:
            assert variant is None, endpoint
            continue
        assert variant.ratios == sim.ratios[endpoint]
        assert variant.durations == sim.durations
        assert variant.image_positions == (sim.keyframe_positions if endpoint == "image_to_video" else None)


def test_the_data_uri_limit_is_the_same():
    assert catalog.DATA_URI_MAX_CHARS == runway_tables.DATA_URI_MAX_CHARS
    assert SimulatorConfig().data_uri_max_chars == runway_tables.DATA_URI_MAX_CHARS


# ---------------------------------------------------------------------------------------------
# Over HTTP: the estimate a user confirms is what the simulator charges


def picture_uri(colour: tuple[int, int, int]) -> str:
    out = io.BytesIO()
    Image.new("RGB", (640, 360), colour).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def with_images(built: catalog.BuiltRequest) -> dict:
    body = dict(built.body)
    if built.has_last_frame:
        body["promptImage"] = [
            {"uri": picture_uri((200, 60, 40)), "position": "first"},
            {"uri": picture_uri((40, 60, 200)), "position": "last"},
        ]
    elif built.has_first_frame:
        body["promptImage"] = picture_uri((200, 60, 40))
    return body


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"model": "gen4_turbo", "duration": 5, "has_first_frame": True},
        {"model": "gen4.5", "duration": 7, "has_first_frame": True},
        {"model": "gen4.5", "duration": 3},
        {"model": "veo3.1", "duration": 8},
        {"model": "veo3.1", "duration": 6, "audio": False, "has_first_frame": True},
        {
            "model": "veo3.1_fast",
            "duration": 4,
            "audio": False,
            "has_first_frame": True,
            "has_last_frame": True,
        },
        {"model": "veo3.1_fast", "duration": 6},
    ],
    ids=lambda kwargs: "-".join(str(value) for value in kwargs.values()),
)
def test_the_catalog_estimate_is_what_the_simulator_charges(runway, request_kwargs):
    built = catalog.build_request(prompt_text="a harbour at dawn", **request_kwargs)

    response = requests.post(
        f"{runway.base_url}/v1/{built.endpoint}",
        json=with_images(built),
        headers=runway.api_headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"])

    assert response.json()["estimatedCost"] == {"credits": built.estimated_credits}
    assert task["status"] == "SUCCEEDED", task
    assert task["cost"] == {"credits": built.estimated_credits}
    assert built.estimated_credits == catalog.estimate(
        request_kwargs["model"], request_kwargs["duration"], request_kwargs.get("audio", True)
    )


# ---------------------------------------------------------------------------------------------
# Image models (text_to_image): the catalog's IMAGE_MODELS against the simulator's IMAGE_MODELS

CATALOG_IMAGE_MODELS = list(catalog.IMAGE_MODELS)


def test_both_serve_the_same_image_models_and_neither_as_video():
    assert set(catalog.IMAGE_MODELS) == set(runway_tables.IMAGE_MODELS)
    assert not set(runway_tables.IMAGE_MODELS) & set(runway_tables.MODELS)


@pytest.mark.parametrize("model_id", CATALOG_IMAGE_MODELS)
def test_an_image_model_has_the_same_ratios_references_and_prices(model_id):
    model, sim = catalog.IMAGE_MODELS[model_id], runway_tables.IMAGE_MODELS[model_id]

    assert set(model.ratios) == set(sim.ratios)
    assert (model.min_references, model.max_references) == (sim.min_references, sim.max_references)
    for ratio in model.ratios:
        assert model.estimate(ratio=ratio) == sim.cost(ratio=ratio), ratio


@pytest.mark.parametrize(
    ("model_id", "ratio"),
    [("gen4_image", "1280:720"), ("gen4_image", "1808:768"), ("gen4_image_turbo", "1080:1080")],
)
def test_the_catalog_image_estimate_is_what_the_simulator_charges(runway, model_id, ratio):
    built = catalog.build_image_request(
        model=model_id, prompt_text="@house at dawn", ratio=ratio, references=[("house", True)]
    )

    response = requests.post(
        f"{runway.base_url}/v1/{built.endpoint}",
        json=built.with_images([picture_uri((200, 60, 40))]),
        headers=runway.api_headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"])

    assert response.json()["estimatedCost"] == {"credits": built.estimated_credits}
    assert task["cost"] == {"credits": built.estimated_credits}


# ---------------------------------------------------------------------------------------------
# Narration (text_to_speech) and masters (video_upscale): the catalog against the simulator's tables


@pytest.mark.parametrize("model_id", list(catalog.SPEECH_MODELS))
def test_a_speech_model_has_the_same_limit_voices_and_price(model_id):
    model, sim = catalog.SPEECH_MODELS[model_id], runway_tables.SPEECH_MODELS[model_id]

    assert model.max_characters == sim.max_units
    assert catalog.VOICES == runway_tables.VOICE_PRESETS
    assert model.has_speed == ("speed" in sim.numbers)
    if model.has_speed:
        assert catalog.SPEED_RANGE == (sim.numbers["speed"].low, sim.numbers["speed"].high)
    for length in (1, 49, 50, 51, 999, model.max_characters):
        assert model.estimate(script="x" * length) == sim.cost(units=length), length


def test_the_speech_pace_is_the_same():
    script = "[pause] one two three four five six seven eight nine ten eleven twelve"

    assert catalog.SPEECH_WORDS_PER_MINUTE == runway_tables.WORDS_PER_MINUTE
    assert catalog.estimate_speech_seconds(script, speed=1.2) == pytest.approx(
        runway_tables.speech_seconds(script, speed=1.2), abs=0.05
    )


@pytest.mark.parametrize("model_id", list(catalog.UPSCALE_MODELS))
def test_an_upscale_model_has_the_same_tiers_sizes_limit_and_prices(model_id):
    model, sim = catalog.UPSCALE_MODELS[model_id], runway_tables.UPSCALE_MODELS[model_id]

    assert model.resolutions == sim.resolutions
    assert model.max_seconds == runway_tables.UPSCALE_MAX_SECONDS
    assert catalog.UPSCALE_FLAVORS == runway_tables.UPSCALE_FLAVORS
    for resolution in model.resolutions:
        for ratio in catalog.GEN4_I2V_RATIOS + catalog.VEO_RATIOS:
            width, height = (int(side) for side in ratio.split(":"))
            assert model.output_size(width, height, resolution) == sim.output_size(width, height, resolution)
        for frames in (1, 24, 90, 288, 720):
            assert model.estimate(frames=frames, resolution=resolution) == sim.cost(
                frames=frames, resolution=resolution
            )


def test_the_catalogs_video_data_uri_limit_is_within_the_simulators():
    assert catalog.VIDEO_DATA_URI_MAX_CHARS <= runway_tables.VIDEO_DATA_URI_MAX_CHARS


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"model": "eleven_multilingual_v2", "voice": "Noah"},
        {"model": "eleven_v3", "voice": "Ella", "speed": 0.8},
    ],
    ids=lambda kwargs: kwargs["model"],
)
def test_the_catalog_speech_estimate_is_what_the_simulator_charges(runway, request_kwargs):
    built = catalog.build_speech_request(
        script="Welcome to the new studio by the river. " * 3, **request_kwargs
    )

    response = requests.post(
        f"{runway.base_url}/v1/{built.endpoint}", json=built.body, headers=runway.api_headers, timeout=30
    )
    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"])

    assert response.json()["estimatedCost"] == {"credits": built.estimated_credits}
    assert task["cost"] == {"credits": built.estimated_credits}


def test_the_catalog_master_estimate_and_size_are_what_the_simulator_delivers(runway, tmp_path):
    from generation import media
    from generation.simulator.render import render_clip

    film = tmp_path / "film.mp4"
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
    info = media.probe(film)
    built = catalog.build_upscale_request(
        duration=info.duration,
        fps=info.fps,
        width=info.width,
        height=info.height,
        frames=media.count_video_frames(film),
    )
    uri = "data:video/mp4;base64," + base64.b64encode(film.read_bytes()).decode()

    response = requests.post(
        f"{runway.base_url}/v1/{built.endpoint}",
        json=built.with_video(uri),
        headers=runway.api_headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    task = runway.wait_for_status(response.json()["id"], timeout=120)

    assert response.json()["estimatedCost"] == {"credits": built.estimated_credits}
    assert task["cost"] == {"credits": built.estimated_credits}
    master = tmp_path / "master.mp4"
    master.write_bytes(requests.get(task["output"][0], timeout=30).content)
    assert (
        (media.probe(master).width, media.probe(master).height) == (built.width, built.height) == (3840, 2160)
    )
