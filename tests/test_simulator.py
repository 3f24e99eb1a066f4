"""The Runway simulator, over real HTTP: validation as strict as Runway, the task lifecycle, the
organisation's limits and credits, signed output URLs, uploads, faults on demand and the clips."""

from __future__ import annotations

import base64
import io
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops, ImageDraw, ImageStat

from generation import catalog, media
from generation.simulator import SimulatorConfig, SimulatorControl, SimulatorServer
from generation.simulator.validation import DOC_URL

TASK_KEYS_BY_STATUS = {
    "PENDING": {"id", "createdAt", "status", "estimatedCost"},
    "THROTTLED": {"id", "createdAt", "status", "estimatedCost"},
    "RUNNING": {"id", "createdAt", "status", "progress", "estimatedCost"},
    "SUCCEEDED": {"id", "createdAt", "status", "output", "cost"},
    "FAILED": {"id", "createdAt", "status", "failure", "failureCode", "cost"},
    "CANCELLED": {"id", "createdAt", "status", "cost"},
}
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UNKNOWN_TASK = "5b0a4c2e-7d7e-4d1a-9a43-2f5b8f1c9e10"


# ---------------------------------------------------------------------------------------------
# Helpers


def picture(width: int = 640, height: int = 360, fmt: str = "PNG") -> bytes:
    """A test card with structure (gradient, shapes), so a frame comparison means something."""
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for x in range(width):
        draw.line([(x, 0), (x, height)], fill=(x * 255 // width, 90, 255 - x * 255 // width))
    draw.rectangle([width // 8, height // 4, width // 3, height * 3 // 4], fill=(250, 240, 20))
    draw.ellipse([width // 2, height // 5, width * 7 // 8, height * 4 // 5], fill=(10, 10, 10))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


IMAGE = data_uri(picture())


def i2v(model: str = "gen4_turbo", **fields: object) -> dict:
    body: dict = {"model": model, "promptImage": IMAGE, "ratio": "1280:720", "duration": 2}
    if model == "gen4.5":
        body["promptText"] = "a slow push towards the window"
    if model.startswith("veo"):
        body["duration"] = 4
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def t2v(model: str = "veo3.1_fast", **fields: object) -> dict:
    body: dict = {"model": model, "promptText": "a harbour at dawn", "ratio": "1280:720", "duration": 4}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def post(sim: SimulatorControl, path: str, body: object, **kwargs: object) -> requests.Response:
    return requests.post(f"{sim.base_url}{path}", json=body, headers=sim.api_headers, timeout=30, **kwargs)


def create(sim: SimulatorControl, body: dict, endpoint: str = "image_to_video") -> str:
    response = post(sim, f"/v1/{endpoint}", body)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def issues_of(response: requests.Response) -> list[dict]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Validation of body failed"
    assert body["docUrl"] == DOC_URL
    return body["issues"]


def only_issue(response: requests.Response) -> dict:
    issues = issues_of(response)
    assert len(issues) == 1, issues
    return issues[0]


def asset_error(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    assert "issues" not in response.json()
    return response.json()["error"]


def organization(sim: SimulatorControl) -> dict:
    return requests.get(f"{sim.base_url}/v1/organization", headers=sim.api_headers, timeout=10).json()


def log_entry(sim: SimulatorControl, task_id: str) -> dict:
    return next(task for task in sim.tasks() if task["id"] == task_id)


def download(url: str, **kwargs: object) -> requests.Response:
    return requests.get(url, timeout=30, **kwargs)


# ---------------------------------------------------------------------------------------------
# Headers, paths, methods


def test_it_accepts_each_model_on_each_of_its_endpoints_and_quotes_the_catalog_price(runway):
    bodies = [
        ("image_to_video", i2v("gen4_turbo", duration=3), 15),
        ("image_to_video", i2v("gen4.5", duration=3), 36),
        ("image_to_video", i2v("veo3.1", duration=6), 240),
        ("image_to_video", i2v("veo3.1_fast", duration=6, audio=False), 60),
        ("text_to_video", t2v("gen4.5", duration=5), 60),
        ("text_to_video", t2v("veo3.1", duration=8, audio=False), 160),
        ("text_to_video", t2v("veo3.1_fast", duration=8), 120),
    ]
    for endpoint, body, credits in bodies:
        response = post(runway, f"/v1/{endpoint}", body)
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"id", "estimatedCost"}
        assert response.json()["estimatedCost"] == {"credits": credits}


def test_it_bills_the_default_duration_when_none_is_given(runway):
    gen4 = post(runway, "/v1/image_to_video", i2v("gen4_turbo", duration=None)).json()
    veo = post(runway, "/v1/text_to_video", t2v("veo3.1", duration=None)).json()

    assert gen4["estimatedCost"]["credits"] == 10 * catalog.MODELS["gen4_turbo"].price_per_second(audio=False)
    assert veo["estimatedCost"]["credits"] == 8 * catalog.MODELS["veo3.1"].price_per_second(audio=True)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "key_" + "a" * 128,  # no Bearer
        "Bearer key_" + "a" * 127,
        "Bearer key_" + "A" * 128,
        "Bearer " + "a" * 132,
        "Basic key_" + "a" * 128,
    ],
)
def test_it_refuses_requests_without_a_well_formed_bearer_key(runway, authorization):
    headers = {"X-Runway-Version": "2024-11-06"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.get(f"{runway.base_url}/v1/organization", headers=headers, timeout=10)

    assert response.status_code == 401
    assert isinstance(response.json()["error"], str)


def test_it_refuses_another_well_formed_key_when_configured_with_one(runway):
    headers = {"Authorization": "Bearer key_" + "b" * 128, "X-Runway-Version": "2024-11-06"}
    response = requests.post(f"{runway.base_url}/v1/image_to_video", json=i2v(), headers=headers, timeout=10)

    assert response.status_code == 401
    assert runway.tasks() == []


def test_it_accepts_any_well_formed_key_when_configured_with_none():
    with SimulatorServer(SimulatorConfig.fast()) as server:
        for key in ("key_" + "0" * 128, "key_" + "f" * 128):
            headers = {"Authorization": f"Bearer {key}", "X-Runway-Version": "2024-11-06"}
            response = requests.get(f"{server.base_url}/v1/organization", headers=headers, timeout=10)
            assert response.status_code == 200


@pytest.mark.parametrize("version", [None, "", "2024-09-13", "2025-01-01"])
def test_it_requires_the_2024_11_06_version_header(runway, version):
    headers = {"Authorization": f"Bearer {runway.api_key}"}
    if version is not None:
        headers["X-Runway-Version"] = version
    response = requests.post(f"{runway.base_url}/v1/image_to_video", json=i2v(), headers=headers, timeout=10)

    assert response.status_code == 400
    body = response.json()
    assert body["issues"][0]["path"] == ["x-runway-version"]
    assert runway.tasks() == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/image_to_video"),
        ("PUT", "/v1/text_to_video"),
        ("POST", f"/v1/tasks/{UNKNOWN_TASK}"),
        ("PATCH", f"/v1/tasks/{UNKNOWN_TASK}"),
        ("POST", "/v1/organization"),
        ("GET", "/v1/uploads"),
    ],
)
def test_it_answers_405_to_a_wrong_method(runway, method, path):
    response = requests.request(method, f"{runway.base_url}{path}", headers=runway.api_headers, timeout=10)

    assert response.status_code == 405
    assert "error" in response.json()


@pytest.mark.parametrize("path", ["/v1/image_to_videos", "/v2/tasks", "/", "/v1/tasks", "/v1/video_to_video"])
def test_it_answers_404_to_an_unknown_path(runway, path):
    response = requests.get(f"{runway.base_url}{path}", headers=runway.api_headers, timeout=10)

    assert response.status_code == 404
    assert "error" in response.json()


def test_it_refuses_a_task_id_that_is_not_a_uuid(runway):
    response = requests.get(f"{runway.base_url}/v1/tasks/not-a-uuid", headers=runway.api_headers, timeout=10)

    assert response.status_code == 400
    assert response.json()["issues"][0]["path"] == ["id"]


def test_it_answers_404_for_an_unknown_task(runway):
    for method in ("GET", "DELETE"):
        response = requests.request(
            method, f"{runway.base_url}/v1/tasks/{UNKNOWN_TASK}", headers=runway.api_headers, timeout=10
        )
        assert response.status_code == 404
        assert response.json() == {"error": "Could not find Task"}


# ---------------------------------------------------------------------------------------------
# Body validation


def test_it_refuses_a_body_that_is_not_a_json_object(runway):
    as_text = requests.post(
        f"{runway.base_url}/v1/image_to_video",
        data="model=gen4_turbo",
        headers={**runway.api_headers, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    broken = requests.post(
        f"{runway.base_url}/v1/image_to_video",
        data="{not json",
        headers={**runway.api_headers, "Content-Type": "application/json"},
        timeout=10,
    )

    assert only_issue(as_text)["message"] == "Invalid input: expected object, received undefined"
    assert only_issue(post(runway, "/v1/image_to_video", [i2v()]))["code"] == "invalid_type"
    assert broken.status_code == 400
    assert runway.tasks() == []


def test_it_refuses_a_body_without_a_model_like_runway(runway):
    body = i2v()
    del body["model"]
    issues = issues_of(post(runway, "/v1/image_to_video", body))

    assert issues[0] == {
        "expected": "string",
        "code": "invalid_type",
        "path": ["model"],
        "message": "Invalid input: expected string, received undefined",
    }
    assert issues[1]["code"] == "invalid_union"
    assert issues[1]["note"] == "No matching discriminator"


@pytest.mark.parametrize(
    ("endpoint", "model"),
    [
        ("image_to_video", "gen4"),
        ("image_to_video", "veo3"),
        ("image_to_video", "gen3a_turbo"),
        ("image_to_video", "Gen4_Turbo"),
        ("text_to_video", "gen4_turbo"),
        ("text_to_video", "gen4"),
    ],
)
def test_it_refuses_models_that_are_not_variants_of_the_endpoint(runway, endpoint, model):
    body = i2v(model=model) if endpoint == "image_to_video" else t2v(model=model)
    issue = only_issue(post(runway, f"/v1/{endpoint}", body))

    assert issue["code"] == "invalid_union"
    assert issue["path"] == ["model"]


def test_it_words_a_ratio_error_like_runway(runway):
    issue = only_issue(post(runway, "/v1/image_to_video", i2v(ratio="1920:1080")))

    assert issue["code"] == "invalid_value"
    assert issue["path"] == ["ratio"]
    assert issue["message"] == (
        'Invalid option: expected one of "1280:720"|"720:1280"|"1104:832"|"832:1104"|"960:960"|"1584:672"'
    )


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("image_to_video", i2v("gen4_turbo", ratio="1080:1920")),
        ("image_to_video", i2v("gen4.5", ratio="1280:768")),
        ("image_to_video", i2v("gen4_turbo", ratio="16:9")),
        ("image_to_video", i2v("veo3.1", ratio="960:960")),
        ("image_to_video", i2v("veo3.1_fast", ratio="1104:832")),
        ("text_to_video", t2v("gen4.5", ratio="960:960", duration=5)),
        ("text_to_video", t2v("gen4.5", ratio="1920:1080", duration=5)),
        ("text_to_video", t2v("veo3.1", ratio="1080:1080")),
        ("image_to_video", i2v("gen4_turbo", ratio=None)),
    ],
)
def test_it_refuses_ratios_the_model_does_not_offer_on_that_endpoint(runway, endpoint, body):
    issue = only_issue(post(runway, f"/v1/{endpoint}", body))

    assert (issue["code"], issue["path"]) == ("invalid_value", ["ratio"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (i2v("gen4_turbo", duration=1), "too_small"),
        (i2v("gen4_turbo", duration=11), "too_big"),
        (i2v("gen4_turbo", duration=5.5), "invalid_type"),
        (i2v("gen4_turbo", duration="5"), "invalid_type"),
        (i2v("gen4.5", duration=None), "invalid_type"),
        (i2v("gen4.5", duration=0), "too_small"),
        (i2v("veo3.1", duration=5), "invalid_value"),
        (i2v("veo3.1", duration=10), "invalid_value"),
        (i2v("veo3.1_fast", duration=2), "invalid_value"),
        (i2v("veo3.1_fast", duration=True), "invalid_value"),
    ],
)
def test_it_refuses_durations_outside_the_models_rule(runway, body, code):
    issue = only_issue(post(runway, "/v1/image_to_video", body))

    assert (issue["code"], issue["path"]) == (code, ["duration"])


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        ("image_to_video", i2v("gen4_turbo", duration=2)),
        ("image_to_video", i2v("gen4_turbo", duration=10)),
        ("image_to_video", i2v("gen4_turbo", duration=7.0)),
        ("image_to_video", i2v("gen4.5", duration=10)),
        ("image_to_video", i2v("veo3.1", duration=8)),
        ("text_to_video", t2v("veo3.1_fast", duration=4)),
    ],
)
def test_it_accepts_durations_within_the_models_rule(runway, endpoint, body):
    assert post(runway, f"/v1/{endpoint}", body).status_code == 200


def test_it_requires_prompt_text_for_gen4_5_and_for_text_to_video(runway):
    gen45 = i2v("gen4.5")
    del gen45["promptText"]
    veo_t2v = t2v("veo3.1")
    del veo_t2v["promptText"]

    assert only_issue(post(runway, "/v1/image_to_video", gen45))["path"] == ["promptText"]
    assert only_issue(post(runway, "/v1/text_to_video", veo_t2v))["path"] == ["promptText"]
    assert post(runway, "/v1/image_to_video", i2v("gen4_turbo")).status_code == 200


def test_it_counts_prompt_length_in_utf16_units(runway):
    longest = "🎬" * 500  # 1000 UTF-16 units, 500 code points
    too_long = "🎬" * 500 + "a"

    assert post(runway, "/v1/image_to_video", i2v(promptText=longest)).status_code == 200
    assert post(runway, "/v1/image_to_video", i2v(promptText="a" * 1000)).status_code == 200
    issue = only_issue(post(runway, "/v1/image_to_video", i2v(promptText=too_long)))
    assert (issue["code"], issue["maximum"]) == ("too_big", 1000)
    assert only_issue(post(runway, "/v1/image_to_video", i2v(promptText="")))["code"] == "too_small"
    assert only_issue(post(runway, "/v1/image_to_video", i2v(promptText=42)))["code"] == "invalid_type"


@pytest.mark.parametrize(
    ("seed", "code"),
    [(-1, "too_small"), (4294967296, "too_big"), (1.5, "invalid_type"), ("7", "invalid_type")],
)
def test_it_refuses_seeds_outside_0_to_2_32_minus_1(runway, seed, code):
    assert only_issue(post(runway, "/v1/image_to_video", i2v(seed=seed)))["code"] == code


def test_it_accepts_the_extreme_seeds(runway):
    for seed in (0, 4294967295):
        assert post(runway, "/v1/image_to_video", i2v(seed=seed)).status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "body", "key"),
    [
        (
            "image_to_video",
            i2v("veo3.1", contentModeration={"publicFigureThreshold": "low"}),
            "contentModeration",
        ),
        ("image_to_video", i2v("veo3.1_fast", referenceImages=[{"uri": IMAGE}]), "referenceImages"),
        ("text_to_video", t2v("veo3.1", promptImage=IMAGE), "promptImage"),
        ("image_to_video", i2v("veo3.1", firstKeyframe=IMAGE), "firstKeyframe"),
        ("image_to_video", i2v("gen4_turbo", audio=False), "audio"),
        ("image_to_video", i2v("gen4.5", negativePrompt="blur"), "negativePrompt"),
        ("image_to_video", i2v("gen4_turbo", width=1280), "width"),
        ("text_to_video", t2v("gen4.5", duration=5, audio=True), "audio"),
    ],
)
def test_it_refuses_fields_the_variant_does_not_declare(runway, endpoint, body, key):
    issue = only_issue(post(runway, f"/v1/{endpoint}", body))

    assert issue["code"] == "unrecognized_keys"
    assert issue["keys"] == [key]


