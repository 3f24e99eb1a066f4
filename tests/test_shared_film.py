import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="<i>Harbour</i> House", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(b"\0" * 1000), save=False)
    sequence.poster.save("poster.jpg", ContentFile(b"\xff\xd8"), save=True)
    FilmVersion.objects.create(
        sequence=sequence,
        number=1,
        film=sequence.film.name,
        poster=sequence.poster.name,
        sent_at=timezone.now(),
    )
    link, token = ShareLink.issue(sequence, created_by=alice)
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def url(link):
    return reverse("shared_film", args=[link.token])


def test_anyone_with_the_link_sees_the_film_without_an_account(client, link):
    response = client.get(url(link))
    assert response.status_code == 200
    assert "&lt;i&gt;Harbour&lt;/i&gt; House" in response.text
    assert reverse("shared_film_download", args=[link.token]) in response.text
    assert reverse("shared_film_poster", args=[link.token]) in response.text
    # No Referer to other sites; same-origin so that the page's review forms carry their Origin.
    assert response["Referrer-Policy"] == "same-origin"


def test_it_shows_no_staff_navigation_or_project_details(client, link, settings):
    settings.RUNWAY_API_KEY = "key_" + "b2" * 64
    text = client.get(url(link)).text
    assert 'href="/"' not in text
    assert "My usage" not in text
    assert link.sequence.project.name not in text
    assert settings.RUNWAY_API_KEY not in text


def test_clients_never_see_the_simulated_runway_badge(client, alice, link, settings):
    """Fails before issue 10: the badge showed on the client's page."""
    settings.RUNWAY_SIMULATED = True
    assert "Simulated Runway" not in client.get(url(link)).text
    assert "Runway is simulated" not in client.get(url(link)).text
    client.force_login(alice)
    assert "Simulated Runway" not in client.get(url(link)).text
    link.revoke()
    assert "Simulated Runway" not in client.get(url(link)).text


def test_the_page_is_not_kept_by_the_browser(client, link):
    assert client.get(url(link))["Cache-Control"] == "private, no-store"


def test_an_expired_link_is_a_polite_410(client, link):
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    response = client.get(url(link))
    assert response.status_code == 410
    assert "no longer available" in response.text


def test_a_revoked_link_is_a_polite_410(client, link):
    link.revoke()
    assert client.get(url(link)).status_code == 410


def test_an_unknown_token_is_404(client, link):
    assert client.get(reverse("shared_film", args=["x" * 43])).status_code == 404
