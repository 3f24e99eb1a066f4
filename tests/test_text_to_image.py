"""Keyframe images from tagged references: the catalog's rules and the client, against the simulator.

Parsing uses recorded Runway JSON shapes (runway-api.md §4, §5: a text_to_image task reads like
any task, its `output` holding image URLs); the rest runs our RunwayClient over real HTTP.
"""

from __future__ import annotations

import base64

import pytest
from PIL import Image

from generation import catalog
from generation.catalog import UnsupportedRequest, build_image_request, suggest_tag
from generation.runway import RunwayClient, RunwayValidationError, TaskState
from tests.helpers import png

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 60), (40, 60, 220)


def data_uri(colour: tuple[int, int, int]) -> str:
    return "data:image/png;base64," + base64.b64encode(png(colour=colour)).decode()


def build(**kwargs):
    kwargs.setdefault("model", "gen4_image")
    kwargs.setdefault("prompt_text", "a kitchen at dawn")
    return build_image_request(**kwargs)


# ---------------------------------------------------------------------------------------------
# Catalog: the image models stay out of the video table


def test_the_image_models_are_not_video_models():
    assert set(catalog.IMAGE_MODELS) == {"gen4_image", "gen4_image_turbo"}
    assert not set(catalog.IMAGE_MODELS) & set(catalog.MODELS)
    assert not {row["id"] for row in catalog.describe_models()} & set(catalog.IMAGE_MODELS)


def test_a_video_model_is_refused_as_an_image_model():
    with pytest.raises(UnsupportedRequest, match="makes video, not images"):
        build(model="gen4_turbo")
    with pytest.raises(UnsupportedRequest, match="Unknown image model"):
        build(model="dalle")


def test_it_builds_a_body_with_tagged_references_in_order():
    built = build(
        prompt_text="  @house beside @garden at dusk  ",
        ratio="1920:1080",
        references=[("house", True), (None, True), ("garden", True)],
        seed=42,
    )

    assert built.endpoint == "text_to_image"
    assert built.body == {
        "model": "gen4_image",
        "promptText": "@house beside @garden at dusk",
        "ratio": "1920:1080",
        "seed": 42,
    }
    assert built.with_images(["u1", "u2", "u3"])["referenceImages"] == [
        {"uri": "u1", "tag": "house"},
        {"uri": "u2"},
        {"uri": "u3", "tag": "garden"},
    ]
    with pytest.raises(ValueError, match="Expected 3 image URIs, got 1"):
        built.with_images(["u1"])


def test_no_references_and_no_ratio_means_a_plain_1280x720_image():
    built = build()

    assert built.ratio == "1280:720"
    assert built.with_images([]) == built.body
    assert "referenceImages" not in built.body


@pytest.mark.parametrize(
    ("model", "ratio", "credits"),
    [
        ("gen4_image", "1280:720", 5),
        ("gen4_image", "720:720", 5),
        ("gen4_image", "1680:720", 5),
        ("gen4_image", "1920:1080", 8),
        ("gen4_image", "1024:1024", 8),
        ("gen4_image", "1360:768", 8),
        ("gen4_image_turbo", "1280:720", 2),
        ("gen4_image_turbo", "2112:912", 2),
    ],
)
def test_the_estimate_is_the_per_image_price(model, ratio, credits):
    built = build(model=model, ratio=ratio, references=[("house", True)])

    assert built.estimated_credits == credits


@pytest.mark.parametrize(
    ("tag", "why"),
    [
        ("ab", "2 characters long"),
        ("a_tag_that_is_too_long", "22 characters long"),
        ("1house", "starts with a letter"),
        ("_house", "starts with a letter"),
        ("front-door", "starts with a letter"),
        ("front door", "starts with a letter"),
        ("küche", "starts with a letter"),
    ],
)
def test_it_refuses_a_tag_that_breaks_runways_rule(tag, why):
    with pytest.raises(UnsupportedRequest, match=why):
        build(references=[(tag, True)])


@pytest.mark.parametrize("tag", ["abc", "House_2", "a" * 16, "K9_unit"])
def test_it_accepts_a_tag_that_keeps_runways_rule(tag):
    assert build(references=[(tag, True)]).tags == (tag,)


def test_it_refuses_a_tag_used_twice_whatever_its_case():
    with pytest.raises(UnsupportedRequest, match="used twice"):
        build(references=[("house", True), ("House", True)])


def test_it_refuses_a_prompt_citing_an_unknown_tag():
    with pytest.raises(
        UnsupportedRequest, match=r"@garden, but no reference image has that tag; cite one of @house"
    ):
        build(prompt_text="@house and @garden", references=[("house", True)])
    with pytest.raises(UnsupportedRequest, match="no reference image is tagged"):
        build(prompt_text="@house at night")
    with pytest.raises(UnsupportedRequest, match="spelt 'House'; write @House"):
        build(prompt_text="@house at night", references=[("House", True)])


def test_an_email_address_is_not_a_citation():
    assert build(prompt_text="a sign reading info@agency.com", references=[("sign", True)])


@pytest.mark.parametrize(
    ("model", "count", "message"),
    [
        ("gen4_image", 4, "at most 3 reference images; you chose 4. Remove 1"),
        ("gen4_image_turbo", 4, "at most 3 reference images"),
        ("gen4_image_turbo", 0, "needs at least 1 reference image; add one, or choose gen4_image"),
    ],
)
def test_it_refuses_too_many_or_too_few_references(model, count, message):
    references = [(f"ref_{n}", True) for n in range(count)]
    with pytest.raises(UnsupportedRequest, match=message):
        build(model=model, references=references)