def test_it_accepts_the_optional_fields_of_each_variant(runway):
    moderation = {"publicFigureThreshold": "low"}
    assert (
        post(runway, "/v1/image_to_video", i2v("gen4_turbo", contentModeration=moderation)).status_code == 200
    )
    assert post(runway, "/v1/image_to_video", i2v("gen4.5", outputFormat="mp4", seed=3)).status_code == 200
    veo = i2v("veo3.1", audio=False, negativePrompt="no people", seed=9)
    assert post(runway, "/v1/image_to_video", veo).status_code == 200
    bad = only_issue(
        post(runway, "/v1/image_to_video", i2v(contentModeration={"publicFigureThreshold": "off"}))
    )
    assert bad["path"] == ["contentModeration", "publicFigureThreshold"]
    assert only_issue(post(runway, "/v1/image_to_video", i2v("veo3.1", audio="yes")))["path"] == ["audio"]


# ---------------------------------------------------------------------------------------------
# Image inputs


@pytest.mark.parametrize(
    ("uri", "code"),
    [
        ("http://example.com/a.png", "invalid_union"),
        ("ftp://example.com/a.png", "invalid_union"),
        ("https://a.b", "too_small"),
        ("https://example.com/" + "a" * 2030, "too_big"),
        ("runway://x", "too_small"),
        ("data:video/mp4;base64,AAAA", "invalid_union"),
        ("/tmp/picture.png", "invalid_union"),
    ],
)
def test_it_refuses_image_uris_of_the_wrong_form(runway, uri, code):
    issue = only_issue(post(runway, "/v1/image_to_video", i2v(promptImage=uri)))

    assert (issue["code"], issue["path"]) == (code, ["promptImage"])


