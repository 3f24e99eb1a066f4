"""The simulator's POST /v1/text_to_image: strict like Runway, over real HTTP, and the official SDK.

Bodies follow the SDK's Gen4Image / Gen4ImageTurbo types (runwayml 5.24.0); errors have the same
shapes as the video endpoints (runway-api.md §6.2).
"""

from __future__ import annotations

import base64
import datetime as dt
import io

import httpx
import pytest
import requests
from PIL import Image
from runwayml import BadRequestError, RunwayML
from runwayml.lib.polling import TaskFailedError

from tests.helpers import png

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 220)


def data_uri(colour: tuple[int, int, int] = RED, size: tuple[int, int] = (640, 360)) -> str:
    return "data:image/png;base64," + base64.b64encode(png(size, colour)).decode()


def body(**changes) -> dict:
    base = {
        "model": "gen4_image",
        "promptText": "@house at dusk",
        "ratio": "1280:720",
        "referenceImages": [{"uri": data_uri(), "tag": "house"}],
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def create(runway, payload: dict) -> requests.Response:
    return requests.post(
        f"{runway.base_url}/v1/text_to_image", json=payload, headers=runway.api_headers, timeout=30
    )


def issues_of(response: requests.Response) -> list[dict]:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Validation of body failed"
    return response.json()["issues"]


def fetch_png(url: str) -> Image.Image:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


# ---------------------------------------------------------------------------------------------
# Validation


def test_an_unknown_model_matches_no_discriminator(runway):
    issues = issues_of(create(runway, body(model="gen4_turbo")))

    assert issues == [
        {
            "code": "invalid_union",
            "errors": [],
            "note": "No matching discriminator",
            "discriminator": "model",
            "path": ["model"],
            "message": "Invalid input",
        }
    ]


def test_it_refuses_a_ratio_the_model_does_not_make(runway):
    issues = issues_of(create(runway, body(ratio="1584:672")))

    assert issues[0]["code"] == "invalid_value"
    assert issues[0]["path"] == ["ratio"]
    assert "1920:1080" in issues[0]["values"]


@pytest.mark.parametrize(
    ("prompt", "code"),
    [(None, "invalid_type"), ("", "too_small"), ("x" * 1001, "too_big"), ("🏠" * 501, "too_big")],
)
def test_it_refuses_a_missing_empty_or_long_prompt(runway, prompt, code):
    payload = body(promptText=prompt)
    if prompt is None:
        payload.pop("promptText", None)

    issues = issues_of(create(runway, payload))

    assert [(i["code"], i["path"]) for i in issues] == [(code, ["promptText"])]


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("ab", "too_small"),
        ("a" * 17, "too_big"),
        ("1house", "invalid_format"),
        ("front-door", "invalid_format"),
        ("abc\n", "invalid_format"),
        (7, "invalid_type"),
    ],
)
def test_it_refuses_a_tag_that_breaks_the_rule(runway, tag, code):
    issues = issues_of(create(runway, body(referenceImages=[{"uri": data_uri(), "tag": tag}])))

    assert [(i["code"], i["path"]) for i in issues] == [(code, ["referenceImages", 0, "tag"])]


def test_it_refuses_two_references_with_one_tag(runway):
    references = [{"uri": data_uri(), "tag": "house"}, {"uri": data_uri(GREEN), "tag": "house"}]

    issues = issues_of(create(runway, body(referenceImages=references)))

    assert issues == [
        {"code": "custom", "path": ["referenceImages"], "message": "Each tag may only be used once"}
    ]


@pytest.mark.parametrize(
    ("model", "references", "code"),
    [
        ("gen4_image", [{"uri": data_uri()}] * 4, "too_big"),
        ("gen4_image_turbo", [{"uri": data_uri()}] * 4, "too_big"),
        ("gen4_image_turbo", [], "too_small"),
        ("gen4_image_turbo", None, "invalid_type"),
        ("gen4_image", "a picture", "invalid_type"),
    ],
)
def test_it_refuses_too_many_or_too_few_references(runway, model, references, code):
    payload = body(model=model, promptText="a house", referenceImages=references)

    issues = issues_of(create(runway, payload))

    assert [(i["code"], i["path"]) for i in issues] == [(code, ["referenceImages"])]


def test_it_refuses_unknown_keys_in_the_body_and_in_a_reference(runway):
    payload = body(duration=5, referenceImages=[{"uri": data_uri(), "tag": "house", "position": "first"}])

    issues = issues_of(create(runway, payload))

    assert [(i["code"], i["path"], i["keys"]) for i in issues] == [
        ("unrecognized_keys", [], ["duration"]),
        ("unrecognized_keys", ["referenceImages", 0], ["position"]),
    ]


