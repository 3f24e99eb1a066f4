"""The studio end to end in a real Chromium, with a real qcluster and poller against the Runway simulator:
sign in, make a project, upload references (one broken), build a stitched three-shot Veo sequence,
confirm the amount, watch it generate without reloading, play the film, send it to the client, share it
and download it as a logged-out client. Screenshots of every step go to test-results/e2e/ for a person to look at."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings
from django.db import connections

from generation import credits, media
from generation.models import Take
from projects.models import Sequence, ShareLink
from tests.helpers import COLOURS, Cluster, assert_ledger_exact, cluster_env, fast_page_polls, photo

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from playwright.sync_api import Browser, Locator, Page
    from pytest_django.fixtures import SettingsWrapper

    from generation.simulator.control import SimulatorControl

CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = Path(django_settings.BASE_DIR) / "test-results" / "e2e"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Generous: the whole sequence normally finishes in well under half of this.
GENERATION_TIMEOUT_MS = 90_000
MEDIA_TIMEOUT_MS = 30_000
PROMPTS = [
    "Slow dolly through the front door into the hall, morning light",
    "Pan across the living room towards the harbour windows",
    "Glide out onto the balcony and rise over the boats",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


class Screenshots:
    """Numbered full-page screenshots in test-results/e2e/, in the order the steps happen."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def take(self, page: Page, name: str) -> Path:
        self.count += 1
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def screenshots() -> Screenshots:
    # Only this run's pictures: stale ones from an earlier run would mislead whoever looks.
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return Screenshots(OUTPUT)


@pytest.fixture
def cluster(
    settings: SettingsWrapper, runway: SimulatorControl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cluster]:
    settings.PIPELINE_INLINE = False
    env = cluster_env(settings, runway)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    c = Cluster(env, tmp_path)
    c.start("qcluster")
    c.start("poller")
    print(f"qcluster and poller logs: {tmp_path}")
    yield c
    for name in list(c.procs):
        try:
            c.kill(name)
        except ProcessLookupError:
            c.procs.pop(name, None)


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """Debian's Chromium (not named `browser`: pytest-playwright's fixture would want its own download)."""
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain and serial.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # With Playwright's loop running, Django keeps this thread's connections apart from the
            # ones it closes at the end of the session; left open, PostgreSQL refuses to drop the
            # test database ("being accessed by other users").
            connections.close_all()


def _watch_errors(page: Page, errors: list[str]) -> None:
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))


def _wait_for_metadata(page: Page, video: Locator) -> float:
    """Wait until the <video> knows its duration and return it; fail on a media error."""
    handle = video.element_handle()
    page.wait_for_function(
        "v => v.error !== null || (v.readyState >= 1 && v.duration > 0)", arg=handle, timeout=MEDIA_TIMEOUT_MS
    )
    error = handle.evaluate("v => v.error && `${v.error.code} ${v.error.message}`")
    assert error is None, f"the video did not load: {error}"
    return handle.evaluate("v => v.duration")


def _play_muted(page: Page, video: Locator) -> float:
    """Start the video muted (autoplay policies allow that without a gesture); return where it got to."""
    handle = video.element_handle()
    handle.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.3", arg=handle, timeout=MEDIA_TIMEOUT_MS)
    return handle.evaluate("v => v.currentTime")


