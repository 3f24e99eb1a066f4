import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    sequence.film.save("film.mp4", ContentFile(b"\0" * 10), save=False)
    sequence.poster.save("poster.jpg", ContentFile(b"\xff\xd8fake"), save=True)
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


def test_anyone_with_the_link_gets_the_poster(client, link):
    response = client.get(reverse("shared_film_poster", args=[link.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_a_revoked_link_gets_no_poster(client, link):
    link.revoke()
    assert client.get(reverse("shared_film_poster", args=[link.token])).status_code == 410


def test_the_browser_keeps_no_poster(client, link):
    """Fails before issue 10: the poster was cached for an hour, past a revoke."""
    response = client.get(reverse("shared_film_poster", args=[link.token]))
    assert response["Cache-Control"] == "private, no-store"
