"""videogen.csp: a Content-Security-Policy and a Permissions-Policy on every response, and pages that live
within them."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Sequence, ShareLink

pytestmark = pytest.mark.django_db

REQUIRED = [
    "default-src 'self'",
    "script-src 'self'",
    "img-src 'self' data:",
    "media-src 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
    "object-src 'none'",
    "base-uri 'self'",
]
SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def assert_fits_the_policy(response) -> None:
    policy = response["Content-Security-Policy"]
    for directive in REQUIRED:
        assert directive in policy
    assert "'unsafe-eval'" not in policy
    assert "script-src 'self';" in policy + ";"  # no 'unsafe-inline' for scripts
    text = response.content.decode()
    for attributes in SCRIPT.findall(text):
        # Only external scripts and json_script data blocks, which are never executed.
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert "<style" not in text
    assert not HANDLER.search(text)
    assert "javascript:" not in text


@pytest.fixture
def sequence(project, alice, references):
    return Sequence.objects.create(
        project=project,
        title="Tour",
        created_by=alice,
        status="done",
        film="films/x.mp4",
        reference_set=references,
    )


def test_studio_pages_carry_the_policy_and_fit_it(client, alice, project, sequence):
    """Fails before issue 10: there was no Content-Security-Policy header."""
    assert_fits_the_policy(client.get(reverse("login")))
    client.force_login(alice)
    for url in [
        reverse("dashboard"),
        reverse("usage"),
        reverse("project_detail", args=[project.pk]),
        reverse("reference_set_detail", args=[sequence.reference_set_id]),
        reverse("sequence_detail", args=[sequence.pk]),
        reverse("sequence_progress", args=[sequence.pk]),
    ]:
        assert_fits_the_policy(client.get(url))
    assert_fits_the_policy(client.post(reverse("create_share_link", args=[sequence.pk]), {}))


def test_the_share_page_carries_it(client, alice, sequence):
    _, token = ShareLink.issue(sequence, created_by=alice)
    assert_fits_the_policy(client.get(reverse("shared_film", args=[token])))
    assert_fits_the_policy(client.get(reverse("shared_film", args=["unknown-token"])))


def test_the_admin_works_under_the_same_policy(admin_client, sequence):
    for url in [
        reverse("admin:index"),
        reverse("admin:projects_sequence_change", args=[sequence.pk]),
        reverse("admin:projects_sequence_changelist"),
        reverse("admin:generation_take_changelist"),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert_fits_the_policy(response)


def assert_denies_powerful_features(response) -> None:
    policy = response["Permissions-Policy"]
    for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"]:
        assert feature in policy


def test_pages_files_and_errors_deny_powerful_features(client, alice, sequence):
    """Fails before issue 17: there was no Permissions-Policy header."""
    _, token = ShareLink.issue(sequence, created_by=alice)
    assert_denies_powerful_features(client.get(reverse("login")))
    assert_denies_powerful_features(client.get(reverse("shared_film", args=[token])))
    assert_denies_powerful_features(client.get(reverse("shared_film", args=["unknown-token"])))
    client.force_login(alice)
    assert_denies_powerful_features(client.get(reverse("dashboard")))
    sequence.film.save("film.mp4", ContentFile(b"film" * 100), save=True)
    assert_denies_powerful_features(client.get(reverse("sequence_film", args=[sequence.pk])))