def test_it_caps_data_uris_at_5_mib_of_characters(runway):
    prefix = "data:image/png;base64,"
    oversized = prefix + "A" * (5 * 1024 * 1024 - len(prefix) + 4)
    issue = only_issue(post(runway, "/v1/image_to_video", i2v(promptImage=oversized)))

    assert (issue["code"], issue["maximum"]) == ("too_big", 5_242_880)


@pytest.mark.parametrize(
    ("uri", "reason"),
    [
        ("https://203.0.113.7/photo.jpg", "URLs must be hosted on a domain."),
        ("https://images.example.com/photo.jpg", "Failed to fetch asset."),
        ("data:image/gif;base64," + base64.b64encode(b"GIF89a").decode(), "Unsupported asset type"),
        ("data:image/png;base64,@@@not-base64@@@", "Invalid data URI."),
        ("data:image/png," + "a" * 20, "Invalid data URI."),
        (data_uri(b"not an image at all"), "could not be decoded"),
        (data_uri(picture(fmt="GIF"), "image/png"), "Unsupported asset type"),
        (data_uri(picture(fmt="JPEG"), "image/bmp"), "Unsupported asset type"),
        (data_uri(picture(fmt="JPEG"), "image/png"), "labelled png but holds jpg"),
        (data_uri(picture(fmt="PNG"), "image/jpg"), "labelled jpeg but holds png"),
        (data_uri(picture(300, 650)), "must be at least 0.5. Got 0.462."),
        (data_uri(picture(1000, 420)), "must be at most 2.358. Got 2.381."),
        ("runway://uploads/00000000-0000-4000-8000-000000000000/x.png", "Invalid runway:// URI"),
    ],
)
def test_it_refuses_images_runway_could_not_use_naming_the_field(runway, uri, reason):
    error = asset_error(post(runway, "/v1/image_to_video", i2v(promptImage=uri)))

    assert error.startswith("promptImage: ")
    assert reason in error
    assert runway.tasks() == []


