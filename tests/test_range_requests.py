"""Range headers with absurdly long numbers: answered from the numbers' size, never a 500.

Python refuses to convert a string of more than 4300 digits to an int (a guard against quadratic
conversion), so such a header once failed every file endpoint, the anonymous share links included.
"""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db
FILM = bytes(range(256)) * 40
HUGE = "9" * 5000


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(FILM), save=True)
    # A share link shows only versions sent to the client.
    FilmVersion.objects.create(sequence=sequence, number=1, film=sequence.film.name, sent_at=timezone.now())
    return sequence


@pytest.fixture
def share_url(sequence, alice):
    _, token = ShareLink.issue(sequence, created_by=alice)
    return reverse("shared_film_download", args=[token])


@pytest.fixture
def staff_url(client, bob, sequence):
    client.force_login(bob)
    return reverse("sequence_film", args=[sequence.pk])


@pytest.fixture(params=["staff", "share"])
def film_url(request):
    return request.getfixturevalue(f"{request.param}_url")


def test_a_start_with_thousands_of_digits_is_unsatisfiable(client, film_url):
    """Fails before issue 17: int() refused the digits and the view answered 500."""
    response = client.get(film_url, HTTP_RANGE=f"bytes={HUGE}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(FILM)}"


def test_a_start_padded_with_thousands_of_zeros_is_still_a_position(client, film_url):
    response = client.get(film_url, HTTP_RANGE=f"bytes={'0' * 5000}100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(FILM)}"
    assert b"".join(response.streaming_content) == FILM[100:200]


def test_an_end_with_thousands_of_digits_means_to_the_end(client, film_url):
    response = client.get(film_url, HTTP_RANGE=f"bytes=100-{HUGE}")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-{len(FILM) - 1}/{len(FILM)}"
    assert b"".join(response.streaming_content) == FILM[100:]


def test_a_suffix_with_thousands_of_digits_is_the_whole_file(client, film_url):
    response = client.get(film_url, HTTP_RANGE=f"bytes=-{HUGE}")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == FILM


def test_head_with_thousands_of_digits_is_unsatisfiable_too(client, film_url):
    assert client.head(film_url, HTTP_RANGE=f"bytes={HUGE}-{HUGE}").status_code == 416