def test_it_checks_seed_and_content_moderation(runway):
    payload = body(seed=-1, contentModeration={"publicFigureThreshold": "none"})

    issues = issues_of(create(runway, payload))

    assert [(i["code"], i["path"]) for i in issues] == [
        ("too_small", ["seed"]),
        ("invalid_value", ["contentModeration", "publicFigureThreshold"]),
    ]


def test_a_reference_uri_must_be_https_runway_or_data(runway):
    issues = issues_of(create(runway, body(referenceImages=[{"uri": "http://example.com/a.png"}])))

    assert issues[0]["path"] == ["referenceImages", 0, "uri"]
    assert issues[0]["message"] == "Only HTTPS URLs are allowed."


def test_an_https_reference_is_refused_as_the_video_endpoints_refuse_it(runway):
    # The simulator fetches nothing: like promptImage, an https URL fails as an unfetchable asset.
    response = create(
        runway, body(referenceImages=[{"uri": "https://example.com/house.png", "tag": "house"}])
    )

    assert response.status_code == 400
    assert response.json()["error"].startswith("referenceImages[0].uri: Failed to fetch asset.")


def test_an_unusable_image_is_refused_naming_its_field(runway):
    references = [{"uri": data_uri()}, {"uri": data_uri(size=(900, 300)), "tag": "wide"}]

    response = create(runway, body(referenceImages=references))

    assert response.status_code == 400
    assert response.json()["error"].startswith("referenceImages[1].uri: Invalid asset aspect ratio")


def test_a_prompt_citing_an_unknown_tag_is_accepted_as_runway_documents_no_check(runway):
    assert create(runway, body(promptText="@house beside @garden")).status_code == 200


# ---------------------------------------------------------------------------------------------
# Tasks


