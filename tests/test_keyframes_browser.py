"""A keyframe made from reference images, in a real Chromium with a real qcluster and poller against the
Runway simulator: make a shot's first frame from two tagged references (a wrong @tag first), make the
keyframe image, watch it arrive without reloading, choose it, then generate the film that starts on it.
Screenshots of every step go to test-results/e2e-keyframes/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings

from generation import credits, media
from generation.models import Take
from projects.models import Keyframe, Sequence, Shot
from tests import test_e2e_studio
from tests.helpers import assert_ledger_exact, fast_page_polls, mean_difference
from tests.test_e2e_studio import (
    CHROMIUM,
    DESKTOP,
    GENERATION_TIMEOUT_MS,
    PHONE,
    Screenshots,
    _fits_width,
    _screenshot_open_pages,
    _watch_errors,
)

# The studio end-to-end test's Chromium, and its qcluster and poller, as they are.
chromium = test_e2e_studio.chromium
cluster = test_e2e_studio.cluster

if TYPE_CHECKING:
    from playwright.sync_api import Browser

OUTPUT = Path(django_settings.BASE_DIR) / "test-results" / "e2e-keyframes"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def shots_dir() -> Screenshots:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return Screenshots(OUTPUT)


@pytest.fixture
def sequence(project, alice, references) -> Sequence:
    """Two stitched gen4_turbo shots of 2 s (10 credits each) over the Rooms set."""
    sequence = Sequence.objects.create(
        project=project,
        title="Harbour tour",
        model="gen4_turbo",
        ratio="1280:720",
        is_stitched=True,
        reference_set=references,
        created_by=alice,
    )
    Shot.objects.create(sequence=sequence, position=0, prompt="Slow dolly into the hall", duration=2)
    Shot.objects.create(sequence=sequence, position=1, prompt="Pan towards the windows", duration=2)
    return sequence


def _keyframe_flow(browser: Browser, base_url: str, sequence: Sequence, shots: Screenshots) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    context = fast_page_polls(browser.new_context(viewport=DESKTOP))
    context.set_default_timeout(15_000)
    page = context.new_page()
    _watch_errors(page, errors)

    page.goto(base_url + "/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Log in").click()
    sequence_url = f"{base_url}/sequences/{sequence.pk}/"
    page.goto(sequence_url)
    expect(page.get_by_role("heading", name="Estimate: 20 credits")).to_be_visible()
    shots.take(page, "sequence")

    # The form: thumbnails with checkboxes, suggested tags, the tags as hints that cite themselves.
    page.locator("#shot-" + str(sequence.shots.get(position=0).pk)).get_by_role(
        "link", name="Make the first frame from reference images…"
    ).click()
    expect(
        page.get_by_role("heading", name="Make shot 1's first frame from reference images")
    ).to_be_visible()
    expect(page.locator("[data-reference-row] img")).to_have_count(3)
    expect(page.get_by_label("Tag of R1")).to_have_value("room0")
    expect(page.get_by_label("Tag of R2")).to_have_value("room1")
    page.get_by_label("Use R1").check()
    page.get_by_label("Use R2").check()
    prompt = page.get_by_label("Keyframe prompt")
    prompt.fill("The hall of")
    page.locator("[data-tag-hints]").get_by_role("button", name="@room0").click()
    prompt.press("End")
    prompt.type("in the light of @garden")
    expect(prompt).to_have_value("The hall of @room0 in the light of @garden")
    shots.take(page, "keyframe-form")
    page.get_by_role("button", name="Save keyframe").click()
    expect(page.locator(".errorlist")).to_contain_text("cites @garden, but no reference image has that tag")
    assert not Keyframe.objects.exists()
    shots.take(page, "keyframe-form-error")
    page.get_by_label("Keyframe prompt").fill("The hall of @room0 in the light of @room1")
    page.get_by_role("button", name="Save keyframe").click()
    expect(page.locator(".messages")).to_contain_text(
        "Shot 1's first frame will be made from reference images"
    )

    # "Generate" waits for a chosen image; "Make keyframes" says what it holds.
    panel = page.get_by_role("region", name="First frame of shot 1, made from reference images")
    expect(panel).to_contain_text("@room0")
    expect(page.get_by_role("link", name="Generate…")).to_have_count(0)
    expect(page.locator(".estimate")).to_contain_text("“Generate” waits until every keyframe has one")
    shots.take(page, "keyframe-saved")
    page.get_by_role("link", name="Make keyframes…").click()
    expect(page.get_by_text("This reserves 5 credits from your budget now.")).to_be_visible()
    shots.take(page, "confirm-keyframes")
    page.get_by_role("button", name="Make keyframes for 5 credits").click()
    expect(page.locator(".messages")).to_contain_text("Making 1 keyframe image: 5 credits reserved.")

    # The image arrives by the page's own polling; then the page reloads once.
    panel = page.get_by_role("region", name="First frame of shot 1, made from reference images")
    image = panel.get_by_role("img", name=re.compile("Image 1 of the"))
    expect(image).to_be_visible(timeout=GENERATION_TIMEOUT_MS)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    expect(panel).to_contain_text("5 credits charged")
    shots.take(page, "keyframe-made")

    phone = fast_page_polls(
        browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, storage_state=context.storage_state()
        )
    )
    phone_page = phone.new_page()
    _watch_errors(phone_page, errors)
    phone_page.goto(sequence_url)
    expect(phone_page.get_by_role("button", name=re.compile("Use this image"))).to_be_visible()
    shots.take(phone_page, "phone-keyframe-review")
    review_fits_phone = _fits_width(phone_page)
    phone_page.goto(f"{base_url}/shots/{sequence.shots.get(position=0).pk}/keyframes/first/")
    expect(phone_page.get_by_label("Use R1")).to_be_checked()
    shots.take(phone_page, "phone-keyframe-form")
    review_fits_phone = review_fits_phone and _fits_width(phone_page)
    phone.close()

    page.get_by_role("button", name=re.compile("Use this image")).click()
    expect(page.locator(".messages")).to_contain_text("Image chosen: shot 1 is made from it.")
    panel = page.get_by_role("region", name="First frame of shot 1, made from reference images")
    expect(panel.get_by_text("Chosen", exact=True)).to_be_visible()
    shots.take(page, "keyframe-chosen")

    page.get_by_role("link", name="Generate…").click()
    page.get_by_role("button", name="Generate for 20 credits").click()
    progress = page.locator("#sequence-progress")
    expect(progress).to_have_attribute("data-final", "true", timeout=GENERATION_TIMEOUT_MS)
    expect(page.locator("#versions video#version-player")).to_be_visible(timeout=GENERATION_TIMEOUT_MS)
    # The keyframe image is not one of the shot's clips: the storyboard's cards show two clip takes
    # ([data-take]) beside the keyframe panel's image.
    expect(progress.locator("[data-take]")).to_have_count(2)
    shots.take(page, "film")
    context.close()
    assert errors == [], errors
    assert review_fits_phone, "the keyframe review is wider than a phone"


def test_a_user_makes_reviews_and_chooses_a_keyframe_then_generates(
    chromium, live_server, alice, cluster, runway, sequence, shots_dir, tmp_path
):
    try:
        _keyframe_flow(chromium, live_server.url, sequence, shots_dir)
    except BaseException:
        _screenshot_open_pages(chromium, shots_dir)
        raise
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    keyframe = Keyframe.objects.select_related("chosen_take").get()
    clip = Take.objects.get(shot__position=0, keyframe__isnull=True, status=Take.Status.SUCCEEDED)
    assert clip.first_frame_from == "keyframe"
    local = tmp_path / "clip.mp4"
    local.write_bytes(clip.output.read())
    first = media.extract_first_frame(local, tmp_path / "first.png")
    from PIL import Image

    with keyframe.chosen_take.output.open("rb") as fh:
        assert mean_difference(Image.open(first), Image.open(fh).copy()) < 12
    assert_ledger_exact(alice, runway)
    summary = credits.month_summary(alice)
    assert (summary.used, summary.held) == (25, 0)
