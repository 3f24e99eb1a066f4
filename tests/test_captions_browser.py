"""Saved captions in a real Chromium: the share page's player loads the WebVTT track (served
through the link, checked by the CSP) with its cues, and shows the cue of the time played."""

from pathlib import Path

import pytest
from django.db import connections
from django.urls import reverse

from generation import captions
from generation.captions import Cue
from projects.models import ShareLink
from tests.test_captions import narrated_version

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def page(live_server, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are plain and serial.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        browser.close()
        connections.close_all()


def test_the_share_player_shows_the_saved_captions(page, live_server, project, alice, tmp_path):
    version = narrated_version(project, alice, tmp_path)
    cues = [Cue(0.1, 0.9, "Morning light on the harbour."), Cue(1.0, 1.9, "The boats go out.")]
    captions.save_captions(version, seen_version=0, cues=cues)
    version.send(by=alice)
    _, token = ShareLink.issue(sequence=version.sequence, created_by=alice)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(live_server.url + reverse("shared_film", args=[token]))
    page.wait_for_function(
        "() => { const t = document.querySelector('#review-player track'); "
        "return t && t.readyState === 2 && t.track.cues && t.track.cues.length > 0; }",
        timeout=15_000,
    )
    state = page.evaluate(
        """async () => {
            const video = document.querySelector('#review-player');
            const track = video.textTracks[0];
            await new Promise((done) => { video.addEventListener('seeked', done, {once: true}); video.currentTime = 1.4; });
            await new Promise((done) => setTimeout(done, 200));
            return {kind: track.kind, mode: track.mode, count: track.cues.length,
                    active: Array.from(track.activeCues).map((c) => c.text),
                    first: [track.cues[0].startTime, track.cues[0].endTime, track.cues[0].text]};
        }"""
    )
    assert state["kind"] == "captions"
    assert state["mode"] == "showing"
    assert state["count"] == 2
    assert state["active"] == ["The boats go out."]
    assert state["first"] == [pytest.approx(0.1), pytest.approx(0.9), "Morning light on the harbour."]
    assert not [e for e in errors if "Content Security Policy" in e]