def test_a_reference_needs_an_image():
    with pytest.raises(UnsupportedRequest, match=r"Reference 2 \(@garden\) has no image"):
        build(references=[("house", True), ("garden", False)])


def test_it_refuses_a_ratio_the_model_does_not_make():
    with pytest.raises(UnsupportedRequest, match="does not make 1584:672 images; choose one of 1024:1024"):
        build(ratio="1584:672")


def test_it_refuses_an_empty_or_too_long_prompt():
    with pytest.raises(UnsupportedRequest, match="needs a prompt"):
        build(prompt_text="   ")
    with pytest.raises(UnsupportedRequest, match="1001 characters long"):
        build(prompt_text="x" * 1001)
    with pytest.raises(UnsupportedRequest, match="emoji count as two"):
        build(prompt_text="🏠" * 501)
    assert build(prompt_text="🏠" * 500)


def test_it_refuses_a_bad_seed():
    with pytest.raises(UnsupportedRequest, match="seed"):
        build(seed=-1)
    with pytest.raises(UnsupportedRequest, match="seed"):
        build(seed=catalog.SEED_MAX + 1)


@pytest.mark.parametrize(
    ("filename", "taken", "tag"),
    [
        ("kitchen.jpg", (), "kitchen"),
        ("Küche 2.JPG", (), "Kuche_2"),
        ("2024-front door.png", (), "front_door"),
        ("IMG_0042.jpeg", (), "IMG_0042"),
        ("123.png", (), "ref"),
        ("ab.png", (), "ab_ref"),
        ("a very long file name indeed.webp", (), "a_very_long_file"),
        ("kitchen.jpg", ("Kitchen",), "kitchen_2"),
        ("kitchen.jpg", ("kitchen", "kitchen_2"), "kitchen_3"),
        ("a very long file name.png", ("a_very_long_file",), "a_very_long_fi_2"),
        ("/uploads/refs/garden.final.png", (), "garden_final"),
    ],
)
def test_it_suggests_a_valid_tag_from_a_file_name(filename, taken, tag):
    suggested = suggest_tag(filename, taken)

    assert suggested == tag
    catalog.check_tag(suggested)


# ---------------------------------------------------------------------------------------------
# Client parsing: recorded Runway JSON


def test_it_parses_a_created_image_task_and_a_finished_one():
    succeeded = TaskState.from_json(
        {
            "id": "d2e3d1f4-1b3c-4b5c-8d46-1c1d7ee86892",
            "status": "SUCCEEDED",
            "createdAt": "2026-08-26T06:30:33.796Z",
            "output": ["https://dnznrvs05pmza.cloudfront.net/abc/image.png?_jwt=eyJ"],
            "cost": {"credits": 8},
        }
    )
    running = TaskState.from_json(
        {
            "id": "08388106-1b46-4f5c-bd46-1c1d7ee86892",
            "status": "RUNNING",
            "createdAt": "2026-08-26T06:30:33.796Z",
            "progress": 0.5,
            "estimatedCost": {"credits": 5},
        }
    )

    assert succeeded.is_final
    assert succeeded.output[0].split("?")[0].endswith(".png")
    assert succeeded.cost_credits == 8
    assert (running.progress, running.estimated_credits, running.is_final) == (0.5, 5, False)


# ---------------------------------------------------------------------------------------------
# Over HTTP: our client against the simulator


def test_our_client_makes_a_keyframe_from_references(runway, tmp_path):
    client = RunwayClient()
    built = build(
        prompt_text="@house with @garden behind, golden hour",
        ratio="1920:1080",
        references=[("house", True), ("garden", True), (None, True)],
    )
    uris = [data_uri(RED), client.upload_ephemeral("garden.png", png(colour=GREEN)), data_uri(BLUE)]

    created = client.create_task(built.endpoint, built.with_images(uris))
    runway.wait_for_status(created.id)
    task = client.get_task(created.id)
    out = tmp_path / "keyframe.png"
    with out.open("wb") as fileobj:
        client.download_output(task.output[0], fileobj)

    assert created.estimated_credits == built.estimated_credits == 8
    assert task.status == "SUCCEEDED"
    assert task.cost_credits == built.estimated_credits
    with Image.open(out) as image:
        assert image.format == "PNG"
        assert image.size == (1920, 1080)
        rgb = image.convert("RGB")
        middles = [rgb.getpixel((1920 * (2 * n + 1) // 6, 540)) for n in range(3)]
    assert middles == [RED, GREEN, BLUE]


def test_a_moderated_keyframe_keeps_its_charge_as_runway_does(runway):
    client = RunwayClient()
    built = build(
        model="gen4_image_turbo",
        prompt_text="[sim:fail=SAFETY.INPUT.TEXT] @house",
        references=[("house", True)],
    )
    balance = client.organization().credit_balance

    created = client.create_task(built.endpoint, built.with_images([data_uri(RED)]))
    runway.wait_for_status(created.id)
    task = client.get_task(created.id)

    # Runway does not refund SAFETY.INPUT.* failures (runway-api.md §6.3): 2 credits, gen4_image_turbo.
    assert (task.status, task.failure_code, task.cost_credits) == ("FAILED", "SAFETY.INPUT.TEXT", 2)
    assert client.organization().credit_balance == balance - 2


def test_the_simulator_refuses_what_the_catalog_would_have_stopped(runway):
    client = RunwayClient()

    with pytest.raises(RunwayValidationError) as raised:
        client.create_task(
            "text_to_image",
            {"model": "gen4_image_turbo", "promptText": "a house", "ratio": "1280:720"},
        )

    assert raised.value.issues[0]["path"] == ["referenceImages"]