def _fits_width(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def _sign_in(page: Page, base_url: str, screenshots: Screenshots) -> None:
    from playwright.sync_api import expect

    page.goto(base_url + "/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    screenshots.take(page, "login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator(".big-number")).to_have_text("1000")
    screenshots.take(page, "dashboard")


def _create_project(page: Page, screenshots: Screenshots) -> None:
    from playwright.sync_api import expect

    page.get_by_text("New project", exact=True).click()
    page.get_by_label("Name").fill("Harbour House")
    page.get_by_label("Description").fill("Walk-through of the harbour-side flat.")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Harbour House", level=1)).to_be_visible()
    expect(page.get_by_text("You are its owner.")).to_be_visible()
    screenshots.take(page, "project-created")


def _upload_references(page: Page, screenshots: Screenshots) -> None:
    """One upload of three files keeps the two good ones and names the broken one; a third follows."""
    from playwright.sync_api import expect

    page.get_by_label("New reference set").fill("Rooms")
    page.get_by_role("button", name="Create set").click()
    expect(page.get_by_role("heading", name="Rooms", level=1)).to_be_visible()
    good = [photo(colour, i) for i, colour in enumerate(COLOURS)]
    truncated = good[0][: len(good[0]) // 2]
    picker = page.get_by_label("Choose JPEG, PNG, WebP or HEIC images")
    drop_hint = page.get_by_text("…or drop them here.")
    # upload.js (deferred) shows the hint as it starts listening: files chosen before would not be listed.
    expect(drop_hint).to_be_visible()
    picker.set_input_files(
        [
            {"name": "room1.jpg", "mimeType": "image/jpeg", "buffer": good[0]},
            {"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": truncated},
            {"name": "room2.jpg", "mimeType": "image/jpeg", "buffer": good[1]},
        ]
    )
    expect(page.locator("[data-file-list] li")).to_have_count(3)
    screenshots.take(page, "upload-chosen")
    page.get_by_role("button", name="Upload").click()
    messages = page.locator(".messages")
    expect(messages).to_contain_text("Added 2 of 3 images.")
    expect(messages).to_contain_text("“broken.jpg” was not added: it is damaged or incomplete")
    expect(page.locator("ol.thumbs > li")).to_have_count(2)
    expect(page.get_by_role("img", name="R1: room1.jpg")).to_be_visible()
    expect(page.get_by_role("img", name="R2: room2.jpg")).to_be_visible()
    screenshots.take(page, "upload-one-rejected")

    expect(drop_hint).to_be_visible()
    picker.set_input_files([{"name": "room3.jpg", "mimeType": "image/jpeg", "buffer": good[2]}])
    page.get_by_role("button", name="Upload").click()
    expect(messages).to_contain_text("Added 1 image.")
    expect(page.locator("ol.thumbs > li")).to_have_count(3)
    expect(page.get_by_role("img", name="R3: room3.jpg")).to_be_visible()
    screenshots.take(page, "references")


def _build_sequence(page: Page, screenshots: Screenshots) -> None:
    """Veo 3.1 Fast, landscape, stitched, with sound; three 4 s shots on the proposed keyframe plan."""
    from playwright.sync_api import expect

    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Harbour House").click()
    expect(page.get_by_role("heading", name="Harbour House", level=1)).to_be_visible()
    page.wait_for_load_state()  # builder.js (deferred) swaps the ratio choices when the model changes
    page.get_by_text("New sequence", exact=True).click()
    form = page.locator("form[data-sequence-form]")
    form.get_by_label("Title").fill("Harbour tour")
    form.get_by_label("Video model").select_option(label="Veo 3.1 Fast")
    ratio = form.get_by_label("Aspect ratio")
    expect(ratio.locator("option")).to_have_text(
        ["1280×720 (landscape)", "720×1280 (portrait)", "1920×1080 (landscape)", "1080×1920 (portrait)"]
    )
    ratio.select_option(label="1280×720 (landscape)")
    form.get_by_label("Reference images").select_option(label="Rooms")
    form.get_by_label("Stitch shots").check()
    form.get_by_label("Generate sound").check()
    screenshots.take(page, "new-sequence")
    form.get_by_role("button", name="Create sequence").click()
    expect(page.get_by_role("heading", name="Harbour tour", level=1)).to_be_visible()
    expect(page.locator(".page-head")).to_contain_text("Veo 3.1 Fast · 1280:720 · stitched · with sound")

    # Each new shot proposes: start on the previous shot's last frame (the first, having none, on
    # R1), end on the next reference.
    starts = [
        "R1, the reference image at this shot's place (the first shot has no shot before it)",
        "Last frame of the previous shot",
        "Last frame of the previous shot",
    ]
    for number, (prompt, proposed_start, proposed_end) in enumerate(
        zip(PROMPTS, starts, ["R2: room2.jpg", "R3: room3.jpg", "None"], strict=True), 1
    ):
        adder = page.get_by_role("region", name="Add a shot")
        adder.get_by_label("Prompt").fill(prompt)
        adder.get_by_label("Duration (seconds)").select_option(label="4 s")
        expect(adder.get_by_role("radio", name=proposed_start, exact=True)).to_be_checked()
        ending = adder.get_by_label("End on a reference image (optional)")
        expect(ending.locator("option:checked")).to_have_text(proposed_end)
        adder.get_by_role("button", name="Add shot").click()
        expect(page.locator(".messages")).to_contain_text(f"Shot {number} added.")

    plans = page.locator(".plan")
    expect(plans).to_have_count(3)
    expect(plans.nth(0)).to_have_text(re.compile(r"Starts on\s+R1\s+→\s+ends on\s+R2"))
    expect(plans.nth(1)).to_have_text(re.compile(r"Starts on\s+last frame of shot 1\s+→\s+ends on\s+R3"))
    expect(plans.nth(2)).to_have_text(
        re.compile(r"Starts on\s+last frame of shot 2\s+→\s+ends on\s+wherever the model ends")
    )
    heads = page.locator("article.shot .shot-head")
    expect(heads).to_have_count(3)
    for number in range(3):
        expect(heads.nth(number)).to_contain_text("4 s · 60 credits")
    expect(page.get_by_role("heading", name="Estimate: 180 credits")).to_be_visible()
    expect(page.locator(".estimate")).to_contain_text("You have 1000 available this month; 820 would remain")
    screenshots.take(page, "sequence-builder")


def _confirm_and_generate(page: Page, screenshots: Screenshots) -> None:
    """The confirmation states the amount; after it the page follows progress on its own."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="Generate…").click()
    expect(page.get_by_role("heading", name="Generate “Harbour tour”?")).to_be_visible()
    expect(page.locator("tfoot")).to_contain_text("180")
    expect(page.get_by_text("This reserves 180 credits from your budget now.")).to_be_visible()
    expect(page.locator("main")).to_contain_text("You have 1000 available this month, so 820 would remain.")
    screenshots.take(page, "confirm-generate")
    assert not Take.objects.exists()
    page.get_by_role("button", name="Generate for 180 credits").click()
    expect(page.locator(".messages")).to_contain_text("Generating “Harbour tour”: 180 credits reserved.")
    screenshots.take(page, "generating")

    # Nothing here reloads the page: its own polling brings each take, then reloads once when final.
    panel = page.locator("#sequence-progress")
    expect(panel.locator(".take video").first).to_be_visible(timeout=GENERATION_TIMEOUT_MS)
    screenshots.take(page, "generating-first-take-done")
    expect(panel).to_have_attribute("data-final", "true", timeout=GENERATION_TIMEOUT_MS)
    # Reloaded once when final: the Versions section plays the film.
    expect(page.locator("#versions video#version-player")).to_be_visible(timeout=GENERATION_TIMEOUT_MS)
    expect(panel.locator('[data-poll-key="status"] .badge')).to_have_text("Done")
    expect(panel.locator(".take")).to_have_count(3)
    expect(panel.get_by_text("Chosen", exact=True)).to_have_count(3)


def _share(page: Page, base_url: str, screenshots: Screenshots) -> str:
    from playwright.sync_api import expect

    # A link shows only the versions sent to the client.
    page.get_by_role("button", name="Send version 1 to the client").click()
    expect(page.locator(".messages")).to_contain_text("Version 1 was sent to the client")
    page.locator("#sharing").get_by_role("button", name="Create share link").click()
    # The new link is shown once, on its own page, with a Copy button.
    expect(page.get_by_role("heading", name="Link 1", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Copy the link")).to_be_visible()
    share_url = page.get_by_label("The link").input_value()
    assert share_url.startswith(base_url + "/s/")
    screenshots.take(page, "share-link")
    return share_url


def _download_as_client(
    browser: Browser, share_url: str, film_duration: float, screenshots: Screenshots, errors: list[str]
) -> Path:
    """Open the link in a browser that never signed in, check its player and download the film."""
    from playwright.sync_api import expect

    guest = fast_page_polls(browser.new_context(accept_downloads=True, viewport=DESKTOP))
    try:
        assert guest.cookies() == []
        page = guest.new_page()
        _watch_errors(page, errors)
        page.goto(share_url)
        expect(page.get_by_role("heading", name="Harbour tour")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
        assert _wait_for_metadata(page, page.locator("video")) == pytest.approx(film_duration, abs=0.2)
        screenshots.take(page, "shared-film")

        with page.expect_download() as download_info:
            page.get_by_role("link", name=re.compile(r"^Download version 1 \(MP4")).click()
        download = download_info.value
        assert download.failure() is None
        assert download.suggested_filename == "harbour-tour-v1.mp4"
        saved = screenshots.directory / "downloaded-film.mp4"
        download.save_as(saved)
        return saved
    finally:
        guest.close()


def _screenshot_open_pages(browser: Browser, screenshots: Screenshots) -> None:
    for c, context in enumerate(browser.contexts):
        for p, page in enumerate(context.pages):
            try:
                screenshots.take(page, f"failure-context{c}-page{p}")
            except Exception as error:  # the original failure matters more
                print(f"no failure screenshot of {page.url}: {error}")


def _studio_end_to_end(
    browser: Browser, base_url: str, alice: User, runway: SimulatorControl, screenshots: Screenshots
) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    context = fast_page_polls(browser.new_context(viewport=DESKTOP))
    context.set_default_timeout(15_000)
    page = context.new_page()
    _watch_errors(page, errors)

    _sign_in(page, base_url, screenshots)
    _create_project(page, screenshots)
    _upload_references(page, screenshots)
    _build_sequence(page, screenshots)
    sequence_url = page.url.split("#")[0]

    phone = fast_page_polls(
        browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, storage_state=context.storage_state()
        )
    )
    phone_page = phone.new_page()
    _watch_errors(phone_page, errors)
    phone_page.goto(sequence_url)
    screenshots.take(phone_page, "phone-sequence-builder")
    builder_fits_phone = _fits_width(phone_page)

    _confirm_and_generate(page, screenshots)
    sequence = Sequence.objects.get(title="Harbour tour")
    assert sequence.status == Sequence.Status.DONE, sequence.status_message

    # The film plays in the page.
    film = page.locator("#versions video#version-player")
    duration = _wait_for_metadata(page, film)
    assert duration == pytest.approx(sequence.film_duration, abs=0.2)
    assert duration == pytest.approx(3 * 4, abs=0.5)
    assert _play_muted(page, film) > 0.3
    film.evaluate("v => v.pause()")
    screenshots.take(page, "film-played")

    # Runway's charges are settled, nothing is held.
    assert_ledger_exact(alice, runway)
    summary = credits.month_summary(alice)
    assert (summary.used, summary.held) == (180, 0)

    share_url = _share(page, base_url, screenshots)
    phone_page.goto(sequence_url)
    expect(phone_page.locator("#versions video#version-player")).to_be_visible()
    screenshots.take(phone_page, "phone-sequence-done")
    done_fits_phone = _fits_width(phone_page)
    phone.close()

    saved = _download_as_client(browser, share_url, duration, screenshots, errors)
    data = saved.read_bytes()
    assert len(data) > 0
    assert data[4:8] == b"ftyp"
    info = media.probe(saved)
    clips = [
        take.output.path for take in Take.objects.filter(shot__sequence=sequence).order_by("shot__position")
    ]
    assert len(clips) == 3
    assert info.duration == pytest.approx(sum(media.probe(clip).duration for clip in clips), abs=0.3)
    assert (info.width, info.height) == (320, 180)  # the simulator renders 1280:720 at a quarter
    assert info.has_audio
    assert ShareLink.objects.get(sequence=sequence).download_count == 1

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.locator(".big-number")).to_have_text("820")
    expect(page.get_by_role("region", name="Recent films")).to_contain_text("Harbour tour")
    screenshots.take(page, "dashboard-after")

    assert errors == [], errors
    assert builder_fits_phone, "the sequence builder is wider than a phone"
    assert done_fits_phone, "the finished sequence page is wider than a phone"


def test_a_user_makes_shares_and_a_client_downloads_a_stitched_film(
    chromium, live_server, alice, cluster, runway, screenshots
):
    try:
        _studio_end_to_end(chromium, live_server.url, alice, runway, screenshots)
    except BaseException:
        _screenshot_open_pages(chromium, screenshots)
        raise