@pytest.mark.parametrize("media_type", ["image/jpeg", "image/jpg"])
def test_it_takes_a_jpeg_labelled_jpeg_or_jpg_as_runways_own_docs_do(runway, media_type):
    uri = data_uri(picture(fmt="JPEG"), media_type)

    assert post(runway, "/v1/image_to_video", i2v(promptImage=uri)).status_code == 200


@pytest.mark.parametrize(
    ("model", "width", "height", "accepted"),
    [
        ("gen4_turbo", 1000, 425, True),  # 2.353: within gen4_turbo's 2.358
        ("gen4_turbo", 1000, 420, False),  # 2.381
        ("gen4.5", 1000, 480, False),  # 2.083: beyond 2.0
        ("gen4.5", 1000, 500, True),
        ("veo3.1", 1000, 480, False),
    ],
)
def test_each_model_takes_input_images_within_its_own_aspect_range(runway, model, width, height, accepted):
    response = post(runway, "/v1/image_to_video", i2v(model, promptImage=data_uri(picture(width, height))))

    assert (response.status_code == 200) == accepted, response.text


def test_it_names_the_array_element_of_an_unusable_image(runway):
    body = i2v(
        "veo3.1",
        promptImage=[{"uri": IMAGE, "position": "first"}, {"uri": data_uri(b"x"), "position": "last"}],
    )

    assert asset_error(post(runway, "/v1/image_to_video", body)).startswith("promptImage[1].uri: ")


