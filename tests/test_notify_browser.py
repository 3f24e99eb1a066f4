"""In a real Chromium: the sequence page reports that it is looked at, offers a notification and
shows one when the run ends; prompt fields count their characters as they are typed."""

import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, SequenceLook, Shot

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]

# Headless Chromium shows no system notifications: the page's Notification is recorded instead, the
# one part here that stands in for what cannot run (the permission itself is granted for real).
RECORD_NOTIFICATIONS = """
const Real = window.Notification;
window.Notification = function (title, options) {
  // Kept in sessionStorage: the poller reloads the page right after.
  const seen = JSON.parse(sessionStorage.getItem("notifications") || "[]");
  sessionStorage.setItem("notifications", JSON.stringify(seen.concat([[title, options.body]])));
};
Object.defineProperty(window.Notification, "permission", { get: () => Real.permission });
window.Notification.requestPermission = () => Real.requestPermission();
"""


@pytest.fixture
def browser_context(live_server, alice, monkeypatch):
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
        context = browser.new_context()
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
        yield context
        browser.close()
        connections.close_all()


def test_a_run_that_ends_while_the_page_is_open_is_notified(browser_context, live_server, project, alice):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="running")
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="running", progress=0.3)
    browser_context.add_init_script(RECORD_NOTIFICATIONS)
    page = browser_context.new_page()
    page.goto(live_server.url + reverse("sequence_detail", args=[sequence.pk]))

    button = page.get_by_role("button", name="Notify me when it finishes")
    expect(button).to_be_visible()
    browser_context.grant_permissions(["notifications"], origin=live_server.url)
    button.click()
    expect(page.get_by_text("You will be notified here when it finishes.")).to_be_visible()
    assert SequenceLook.objects.filter(user=alice, sequence=sequence).exists()

    Take.objects.filter(pk=take.pk).update(status="failed", failure_code="SAFETY.INPUT.TEXT")
    Sequence.objects.filter(pk=sequence.pk).update(status="failed")
    # wait_for_function evaluates a string in the page, which its CSP refuses: ask from outside.
    deadline = time.monotonic() + 15
    shown = []
    while not shown and time.monotonic() < deadline:
        page.wait_for_timeout(200)
        try:
            shown = page.evaluate("JSON.parse(sessionStorage.getItem('notifications') || '[]')")
        except PlaywrightError:  # the page is reloading
            continue
    (title, body), *_ = shown
    assert title.endswith("finished")
    assert "Failed" in body


def test_the_prompt_field_counts_as_it_is_typed(browser_context, live_server, project, alice):
    from playwright.sync_api import expect

    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, model="gen4.5")
    page = browser_context.new_page()
    page.goto(live_server.url + reverse("sequence_detail", args=[sequence.pk]))
    prompt = page.locator("textarea[data-count-limit]").first
    prompt.fill("a" * 998 + "🎬🎬")  # emoji count as two, as Runway counts them

    count = page.locator(".char-count").first
    expect(count).to_have_text("1,002 / 1,000 characters: 2 over the limit")
    assert prompt.input_value() == "a" * 998 + "🎬🎬"  # nothing was cut
    prompt.fill("a" * 10)
    expect(count).to_have_text("10 / 1,000 characters")
