import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db
FILM = bytes(range(256)) * 50


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(FILM), save=True)
    FilmVersion.objects.create(sequence=sequence, number=1, film=sequence.film.name, sent_at=timezone.now())
    link, token = ShareLink.issue(sequence, created_by=alice)
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def url(link):
    return reverse("shared_film_download", args=[link.token])


def count(link):
    link.refresh_from_db()
    return link.download_count


def counts(link):
    link.refresh_from_db()
    return link.download_count, link.play_count


def test_it_downloads_with_a_filename_and_counts(client, link):
    response = client.get(url(link))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="harbour-house-v1.mp4"'
    assert b"".join(response.streaming_content) == FILM
    assert count(link) == 1


def test_a_resumed_download_is_not_counted_again(client, link):
    client.get(url(link))
    response = client.get(url(link), HTTP_RANGE="bytes=1000-")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == FILM[1000:]
    assert count(link) == 1


def test_the_pages_player_streams_inline_and_counts_a_play_not_a_download(client, link):
    """Fails before issue 10: plays were never counted."""
    response = client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=0-99")
    assert response.status_code == 206
    assert response["Content-Disposition"].startswith("inline")
    assert counts(link) == (0, 1)


def test_seeking_in_the_player_is_the_same_play(client, link):
    client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=0-")
    client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=6000-")
    client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=-100")
    assert counts(link) == (0, 1)


def test_safaris_two_byte_probe_is_not_a_play_of_its_own(client, link):
    client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=0-1")
    client.get(url(link) + "?inline=1", HTTP_RANGE=f"bytes=0-{len(FILM) - 1}")
    assert counts(link) == (0, 1)


def test_a_first_range_counts_one_download(client, link):
    response = client.get(url(link), HTTP_RANGE="bytes=0-4095")
    assert response.status_code == 206
    assert counts(link) == (1, 0)


def test_an_unsatisfiable_range_counts_nothing(client, link):
    """Fails before issue 10: a 416 was counted as a download."""
    response = client.get(url(link), HTTP_RANGE=f"bytes={len(FILM) + 10}-")
    assert response.status_code == 416
    assert response["Cache-Control"] == "private, no-store"
    client.get(url(link) + "?inline=1", HTTP_RANGE=f"bytes={len(FILM)}-")
    assert counts(link) == (0, 0)


def test_a_malformed_range_counts_nothing(client, link):
    """Fails before issue 10: a bad Range header (served in full) was counted as a download."""
    response = client.get(url(link), HTTP_RANGE="bytes=abc-def")
    assert response.status_code == 200
    client.get(url(link), HTTP_RANGE="bytes=0-9,20-29")
    client.get(url(link) + "?inline=1", HTTP_RANGE="items=0-9")
    assert counts(link) == (0, 0)


def test_head_counts_nothing(client, link):
    assert client.head(url(link)).status_code == 200
    assert counts(link) == (0, 0)


def test_the_browser_keeps_nothing(client, link):
    """Fails before issue 10: `max-age=3600` let a browser replay the film after a revoke."""
    assert client.get(url(link))["Cache-Control"] == "private, no-store"
    assert client.get(url(link) + "?inline=1", HTTP_RANGE="bytes=0-9")["Cache-Control"] == "private, no-store"


def test_a_revoked_link_downloads_nothing(client, link):
    link.revoke()
    assert client.get(url(link)).status_code == 410
    assert count(link) == 0


def test_it_refuses_post(client, link):
    assert client.post(url(link)).status_code == 405