@pytest.mark.parametrize(
    ("fmt", "media_type"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_it_takes_jpeg_png_and_webp_within_the_aspect_limits(runway, fmt, media_type):
    for width, height in ((640, 360), (400, 800), (800, 400)):
        uri = data_uri(picture(width, height, fmt), media_type)
        assert post(runway, "/v1/image_to_video", i2v(promptImage=uri)).status_code == 200


@pytest.mark.parametrize(
    ("model", "images", "code", "path"),
    [
        ("gen4_turbo", [], "too_small", ["promptImage"]),
        ("gen4_turbo", [{"uri": IMAGE, "position": "first"}] * 2, "too_big", ["promptImage"]),
        ("gen4.5", [{"uri": IMAGE, "position": "last"}], "invalid_value", ["promptImage", 0, "position"]),
        ("gen4_turbo", [{"uri": IMAGE}], "invalid_value", ["promptImage", 0, "position"]),
        ("gen4_turbo", [{"position": "first"}], "invalid_type", ["promptImage", 0, "uri"]),
        ("gen4_turbo", [IMAGE], "invalid_type", ["promptImage", 0]),
        ("veo3.1", [{"uri": IMAGE, "position": "last"}], "custom", ["promptImage"]),
        ("veo3.1", [{"uri": IMAGE, "position": "first"}] * 2, "custom", ["promptImage"]),
        (
            "veo3.1_fast",
            [{"uri": IMAGE, "position": "first"}, {"uri": IMAGE, "position": "middle"}],
            "invalid_value",
            ["promptImage", 1, "position"],
        ),
        (
            "veo3.1",
            [{"uri": IMAGE, "position": "first"}, {"uri": IMAGE, "position": "last"}]
            + [{"uri": IMAGE, "position": "last"}],
            "too_big",
            ["promptImage"],
        ),
        (
            "veo3.1",
            [{"uri": IMAGE, "position": "first", "weight": 1}],
            "unrecognized_keys",
            ["promptImage", 0],
        ),
    ],
)
def test_it_enforces_the_keyframe_array_rules_per_model(runway, model, images, code, path):
    issue = only_issue(post(runway, "/v1/image_to_video", i2v(model, promptImage=images)))

    assert (issue["code"], issue["path"]) == (code, path)


def test_it_accepts_the_keyframe_arrays_each_model_allows(runway):
    first = {"uri": IMAGE, "position": "first"}
    last = {"uri": data_uri(picture(fmt="JPEG"), "image/jpeg"), "position": "last"}
    for body in (
        i2v("gen4_turbo", promptImage=[first]),
        i2v("gen4.5", promptImage=[first]),
        i2v("veo3.1", promptImage=[first]),
        i2v("veo3.1", promptImage=[first, last]),
        i2v("veo3.1_fast", promptImage=[last, first]),
    ):
        assert post(runway, "/v1/image_to_video", body).status_code == 200, body


# ---------------------------------------------------------------------------------------------
# Task lifecycle


def test_it_shows_a_new_task_pending_with_its_estimate(runway):
    runway.configure(pending_seconds=60)
    task_id = create(runway, i2v(duration=4))
    body = runway.get_task(task_id).json()

    assert body["status"] == "PENDING"
    assert set(body) == TASK_KEYS_BY_STATUS["PENDING"]
    assert body["estimatedCost"] == {"credits": 20}
    assert CREATED_AT.match(body["createdAt"])


def test_it_reports_progress_between_0_and_1_while_running(runway):
    task_id = create(runway, i2v(promptText="[sim:slow=60] a long take"))
    body = runway.wait_for_status(task_id, "RUNNING")

    assert set(body) == TASK_KEYS_BY_STATUS["RUNNING"]
    assert 0 <= body["progress"] <= 1
    assert body["estimatedCost"] == {"credits": 10}


def test_it_runs_a_task_to_success_and_charges_its_cost(runway):
    before = organization(runway)["creditBalance"]
    task_id = create(runway, i2v(duration=3))
    body = runway.wait_for_status(task_id, "SUCCEEDED")

    assert set(body) == TASK_KEYS_BY_STATUS["SUCCEEDED"]
    assert body["cost"] == {"credits": 15}
    assert len(body["output"]) == 1
    assert organization(runway)["creditBalance"] == before - 15
    events = [event["status"] for event in log_entry(runway, task_id)["events"]]
    assert events == ["PENDING", "RUNNING", "SUCCEEDED"]


def test_it_deletes_a_task_then_answers_404(runway):
    task_id = create(runway, i2v())
    runway.wait_for_status(task_id, "SUCCEEDED")
    url = f"{runway.base_url}/v1/tasks/{task_id}"

    assert requests.delete(url, headers=runway.api_headers, timeout=10).status_code == 204
    gone = requests.get(url, headers=runway.api_headers, timeout=10)
    assert (gone.status_code, gone.json()) == (404, {"error": "Could not find Task"})
    assert requests.delete(url, headers=runway.api_headers, timeout=10).status_code == 404
    assert log_entry(runway, task_id)["deleted"] is True


def test_it_refunds_a_cancel_before_running_but_not_during(runway):
    runway.configure(pending_seconds=60, credit_balance=1000)
    waiting = create(runway, i2v(duration=10))
    requests.delete(f"{runway.base_url}/v1/tasks/{waiting}", headers=runway.api_headers, timeout=10)
    assert organization(runway)["creditBalance"] == 1000
    assert log_entry(runway, waiting)["cost"] == 0

    runway.configure(pending_seconds=0)
    running = create(runway, i2v(duration=10, promptText="[sim:slow=60]"))
    runway.wait_for_status(running, "RUNNING")
    requests.delete(f"{runway.base_url}/v1/tasks/{running}", headers=runway.api_headers, timeout=10)
    assert organization(runway)["creditBalance"] == 950
    assert log_entry(runway, running)["cost"] == 50


def test_it_shows_a_task_cancelled_from_the_dashboard_as_cancelled(runway):
    runway.configure(pending_seconds=60)
    task_id = create(runway, i2v())
    runway.cancel(task_id)
    body = runway.get_task(task_id).json()

    assert body["status"] == "CANCELLED"
    assert set(body) == TASK_KEYS_BY_STATUS["CANCELLED"]
    assert body["cost"] == {"credits": 0}


def test_it_throttles_tasks_beyond_the_kinds_concurrency_and_runs_them_in_order(runway):
    runway.configure(limits={"video": {"max_concurrent_generations": 1}})
    blocker = create(runway, i2v(promptText="[sim:slow=60]"))
    second = create(runway, i2v("veo3.1_fast"))
    third = create(runway, i2v())
    image = create(
        runway, {"model": "gen4_image", "promptText": "a chair", "ratio": "1280:720"}, "text_to_image"
    )

    for task_id in (second, third):
        body = runway.get_task(task_id).json()
        assert body["status"] == "THROTTLED"
        assert set(body) == TASK_KEYS_BY_STATUS["THROTTLED"]
    # Another kind of model has slots of its own.
    assert runway.get_task(image).json()["status"] != "THROTTLED"

    requests.delete(f"{runway.base_url}/v1/tasks/{blocker}", headers=runway.api_headers, timeout=10)
    runway.wait_for_status(third, "SUCCEEDED")
    second_events = {e["status"]: e["at"] for e in log_entry(runway, second)["events"]}
    third_events = {e["status"]: e["at"] for e in log_entry(runway, third)["events"]}

    assert list(second_events) == list(third_events) == ["THROTTLED", "PENDING", "RUNNING", "SUCCEEDED"]
    # The third task got its slot only once the second had finished (ISO stamps sort as times).
    assert third_events["PENDING"] >= second_events["SUCCEEDED"]


def test_it_refuses_creates_beyond_the_kinds_daily_cap_with_429(runway):
    runway.configure(limits={"gen4_turbo": {"max_daily_generations": 2}})  # a model id: its kind
    create(runway, i2v())
    create(runway, i2v("veo3.1_fast"))
    refused = post(runway, "/v1/image_to_video", i2v("gen4.5"))

    assert refused.status_code == 429
    assert set(refused.json()) == {"error"}
    assert "maximum number of daily generations" in refused.json()["error"]
    image = {"model": "gen4_image", "promptText": "a chair", "ratio": "1280:720"}
    assert post(runway, "/v1/text_to_image", image).status_code == 200
    org = organization(runway)
    assert org["usage"]["models"]["gen4_turbo"] == {"dailyGenerations": 1}
    assert org["usage"]["models"]["veo3.1_fast"] == {"dailyGenerations": 1}
    assert org["tier"]["models"]["gen4.5"]["maxDailyGenerations"] == 2
    assert len(runway.tasks()) == 3


def test_it_refuses_a_task_the_balance_cannot_pay_for(runway):
    runway.configure(credit_balance=49)
    refused = post(runway, "/v1/image_to_video", i2v(duration=10))

    assert refused.status_code == 400
    assert refused.json() == {"error": "You do not have enough credits to run this task."}
    assert runway.tasks() == []
    assert post(runway, "/v1/image_to_video", i2v(duration=9)).status_code == 200
    assert organization(runway)["creditBalance"] == 4


def test_it_describes_the_organisation_like_runway(runway):
    org = organization(runway)

    assert set(org) == {"creditBalance", "tier", "usage"}
    assert set(org["tier"]) == {"maxMonthlyCreditSpend", "models"}
    assert set(org["tier"]["models"]["veo3.1"]) == {"maxConcurrentGenerations", "maxDailyGenerations"}
    assert org["usage"] == {"models": {}}


def test_reset_forgets_tasks_faults_limits_tier_prices_and_clock(runway):
    runway.configure(credit_balance=5, limits={"gen4_turbo": {"max_concurrent_generations": 1}})
    runway.set_tier(3)
    runway.set_price("gen4_turbo", credits_per_second=9)
    runway.advance_day()
    runway.fail_next("http_error", 5)
    runway.reset()

    assert runway.tasks() == []
    assert runway.faults() == []
    org = organization(runway)
    assert org["creditBalance"] == 100_000
    assert org["tier"]["models"]["gen4_turbo"]["maxConcurrentGenerations"] == 2
    assert org["tier"]["maxMonthlyCreditSpend"] == 100_000
    config = runway.config()
    assert (config["tier"], config["prices"], config["clock_offset"]) == (None, {}, 0.0)


# ---------------------------------------------------------------------------------------------
# Output URLs


def test_it_signs_output_urls_and_refuses_tampered_ones(runway):
    task_id = create(runway, i2v())
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]

    assert re.search(r"/_outputs/[0-9a-f-]+\.mp4\?_jwt=[0-9a-f]+&exp=\d+$", url)
    good = download(url)
    assert good.status_code == 200
    assert good.headers["Content-Type"] == "video/mp4"
    assert int(good.headers["Content-Length"]) == len(good.content) > 0
    assert download(url.replace("_jwt=", "_jwt=0")).status_code == 403
    exp = int(url.rsplit("exp=", 1)[1])
    assert download(url.replace(f"exp={exp}", f"exp={exp + 3600}")).status_code == 403
    assert download(url.split("?")[0]).status_code == 403


def test_output_urls_expire_and_a_fresh_get_gives_new_ones(runway):
    runway.configure(url_ttl=1)
    task_id = create(runway, i2v())
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]
    time.sleep(2.1)

    expired = download(url)
    assert expired.status_code == 403
    fresh = runway.get_task(task_id).json()["output"][0]
    assert fresh != url
    assert download(fresh).status_code == 200


