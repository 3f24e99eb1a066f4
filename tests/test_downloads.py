"""The byte ranges and cache validators behind every video and download response."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.downloads import parse_range
from projects.models import Sequence


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=1000-", False),
        ("bytes=-0", False),
        ("bytes=5-2", None),
        ("bytes=0-1,5-9", None),
        ("items=0-9", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header, expected):
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("digits", ["9" * 5000, "0" * 5000 + "1500"])
def test_parse_range_reads_positions_of_any_length_without_converting_them(digits):
    """Fails before issue 17: int() refuses more than 4300 digits."""
    assert parse_range(f"bytes={digits}-", 1000) is False
    assert parse_range(f"bytes=10-{digits}", 1000) == (10, 999)
    assert parse_range(f"bytes=-{digits}", 1000) == (0, 999)


# --- caching of staff media ------------------------------------------------------------------------

FILM = bytes(range(256)) * 20


@pytest.fixture
def film_url(client, bob, project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(FILM), save=True)
    client.force_login(bob)
    return reverse("sequence_film", args=[sequence.pk])


@pytest.mark.django_db
def test_staff_media_are_revalidated_on_every_use(client, film_url):
    """Fails before issue 17: `private, max-age=3600` let a removed member replay them for an hour."""
    response = client.get(film_url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"].endswith("GMT")


@pytest.mark.django_db
def test_a_revalidation_with_the_etag_answers_304_without_the_file(client, film_url):
    etag = client.get(film_url)["ETag"]
    response = client.get(film_url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "private, no-cache"
    assert client.get(film_url, HTTP_IF_NONE_MATCH='"something-else"').status_code == 200


@pytest.mark.django_db
def test_a_revalidation_by_date_answers_304(client, film_url):
    modified = client.get(film_url)["Last-Modified"]
    assert client.get(film_url, HTTP_IF_MODIFIED_SINCE=modified).status_code == 304


@pytest.mark.django_db
def test_a_removed_member_revalidating_gets_404_not_304(client, bob, project, film_url):
    etag = client.get(film_url)["ETag"]
    project.memberships.filter(user=bob).delete()
    assert client.get(film_url, HTTP_IF_NONE_MATCH=etag).status_code == 404


@pytest.mark.django_db
def test_if_range_with_another_etag_sends_the_whole_file(client, film_url):
    etag = client.get(film_url)["ETag"]
    resumed = client.get(film_url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE=etag)
    assert resumed.status_code == 206
    assert b"".join(resumed.streaming_content) == FILM[100:]
    changed = client.get(film_url, HTTP_RANGE="bytes=100-", HTTP_IF_RANGE='"an-older-file"')
    assert changed.status_code == 200
    assert b"".join(changed.streaming_content) == FILM