def test_a_task_renders_its_references_in_order_from_data_uris_and_uploads(runway):
    slot = requests.post(
        f"{runway.base_url}/v1/uploads",
        json={"filename": "garden.png", "type": "ephemeral"},
        headers=runway.api_headers,
        timeout=10,
    ).json()
    uploaded = requests.post(
        slot["uploadUrl"], data=slot["fields"], files={"file": ("garden.png", png(colour=GREEN))}, timeout=10
    )
    assert uploaded.status_code == 204
    references = [
        {"uri": data_uri(BLUE)},
        {"uri": slot["runwayUri"], "tag": "garden"},
        {"uri": data_uri(RED), "tag": "house"},
    ]

    response = create(runway, body(ratio="720:1280", referenceImages=references))
    task = runway.wait_for_status(response.json()["id"])
    image = fetch_png(task["output"][0]).convert("RGB")

    assert response.json()["estimatedCost"] == {"credits": 5}
    assert task["status"] == "SUCCEEDED"
    assert task["cost"] == {"credits": 5}
    assert image.size == (720, 1280)
    assert [image.getpixel((720 * (2 * n + 1) // 6, 640)) for n in range(3)] == [BLUE, GREEN, RED]
    logged = runway.tasks()[0]
    assert (logged["endpoint"], logged["model"], logged["outputSize"]) == (
        "text_to_image",
        "gen4_image",
        [720, 1280],
    )


def test_an_image_without_references_is_a_title_card_of_the_ratio_size(runway):
    response = create(runway, body(promptText="an empty beach", ratio="2112:912", referenceImages=None))
    task = runway.wait_for_status(response.json()["id"])

    assert response.json()["estimatedCost"] == {"credits": 8}
    assert fetch_png(task["output"][0]).size == (2112, 912)


@pytest.mark.parametrize(
    ("model", "ratio", "credits"),
    [("gen4_image", "720:960", 5), ("gen4_image", "1440:1080", 8), ("gen4_image_turbo", "1080:1920", 2)],
)
def test_it_charges_per_image_and_books_usage_by_model_and_day(runway, model, ratio, credits):
    before = runway.configure()["credit_balance"]

    response = create(runway, body(model=model, ratio=ratio))
    runway.wait_for_status(response.json()["id"])
    today = dt.datetime.now(dt.UTC).date()
    window = {"startDate": today.isoformat(), "beforeDate": (today + dt.timedelta(days=1)).isoformat()}
    usage = requests.post(
        f"{runway.base_url}/v1/organization/usage", json=window, headers=runway.api_headers, timeout=10
    ).json()

    assert response.json()["estimatedCost"] == {"credits": credits}
    assert runway.configure()["credit_balance"] == before - credits
    assert {"date": today.isoformat(), "usedCredits": [{"model": model, "amount": credits}]} in usage[
        "results"
    ]


def test_a_moderated_image_fails_and_keeps_its_charge(runway):
    before = runway.configure()["credit_balance"]

    response = create(runway, body(promptText="[sim:fail=SAFETY.INPUT.TEXT] @house"))
    task = runway.wait_for_status(response.json()["id"])

    cost = response.json()["estimatedCost"]["credits"]
    assert task["status"] == "FAILED"
    assert task["failureCode"] == "SAFETY.INPUT.TEXT"
    assert task["cost"] == {"credits": cost} != {"credits": 0}
    assert runway.configure()["credit_balance"] == before - cost


def test_an_image_that_fails_for_another_reason_is_refunded(runway):
    before = runway.configure()["credit_balance"]

    response = create(runway, body(promptText="[sim:fail=THIRD_PARTY.UNAVAILABLE] @house"))
    task = runway.wait_for_status(response.json()["id"])

    assert (task["failureCode"], task["cost"]) == ("THIRD_PARTY.UNAVAILABLE", {"credits": 0})
    assert runway.configure()["credit_balance"] == before


def test_a_failure_marked_to_charge_keeps_its_credits(runway):
    before = runway.configure()["credit_balance"]

    response = create(runway, body(promptText="[sim:fail=INTERNAL.BAD_OUTPUT.CODE01][sim:charge] @house"))
    task = runway.wait_for_status(response.json()["id"])

    assert (task["failureCode"], task["cost"]) == ("INTERNAL.BAD_OUTPUT.CODE01", {"credits": 5})
    assert runway.configure()["credit_balance"] == before - 5


def test_armed_faults_reach_image_tasks(runway):
    runway.fail_next("moderation", code="SAFETY.INPUT.IMAGE")
    runway.fail_next("rate_limit")

    limited = create(runway, body())
    moderated = runway.wait_for_status(create(runway, body()).json()["id"])

    assert limited.status_code == 429
    assert moderated["failureCode"] == "SAFETY.INPUT.IMAGE"


def test_the_output_url_is_signed_and_expires(runway):
    task = runway.wait_for_status(create(runway, body()).json()["id"])
    url = task["output"][0]

    assert url.split("?")[0].endswith(".png")
    assert requests.get(url.replace("_jwt=", "_jwt=0"), timeout=10).status_code == 403
    assert requests.get(url.replace(".png?", ".mp4?"), timeout=10).status_code == 404
    runway.fail_next("expired_urls")
    expired = runway.get_task(task["id"]).json()["output"][0]
    assert requests.get(expired, timeout=10).status_code == 403


def test_image_models_have_their_own_tier_limits(runway):
    runway.configure(limits={"gen4_image": {"max_daily_generations": 1}})

    assert create(runway, body()).status_code == 200
    refused = create(runway, body())

    assert refused.status_code == 429
    assert "gen4_image" in refused.json()["error"]


# ---------------------------------------------------------------------------------------------
# The official SDK


@pytest.fixture
def sdk(runway) -> RunwayML:
    return RunwayML(api_key=runway.api_key, base_url=runway.base_url, max_retries=0)


def test_sdk_text_to_image_waits_for_a_png_of_the_references(sdk):
    created = sdk.text_to_image.create(
        model="gen4_image",
        prompt_text="@house and @garden at golden hour",
        ratio="1920:1080",
        reference_images=[{"uri": data_uri(RED), "tag": "house"}, {"uri": data_uri(GREEN), "tag": "garden"}],
        seed=3,
        content_moderation={"public_figure_threshold": "auto"},
    )
    assert created.estimated_cost.credits == 8

    task = created.wait_for_task_output(timeout=60)

    assert task.status == "SUCCEEDED"
    assert task.cost.credits == 8
    image = Image.open(io.BytesIO(httpx.get(task.output[0]).content)).convert("RGB")
    assert image.size == (1920, 1080)
    assert [image.getpixel((480, 540)), image.getpixel((1440, 540))] == [RED, GREEN]


def test_sdk_turbo_without_references_is_a_bad_request(sdk):
    with pytest.raises(BadRequestError) as raised:
        sdk.text_to_image.create(
            model="gen4_image_turbo", prompt_text="a house", ratio="1280:720", reference_images=[]
        )

    assert raised.value.body["issues"][0]["path"] == ["referenceImages"]


def test_sdk_wait_raises_task_failed_for_a_moderated_image(sdk):
    created = sdk.text_to_image.create(
        model="gen4_image_turbo",
        prompt_text="[sim:fail=SAFETY.INPUT.TEXT] @house",
        ratio="720:720",
        reference_images=[{"uri": data_uri(), "tag": "house"}],
    )

    with pytest.raises(TaskFailedError) as raised:
        created.wait_for_task_output(timeout=60)

    assert raised.value.task_details.failure_code == "SAFETY.INPUT.TEXT"
    assert raised.value.task_details.cost.credits == 2  # charged, as Runway charges SAFETY.INPUT
