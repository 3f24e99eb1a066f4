"""The Content-Security-Policy in a real Chromium: the studio's scripts (builder, upload, the live
progress panel) and Django's admin run without a single violation. The header itself is tested
without a browser in test_csp.py."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, Shot

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def browser_for(live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )

        def new_page(user):
            client = Client()
            client.force_login(user)
            cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
            context = browser.new_context()
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            context.add_init_script(RECORD_VIOLATIONS)
            return context.new_page()

        yield new_page
        browser.close()
        connections.close_all()


def _visit(page, url: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.__violations") == [], url


def test_studio_pages_run_without_violations(browser_for, live_server, project, alice, references):
    """Guards the policy added for issue 10: a page that needs more than it allows shows up here."""
    from playwright.sync_api import expect

    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="running", reference_set=references
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="running", progress=0.3)
    page = browser_for(alice)
    for url in [
        reverse("dashboard"),
        reverse("usage"),
        reverse("project_detail", args=[project.pk]),
        reverse("reference_set_detail", args=[references.pk]),
    ]:
        _visit(page, live_server.url + url)

    _visit(page, live_server.url + reverse("sequence_detail", args=[sequence.pk]))
    Take.objects.filter(pk=take.pk).update(progress=0.8)
    expect(page.locator("#sequence-progress")).to_contain_text("80%", timeout=15_000)
    assert page.evaluate("window.__violations") == []


def test_the_admin_runs_without_violations(browser_for, live_server, admin_user, project):
    page = browser_for(admin_user)
    for url in [
        reverse("admin:index"),
        reverse("admin:projects_project_change", args=[project.pk]),
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[admin_user.pk]),
    ]:
        _visit(page, live_server.url + url)