def test_it_serves_byte_ranges_of_an_output(runway):
    task_id = create(runway, i2v())
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]
    whole = download(url).content
    part = download(url, headers={"Range": "bytes=100-199"})

    assert part.status_code == 206
    assert part.content == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert download(url, headers={"Range": f"bytes={len(whole)}-"}).status_code == 416


def test_a_deleted_tasks_output_is_gone(runway):
    task_id = create(runway, i2v())
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]
    requests.delete(f"{runway.base_url}/v1/tasks/{task_id}", headers=runway.api_headers, timeout=10)

    assert download(url).status_code == 404


# ---------------------------------------------------------------------------------------------
# Uploads


def _upload(
    runway: SimulatorControl, data: bytes, filename: str = "frame.png"
) -> tuple[dict, requests.Response]:
    slot = post(runway, "/v1/uploads", {"filename": filename, "type": "ephemeral"})
    assert slot.status_code == 200, slot.text
    slot_body = slot.json()
    assert set(slot_body) == {"uploadUrl", "fields", "runwayUri"}
    sent = requests.post(
        slot_body["uploadUrl"], data=slot_body["fields"], files={"file": (filename, data)}, timeout=30
    )
    return slot_body, sent


def test_an_uploaded_image_is_usable_by_its_runway_uri(runway):
    slot, sent = _upload(runway, picture(fmt="JPEG"), "frame.jpg")

    assert sent.status_code == 204
    assert slot["runwayUri"].startswith("runway://")
    task_id = create(runway, i2v(promptImage=slot["runwayUri"]))
    assert runway.wait_for_status(task_id)["status"] == "SUCCEEDED"


def test_the_upload_target_refuses_a_file_under_512_bytes_and_leaves_the_slot_unfilled(runway):
    slot, sent = _upload(runway, b"\x89PNG" + b"\0" * 507, "tiny.png")  # 511 bytes

    assert sent.status_code == 400
    assert "EntityTooSmall" in sent.json()["error"]
    assert "Invalid runway:// URI" in asset_error(
        post(runway, "/v1/image_to_video", i2v(promptImage=slot["runwayUri"]))
    )


def test_an_uploaded_image_must_carry_the_extension_of_its_content(runway):
    slot, sent = _upload(runway, picture(fmt="PNG"), "frame.jpg")

    assert sent.status_code == 204
    error = asset_error(post(runway, "/v1/image_to_video", i2v(promptImage=slot["runwayUri"])))
    assert error.startswith("promptImage: ")
    assert "named .jpg but holds png" in error


def test_an_upload_uri_is_refused_until_the_file_arrives(runway):
    slot = post(runway, "/v1/uploads", {"filename": "frame.png", "type": "ephemeral"}).json()

    assert "Invalid runway:// URI" in asset_error(
        post(runway, "/v1/image_to_video", i2v(promptImage=slot["runwayUri"]))
    )


def test_the_upload_target_refuses_auth_headers_bad_fields_and_missing_files(runway):
    slot = post(runway, "/v1/uploads", {"filename": "frame.png", "type": "ephemeral"}).json()
    url, fields = slot["uploadUrl"], slot["fields"]
    file = {"file": ("frame.png", picture())}

    with_auth = requests.post(
        url, data=fields, files=file, headers={"Authorization": f"Bearer {runway.api_key}"}, timeout=10
    )
    assert with_auth.status_code == 400
    assert (
        requests.post(url, data={**fields, "x-amz-signature": "0" * 64}, files=file, timeout=10).status_code
        == 403
    )
    assert requests.post(url, data=fields, files={"other": ("x", b"x")}, timeout=10).status_code == 400
    assert requests.post(url, json=fields, timeout=10).status_code == 400


def test_it_validates_the_upload_slot_request(runway):
    assert only_issue(post(runway, "/v1/uploads", {"filename": "a.png", "type": "permanent"}))["path"] == [
        "type"
    ]
    assert only_issue(post(runway, "/v1/uploads", {"type": "ephemeral"}))["path"] == ["filename"]


@pytest.mark.parametrize("filename", ["image", "image.", ".png"])
def test_it_refuses_an_upload_slot_for_a_name_without_an_extension(runway, filename):
    issue = only_issue(post(runway, "/v1/uploads", {"filename": filename, "type": "ephemeral"}))

    assert (issue["code"], issue["path"]) == ("custom", ["filename"])
    assert "extension" in issue["message"]


# ---------------------------------------------------------------------------------------------
# Faults


@pytest.mark.parametrize(
    ("kind", "params", "code", "charged"),
    [
        ("moderation", {}, "SAFETY.INPUT.TEXT", 10),
        ("moderation", {"code": "SAFETY.INPUT.IMAGE"}, "SAFETY.INPUT.IMAGE", 10),
        ("fail", {"code": "SAFETY.INPUT.THIRD_PARTY"}, "SAFETY.INPUT.THIRD_PARTY", 10),
        ("moderation", {"code": "SAFETY.OUTPUT.THIRD_PARTY"}, "SAFETY.OUTPUT.THIRD_PARTY", 0),
        ("bad_output", {}, "INTERNAL.BAD_OUTPUT.CODE01", 0),
        ("fail", {}, "INTERNAL", 0),
        ("fail", {"code": "THIRD_PARTY.UNAVAILABLE"}, "THIRD_PARTY.UNAVAILABLE", 0),
        ("fail", {"code": "INPUT_PREPROCESSING.INTERNAL"}, "INPUT_PREPROCESSING.INTERNAL", 0),
        ("fail", {"code": "ASSET.INVALID", "failure": "Unusable input."}, "ASSET.INVALID", 0),
    ],
)
def test_an_armed_failure_fails_the_next_task_charged_only_for_safety_input(
    runway, kind, params, code, charged
):
    before = organization(runway)["creditBalance"]
    runway.fail_next(kind, **params)
    failing = create(runway, i2v())
    healthy = create(runway, i2v())
    body = runway.wait_for_status(failing)

    assert body["status"] == "FAILED"
    assert set(body) == TASK_KEYS_BY_STATUS["FAILED"]
    assert body["failureCode"] == code
    assert body["failure"]
    # Runway keeps the charge of SAFETY.INPUT.* failures and refunds every other (runway-api.md §6.3).
    assert body["cost"] == {"credits": charged}
    assert runway.wait_for_status(healthy)["status"] == "SUCCEEDED"
    assert organization(runway)["creditBalance"] == before - 10 - charged


