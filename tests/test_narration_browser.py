"""The live "Narration and 4K master" section in a real Chromium on a phone-sized screen: while a
narration is made its progress is followed, and when it arrives it can be played, without a reload.
What the section shows is tested without a browser in test_finishing_pages.py. Screenshots of each
step go to test-results/narration/."""

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import connections
from django.test import Client
from django.urls import reverse

from generation import catalog
from generation.models import Take
from generation.simulator.render import render_clip, render_speech
from projects.models import FilmVersion, Sequence, Shot
from tests.helpers import PAGE_POLL_MS, fast_page_polls

CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}
OUTPUT = Path(settings.BASE_DIR) / "test-results" / "narration"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def page(live_server, alice, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain and serial.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    client = Client()
    client.force_login(alice)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        context = fast_page_polls(browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True))
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        yield context.new_page()
        browser.close()
        # Connections opened while Playwright's loop runs are not closed by Django's session
        # cleanup; left open, PostgreSQL refuses to drop the test database.
        connections.close_all()


def fits_the_phone(page) -> bool:
    """Whether the section, and everything in it, is within the phone's width."""
    return page.evaluate(
        """(width) => Array.from(document.querySelectorAll("#narration, #narration *")).every(
            (el) => el.getBoundingClientRect().right <= width)""",
        PHONE["width"],
    )


def test_a_narration_arrives_without_a_reload(page, live_server, project, alice, tmp_path):
    from playwright.sync_api import expect

    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    sequence = Sequence.objects.create(
        project=project,
        title="Harbour tour",
        created_by=alice,
        status="done",
        narration_script="Morning light on the harbour",
    )
    Shot.objects.create(sequence=sequence, prompt="Harbour", first_frame="none", duration=5)
    take = Take.objects.create(
        sequence=sequence,
        user=alice,
        endpoint=catalog.TEXT_TO_SPEECH,
        status=Take.Status.RUNNING,
        progress=0.3,
        request={"model": "eleven_multilingual_v2"},
        estimated_credits=1,
    )
    page.goto(live_server.url + reverse("sequence_detail", args=[sequence.pk]) + "#narration")
    section = page.locator("#narration-progress")
    expect(section).to_contain_text("30%")
    expect(section).to_have_attribute("data-final", "false")
    page.evaluate("window.notReloaded = true")
    page.locator("#narration").screenshot(path=str(OUTPUT / "01-in-progress.png"))

    Take.objects.filter(pk=take.pk).update(progress=0.7)
    expect(section).to_contain_text("70%", timeout=15_000)

    take.output.save(
        "narration.mp3", ContentFile(render_speech(out=tmp_path / "v.mp3", duration=2).read_bytes())
    )
    Take.objects.filter(pk=take.pk).update(
        status=Take.Status.SUCCEEDED, progress=1, cost_credits=1, duration=2
    )
    Sequence.objects.filter(pk=sequence.pk).update(narration_take=take)

    expect(section).to_have_attribute("data-final", "true", timeout=15_000)
    expect(section.locator("audio")).to_have_count(1)
    expect(section).to_contain_text("Runway charged 1 credit")
    expect(section).to_contain_text("Make another narration · 1 credit…")
    assert page.evaluate("window.notReloaded === true")  # swapped in, not reloaded
    page.locator("#narration").screenshot(path=str(OUTPUT / "02-arrived.png"))
    # Nothing is on its way: the script stops asking.
    requests = []
    page.on("request", lambda r: requests.append(r.url) if "narration/progress" in r.url else None)
    page.wait_for_timeout(5 * PAGE_POLL_MS)  # five of its intervals
    assert requests == []
    assert fits_the_phone(page)


def test_the_section_fits_a_phone_with_everything_in_it(page, live_server, project, alice, tmp_path):
    """A film with a version, a narration whose download failed, a script now too long for the film
    and the offer of a 4K master: each says what it costs, and nothing is wider than the phone."""
    from playwright.sync_api import expect

    OUTPUT.mkdir(parents=True, exist_ok=True)
    film = render_clip(
        out=tmp_path / "film.mp4",
        width=320,
        height=180,
        duration=2,
        first_image=None,
        last_image=None,
        text="",
        with_audio=False,
    )
    sequence = Sequence.objects.create(
        project=project,
        title="Harbour tour",
        created_by=alice,
        status="done",
        film_duration=2.0,
        narration_script=" ".join(["word"] * 10),
    )
    Shot.objects.create(sequence=sequence, prompt="Harbour", first_frame="none", duration=2)
    version = FilmVersion.objects.create(sequence=sequence, number=1, duration=2.0)
    version.film.save("film.mp4", ContentFile(film.read_bytes()))
    Take.objects.create(
        sequence=sequence,
        user=alice,
        endpoint=catalog.TEXT_TO_SPEECH,
        status=Take.Status.FAILED,
        failure_code="DOWNLOAD",
        failure_message="Runway made this narration, but it could not be saved (the link expired). "
        "Fetch it again: that is not charged twice.",
        runway_task_id="0f0e2a35-3c1f-4d4a-9b8e-4b1d2c3e4f50",
        request={"model": "eleven_multilingual_v2"},
        estimated_credits=1,
        cost_credits=1,
    )
    page.goto(live_server.url + reverse("sequence_detail", args=[sequence.pk]) + "#narration")
    section = page.locator("#narration")
    expect(section).to_contain_text("About 2 s too long for the film.")
    expect(section.get_by_role("button", name="Fetch narration 1 again (no charge)")).to_be_visible()
    expect(section.get_by_role("link", name="Make a 4K master · about 58 credits…")).to_be_visible()
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(OUTPUT / "03-lost-too-long-master.png"), full_page=True)
    assert fits_the_phone(page)
