"""The storyboard in a real Chromium, with a real qcluster and poller against the Runway simulator, at
1440x900 and 390x844: build a three-shot stitched sequence, reorder it by drag and drop, make a keyframe,
generate, retake a shot and pick a take inside its card, compare two takes playing together, and retake
shot 1 of the chain as one priced action that makes the shots after it again. Screenshots of every state
go to the test's tmp dir (its path is printed: pytest -s shows it)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from generation import credits
from generation.models import LedgerEntry, Take
from projects.models import Sequence
from tests import test_e2e_studio
from tests.helpers import assert_ledger_exact, fast_page_polls
from tests.test_e2e_studio import (
    CHROMIUM,
    GENERATION_TIMEOUT_MS,
    PHONE,
    Screenshots,
    _fits_width,
    _screenshot_open_pages,
    _watch_errors,
)

chromium = test_e2e_studio.chromium
cluster = test_e2e_studio.cluster

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

DESKTOP = {"width": 1440, "height": 900}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def shots_dir(tmp_path: Path) -> Screenshots:
    directory = tmp_path / "screenshots"
    print(f"storyboard screenshots: {directory}")
    return Screenshots(directory)


@pytest.fixture
def sequence(project, alice, references) -> Sequence:
    """Stitched gen4_turbo (2 s clips, 10 credits each) over the Rooms set; its shots are added in the page."""
    return Sequence.objects.create(
        project=project,
        title="Harbour tour",
        model="gen4_turbo",
        ratio="1280:720",
        is_stitched=True,
        reference_set=references,
        created_by=alice,
    )


def _prompts(sequence: Sequence) -> list[str]:
    return list(sequence.shots.order_by("position", "pk").values_list("prompt", flat=True))


def _wait_until_final(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#sequence-progress")).to_have_attribute(
        "data-final", "true", timeout=GENERATION_TIMEOUT_MS
    )
    expect(page.locator('[data-poll-key="status"] .badge')).to_have_text(
        "Done", timeout=GENERATION_TIMEOUT_MS
    )


def _card(page: Page, number: int):
    return page.locator("article.shot").nth(number - 1)


def _storyboard_flow(browser: Browser, base_url: str, sequence: Sequence, shots: Screenshots) -> None:
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

    # Build: three 2 s shots, the first on R1, the others on the previous shot's last frame.
    for number, prompt in enumerate(["The hall", "The kitchen", "The balcony"], 1):
        adder = page.get_by_role("region", name="Add a shot")
        adder.get_by_label("Prompt").fill(prompt)
        adder.get_by_label("Duration (seconds)").select_option(label="2 s")
        adder.get_by_role("button", name="Add shot").click()
        expect(page.locator(".messages")).to_contain_text(f"Shot {number} added.")
    expect(page.locator("article.shot")).to_have_count(3)
    expect(page.locator(".summary-bar")).to_contain_text("6.0 s")
    shots.take(page, "built")

    # Reorder by drag and drop: the balcony onto the kitchen's place.
    page.wait_for_function("() => document.querySelector('.storyboard-item').draggable === true")
    items = page.locator(".storyboard-item")
    items.nth(2).drag_to(items.nth(1))
    expect(page.locator(".messages")).to_contain_text("Shot moved to place 2.")
    assert _prompts(sequence) == ["The hall", "The balcony", "The kitchen"]
    expect(_card(page, 2)).to_contain_text("The balcony")
    shots.take(page, "reordered")

    # A keyframe: shot 1's first frame made from R1, made (priced) and chosen.
    _card(page, 1).get_by_role("link", name="Make the first frame from reference images…").click()
    page.get_by_label("Use R1").check()
    page.get_by_label("Keyframe prompt").fill("The hall of @room0 in the morning")
    page.get_by_role("button", name="Save keyframe").click()
    page.get_by_role("link", name="Make keyframes…").click()
    page.get_by_role("button", name="Make keyframes for 5 credits").click()
    image = page.get_by_role("img", name=re.compile("Image 1 of the"))
    expect(image).to_be_visible(timeout=GENERATION_TIMEOUT_MS)
    page.get_by_role("button", name=re.compile("Use this image")).click()
    expect(page.locator(".messages")).to_contain_text("Image chosen")
    shots.take(page, "keyframe-chosen")

    # Generate: the button says what it costs, the confirmation holds exactly that.
    expect(page.get_by_role("link", name="Generate… · 30 credits")).to_be_visible()
    page.get_by_role("link", name="Generate…").click()
    page.get_by_role("button", name="Generate for 30 credits").click()
    shots.take(page, "generating")
    _wait_until_final(page)
    expect(page.locator("#versions video#version-player")).to_be_visible()
    for number in (1, 2, 3):
        expect(_card(page, number).locator(".take.is-chosen video")).to_be_visible()
    expect(page.locator(".timeline a")).to_have_count(3)
    shots.take(page, "generated")

    # A second take of shot 3 (the last: nothing is made from it), priced where it is pressed.
    third = _card(page, 3)
    third.get_by_role("button", name="Retake shot 3 · 10 credits…").click()
    expect(page.get_by_role("heading", name="Retake shot 3?")).to_be_visible()
    page.get_by_role("button", name="Retake for 10 credits").click()
    _wait_until_final(page)
    third = _card(page, 3)
    expect(third.locator(".take")).to_have_count(2)
    shots.take(page, "retaken")

    # Pick the first take again inside the card; the thumbnail previews before choosing.
    third.locator("[data-preview]").click()
    expect(third.locator(".take-thumb.is-previewing")).to_have_count(1)
    third.get_by_role("button", name="Use this take (take 1)").click()
    expect(page.locator(".messages")).to_contain_text("Take chosen.")
    _wait_until_final(page)
    third = _card(page, 3)
    expect(third.locator(".take.is-chosen")).to_contain_text("Take 1")
    shots.take(page, "take-picked")

    # Compare the two takes, playing together.
    third.get_by_role("link", name="Compare takes").click()
    expect(
        page.get_by_role("heading", name=re.compile("Compare Shot 3, take 1 and Shot 3, take 2"))
    ).to_be_visible()
    page.get_by_role("button", name="Play both").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-compare-player]')].every(v => v.currentTime > 0.3)",
        timeout=GENERATION_TIMEOUT_MS,
    )
    page.get_by_role("button", name="Pause both").click()
    shots.take(page, "compare")
    compare_url = page.url

    # The chain: retaking shot 1 makes shots 2 and 3 again, in one priced action and one hold.
    page.goto(sequence_url)
    before = Take.objects.filter(keyframe__isnull=True).count()
    _card(page, 1).get_by_role("button", name="Retake shot 1 and shots 2–3 · 30 credits…").click()
    expect(page.locator("tfoot")).to_contain_text("30")
    shots.take(page, "confirm-chain")
    page.get_by_role("button", name="Retake for 30 credits").click()
    _wait_until_final(page)
    assert Take.objects.filter(keyframe__isnull=True).count() == before + 3
    expect(page.locator("[data-stale-notice]")).to_have_count(0)
    shots.take(page, "chain-regenerated")

    phone = fast_page_polls(
        browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, storage_state=context.storage_state()
        )
    )
    phone_page = phone.new_page()
    _watch_errors(phone_page, errors)
    phone_page.goto(sequence_url)
    expect(phone_page.locator("article.shot")).to_have_count(3)
    shots.take(phone_page, "phone-storyboard")
    storyboard_fits = _fits_width(phone_page)
    phone_page.goto(compare_url)
    shots.take(phone_page, "phone-compare")
    compare_fits = _fits_width(phone_page)
    phone.close()
    context.close()
    assert errors == [], errors
    assert storyboard_fits, "the storyboard is wider than a phone"
    assert compare_fits, "the compare page is wider than a phone"


def test_a_user_builds_reorders_generates_picks_compares_and_regenerates_a_chain(
    chromium, live_server, alice, cluster, runway, sequence, shots_dir
):
    try:
        _storyboard_flow(chromium, live_server.url, sequence, shots_dir)
    except BaseException:
        _screenshot_open_pages(chromium, shots_dir)
        raise
    sequence.refresh_from_db()
    assert sequence.status == Sequence.Status.DONE, sequence.status_message
    assert not sequence.shots.filter(is_stale=True).exists()
    assert_ledger_exact(alice, runway)
    summary = credits.month_summary(alice)
    # 5 (keyframe) + 30 (generate) + 10 (retake of shot 3) + 30 (the chain)
    assert (summary.used, summary.held) == (75, 0)
    assert LedgerEntry.objects.filter(kind="hold").count() == 1 + 3 + 1 + 3
