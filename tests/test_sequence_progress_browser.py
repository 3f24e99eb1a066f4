"""The live generation panel in a real Chromium: the poller swaps in new progress and stops (with one
reload) once the sequence is final. Progress itself is tested without a browser in test_sequence_progress.py."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, Shot
from tests.helpers import fast_page_polls

CHROMIUM = Path("/usr/bin/chromium")
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
        context = fast_page_polls(browser.new_context())
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        yield context.new_page()
        browser.close()
        # Connections opened while Playwright's loop runs are not closed by Django's session
        # cleanup; left open, PostgreSQL refuses to drop the test database.
        connections.close_all()


def test_the_panel_follows_progress_and_stops_when_final(page, live_server, project, alice):
    from playwright.sync_api import expect

    # A text-only shot on a model that makes video from text: a shot the page can price a retake of.
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="running", model="gen4.5"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="running", progress=0.3)
    page.goto(live_server.url + reverse("sequence_detail", args=[sequence.pk]))
    panel = page.locator("#sequence-progress")
    expect(panel).to_contain_text("30%")

    Take.objects.filter(pk=take.pk).update(progress=0.8)
    expect(panel).to_contain_text("80%", timeout=15_000)

    Take.objects.filter(pk=take.pk).update(status="failed", failure_code="SAFETY.INPUT.TEXT")
    Sequence.objects.filter(pk=sequence.pk).update(status="failed")
    expect(panel).to_have_attribute("data-final", "true", timeout=15_000)
    expect(panel).to_contain_text("moderation rejected the prompt", timeout=15_000)
    # After the one reload the page is static: the retake button is there, with its price.
    retake = page.get_by_role("button", name="Retake shot 1")
    expect(retake).to_be_visible(timeout=15_000)
    expect(retake).to_have_text(re.compile(r"Retake shot 1 · \d+ credits"))
