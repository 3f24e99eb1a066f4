import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Sequence, ShareLink

pytestmark = pytest.mark.django_db
FILM = bytes(range(256)) * 50


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(FILM), save=True)
    return ShareLink.objects.create(sequence=sequence, created_by=alice)


def url(link):
    return reverse("shared_film_download", args=[link.token])


def count(link):
    link.refresh_from_db()
    return link.download_count


def test_it_downloads_with_a_filename_and_counts(client, link):
    response = client.get(url(link))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="harbour-house.mp4"'
    assert b"".join(response.streaming_content) == FILM
    assert count(link) == 1


def test_a_resumed_download_is_not_counted_again(client, link):
    client.get(url(link))
    response = client.get(url(link), HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == FILM[1000:]
    assert count(link) == 1


def test_the_pages_player_streams_inline_without_counting(client, link):
    response = client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Disposition"].startswith("inline")
    assert count(link) == 0


def test_a_revoked_link_downloads_nothing(client, link):
    link.revoke()
    assert client.get(url(link)).status_code == 410
    assert count(link) == 0


def test_it_refuses_post(client, link):
    assert client.post(url(link)).status_code == 405
