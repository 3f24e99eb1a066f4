import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Sequence

pytestmark = pytest.mark.django_db
FILM = bytes(range(256)) * 100


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House: Tour!", created_by=alice, status="done"
    )
    sequence.film.save("film.mp4", ContentFile(FILM), save=True)
    return sequence


def url(sequence):
    return reverse("sequence_film", args=[sequence.pk])


def test_members_stream_the_film_inline(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'inline; filename="harbour-house-tour.mp4"'
    assert response["Content-Length"] == str(len(FILM))
    assert b"".join(response.streaming_content) == FILM


def test_download_is_an_attachment_with_a_proper_filename(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence) + "?download=1")
    assert response["Content-Disposition"] == 'attachment; filename="harbour-house-tour.mp4"'


def test_ranges_let_players_seek(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence), HTTP_RANGE=f"bytes={len(FILM) - 10}-")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {len(FILM) - 10}-{len(FILM) - 1}/{len(FILM)}"
    assert b"".join(response.streaming_content) == FILM[-10:]


def test_an_unsatisfiable_range_is_416(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence), HTTP_RANGE=f"bytes={len(FILM)}-")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(FILM)}"


def test_head_sends_headers_only(client, bob, sequence):
    client.force_login(bob)
    response = client.head(url(sequence))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(FILM))
    assert response.content == b""


def test_no_film_yet_is_404(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(film="")
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 404


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.get(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404


def test_it_refuses_post(client, alice, sequence):
    client.force_login(alice)
    assert client.post(url(sequence)).status_code == 405