@pytest.mark.parametrize(("charge", "cost"), [(True, 10), (False, 0)])
def test_a_faults_charge_parameter_overrides_runways_rule(runway, charge, cost):
    runway.fail_next("moderation", charge=charge)
    first = runway.wait_for_status(create(runway, i2v()))
    runway.fail_next("bad_output", charge=charge)
    second = runway.wait_for_status(create(runway, i2v()))

    assert (first["failureCode"], first["cost"]["credits"]) == ("SAFETY.INPUT.TEXT", cost)
    assert (second["failureCode"], second["cost"]["credits"]) == ("INTERNAL.BAD_OUTPUT.CODE01", cost)


def test_a_safety_input_marker_is_charged_unless_it_asks_for_a_refund(runway):
    charged = runway.wait_for_status(create(runway, i2v(promptText="[sim:fail=SAFETY.INPUT.TEXT] a room")))
    refunded = runway.wait_for_status(
        create(runway, i2v(promptText="[sim:fail=SAFETY.INPUT.TEXT][sim:refund] a"))
    )

    assert charged["cost"] == {"credits": 10}
    assert refunded["cost"] == {"credits": 0}


@pytest.mark.parametrize("code", ["SAFETY.INPUT.TEXT", "SAFETY.INPUT.IMAGE", "INTERNAL.BAD_OUTPUT.CODE01"])
def test_a_prompt_marker_fails_that_task(runway, code):
    body = runway.wait_for_status(create(runway, i2v(promptText=f"a quiet room [sim:fail={code}]")))

    assert (body["status"], body["failureCode"]) == ("FAILED", code)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_an_http_error_burst_hits_the_next_n_api_requests_only(runway, status):
    runway.fail_next("http_error", count=2, status=status)
    statuses = [
        requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10).status_code
        for _ in range(3)
    ]

    assert statuses == [status, status, 200]


def test_a_rate_limit_fault_refuses_the_next_create_without_creating_a_task(runway):
    runway.fail_next("rate_limit")
    refused = post(runway, "/v1/image_to_video", i2v())

    assert refused.status_code == 429
    assert set(refused.json()) == {"error"}
    assert "daily" not in refused.json()["error"]  # told apart from the daily cap
    assert runway.tasks() == []
    assert post(runway, "/v1/image_to_video", i2v()).status_code == 200


def test_a_lost_response_creates_the_task_but_answers_with_an_error(runway):
    runway.fail_next("lost_response")
    lost = post(runway, "/v1/image_to_video", i2v())

    assert lost.status_code == 504
    assert len(runway.tasks()) == 1


def test_a_lost_response_cannot_be_a_load_shedding_status():
    # Runway documents 502 and 503 as load shedding: the request was not taken.
    from generation.simulator.faults import FaultQueue

    with pytest.raises(ValueError, match="load shedding"):
        FaultQueue().arm("lost_response", status=502)


def test_a_failure_can_keep_its_charge(runway):
    balance = organization(runway)["creditBalance"]
    task_id = create(runway, i2v(promptText="Fails but is charged [sim:fail=SAFETY.OUTPUT][sim:charge]"))
    task = runway.wait_for_status(task_id, "FAILED")

    assert task["cost"]["credits"] == 10  # gen4_turbo, 2 s at 5 credits a second
    assert organization(runway)["creditBalance"] == balance - 10


def test_a_slow_task_keeps_running_past_the_usual_time(runway):
    runway.fail_next("slow", seconds=60)
    slow = create(runway, i2v())
    quick = create(runway, i2v())
    runway.wait_for_status(quick, "SUCCEEDED")

    assert runway.get_task(slow).json()["status"] == "RUNNING"


def test_a_truncated_download_announces_more_bytes_than_it_sends(runway):
    task_id = create(runway, i2v())
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]
    size = len(download(url).content)
    runway.fail_next("truncate_download", fraction=0.3)

    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        download(url).content  # noqa: B018
    assert len(download(url).content) == size


def test_a_stalled_download_stops_sending_and_holds_the_connection(runway):
    task_id = create(runway, i2v(promptText="[sim:stall=6]"))
    url = runway.wait_for_status(task_id, "SUCCEEDED")["output"][0]
    received, announced = _read_until_error(url, read_timeout=2)

    assert 0 < received < announced


def _read_until_error(url: str, *, read_timeout: float) -> tuple[int, int]:
    """Stream `url`; return (bytes received, Content-Length) once the read times out."""
    received = 0
    with requests.get(url, stream=True, timeout=(2, read_timeout)) as response:
        announced = int(response.headers["Content-Length"])
        try:
            for chunk in response.iter_content(4096):
                received += len(chunk)
        except requests.exceptions.ConnectionError:
            return received, announced
    raise AssertionError(f"the download completed ({received} of {announced} bytes)")


def test_expired_urls_fault_hands_out_urls_that_are_already_expired(runway):
    task_id = create(runway, i2v())
    runway.wait_for_status(task_id, "SUCCEEDED")
    runway.fail_next("expired_urls")

    assert download(runway.get_task(task_id).json()["output"][0]).status_code == 403
    assert download(runway.get_task(task_id).json()["output"][0]).status_code == 200


def test_unknown_fault_kinds_and_parameters_are_refused(runway):
    with pytest.raises(requests.HTTPError):
        runway.fail_next("meteor_strike")
    with pytest.raises(requests.HTTPError):
        runway.fail_next("slow", minutes=3)


# ---------------------------------------------------------------------------------------------
# Control endpoints


def test_control_endpoints_need_the_control_token(runway):
    assert requests.get(f"{runway.base_url}/_simulator/tasks", timeout=10).status_code == 401
    # Neither a key of Runway's shape nor the API key itself opens the control endpoints.
    for token in ("key_" + "c" * 128, runway.api_key, runway.control_token + "x"):
        headers = {"Authorization": f"Bearer {token}"}
        response = requests.get(f"{runway.base_url}/_simulator/tasks", headers=headers, timeout=10)
        assert response.status_code == 403


def test_a_simulator_started_without_a_token_makes_one_and_accepts_only_it():
    # The management command's case: no API key (any key of Runway's shape calls the API) and no
    # control token given. A key-shaped token must not be able to reset it or arm faults.
    with SimulatorServer(SimulatorConfig.fast()) as server:
        token = server.config.control_token
        assert len(token) >= 32
        for headers in ({}, {"Authorization": "Bearer key_" + "0" * 128}):
            for method, path in (("POST", "/_simulator/reset"), ("POST", "/_simulator/faults")):
                response = requests.request(
                    method, f"{server.base_url}{path}", json={"kind": "api"}, headers=headers, timeout=10
                )
                assert response.status_code in (401, 403)

        control = SimulatorControl(server.base_url, "key_" + "0" * 128, control_token=token)
        assert control.faults() == []  # nothing was armed
        control.fail_next("http_error", status=503)
        assert [f["kind"] for f in control.faults()] == ["http_error"]
        control.reset()
        assert control.faults() == []


def test_two_simulators_get_different_control_tokens():
    assert SimulatorConfig().control_token != SimulatorConfig().control_token


def test_a_given_control_token_is_kept():
    with SimulatorServer(SimulatorConfig.fast(control_token="t" * 40)) as server:
        headers = {"Authorization": "Bearer " + "t" * 40}
        assert requests.get(f"{server.base_url}/_simulator/tasks", headers=headers, timeout=10).json() == {
            "tasks": []
        }


def test_the_task_log_keeps_each_request_with_data_uris_shortened(runway):
    create(runway, i2v(seed=5))
    (entry,) = runway.tasks()

    assert entry["request"]["seed"] == 5
    assert entry["request"]["promptImage"].startswith("data:image/png;base64,... (")
    assert len(entry["request"]["promptImage"]) < 100
    assert entry["model"] == "gen4_turbo"
    assert entry["endpoint"] == "image_to_video"


# ---------------------------------------------------------------------------------------------
# The clips


def _clip(runway: SimulatorControl, tmp_path: Path, body: dict, endpoint: str = "image_to_video") -> Path:
    task = runway.wait_for_status(create(runway, body, endpoint))
    assert task["status"] == "SUCCEEDED", task
    path = tmp_path / f"{task['id']}.mp4"
    path.write_bytes(download(task["output"][0]).content)
    return path


def _mean_difference(a: Path | bytes, b: Path, size: tuple[int, int]) -> float:
    first = Image.open(io.BytesIO(a) if isinstance(a, bytes) else a).convert("RGB").resize(size)
    second = Image.open(b).convert("RGB").resize(size)
    return sum(ImageStat.Stat(ImageChops.difference(first, second)).mean) / 3


def test_a_gen4_clip_has_the_scaled_size_the_duration_and_no_audio(runway, tmp_path):
    clip = _clip(runway, tmp_path, i2v("gen4_turbo", duration=3, ratio="1280:720"))
    info = media.verify_clip(clip, expected_duration=3, tolerance=1 / 24)

    assert (info.width, info.height) == (320, 180)
    assert info.video_codec == "h264"
    assert not info.has_audio


def test_a_gen4_clip_starts_on_its_keyframe(runway, tmp_path):
    keyframe = picture(640, 360)
    clip = _clip(runway, tmp_path, i2v("gen4_turbo", promptImage=data_uri(keyframe), ratio="1280:720"))
    first = media.extract_first_frame(clip, tmp_path / "first.png")

    assert _mean_difference(keyframe, first, (320, 180)) < 8


def test_a_veo_clip_has_aac_audio_unless_audio_is_off(runway, tmp_path):
    with_audio = media.probe(
        _clip(runway, tmp_path, t2v("veo3.1_fast", duration=4, ratio="720:1280"), "text_to_video")
    )
    silent = media.probe(
        _clip(runway, tmp_path, t2v("veo3.1_fast", duration=4, audio=False), "text_to_video")
    )

    assert (with_audio.width, with_audio.height) == (180, 320)
    assert with_audio.audio_codec == "aac"
    assert not silent.has_audio
    assert abs(with_audio.duration - 4) <= 1 / 24


def test_a_veo_clip_runs_from_its_first_to_its_last_keyframe(runway, tmp_path):
    first, last = picture(640, 360), picture(640, 360, "JPEG")
    last = Image.open(io.BytesIO(last)).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    last_bytes = io.BytesIO()
    last.save(last_bytes, "PNG")
    images = [
        {"uri": data_uri(first), "position": "first"},
        {"uri": data_uri(last_bytes.getvalue()), "position": "last"},
    ]
    clip = _clip(runway, tmp_path, i2v("veo3.1", promptImage=images, duration=4))
    start = media.extract_first_frame(clip, tmp_path / "start.png")
    end = media.extract_last_frame(clip, tmp_path / "end.png")

    assert _mean_difference(first, start, (320, 180)) < 8
    assert _mean_difference(last_bytes.getvalue(), end, (320, 180)) < 8
    assert _mean_difference(first, end, (320, 180)) > 20


@pytest.mark.parametrize(
    ("ratio", "size"), [("1584:672", (396, 168)), ("832:1104", (208, 276)), ("960:960", (240, 240))]
)
def test_clips_keep_the_ratio_of_each_gen4_size(runway, tmp_path, ratio, size):
    info = media.probe(_clip(runway, tmp_path, i2v("gen4_turbo", ratio=ratio)))

    assert (info.width, info.height) == size


# ---------------------------------------------------------------------------------------------
# Running the server


def test_stop_ends_every_thread_the_server_started():
    before = set(threading.enumerate())
    server = SimulatorServer(SimulatorConfig(pending_seconds=0, running_seconds=0.1, render_scale=0.1))
    control = SimulatorControl(server.start(), "key_" + "d" * 128)
    task_id = create(control, i2v())
    control.wait_for_status(task_id)
    download(control.get_task(task_id).json()["output"][0])
    server.stop()

    deadline = time.monotonic() + 5  # handler threads notice their hung-up connections at once
    while (
        lingering := [t for t in set(threading.enumerate()) - before if t.is_alive()]
    ) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lingering == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{control.base_url}/_simulator/health", timeout=2)


def test_the_management_command_serves_until_interrupted():
    token = secrets.token_hex(32)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runway_simulator", "--port", "0", "--fast"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUNWAY_SIMULATOR_CONTROL_TOKEN": token},
    )
    try:
        line = process.stdout.readline()
        base_url = re.search(r"http://127\.0\.0\.1:\d+", line)[0]
        assert "fast" in line
        assert requests.get(f"{base_url}/_simulator/health", timeout=5).json() == {"ok": True}
        assert requests.post(f"{base_url}/_simulator/reset", timeout=5).status_code == 401
        headers = {"Authorization": "Bearer key_" + "0" * 128}
        assert requests.post(f"{base_url}/_simulator/reset", headers=headers, timeout=5).status_code == 403
        assert SimulatorControl(base_url, "key_" + "0" * 128, control_token=token).faults() == []
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_an_http_error_can_be_aimed_at_one_path(runway):
    runway.fail_next("http_error", status=500, path="/v1/image_to_video")

    assert requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10).ok
    assert post(runway, "/v1/image_to_video", i2v()).status_code == 500
    assert runway.tasks() == []
    assert post(runway, "/v1/image_to_video", i2v()).status_code == 200
