import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    sequence.film.save("film.mp4", ContentFile(b"\0" * 10), save=False)
    sequence.poster.save("poster.jpg", ContentFile(b"\xff\xd8fake"), save=True)
    return ShareLink.objects.create(sequence=sequence, created_by=alice)


def test_anyone_with_the_link_gets_the_poster(client, link):
    response = client.get(reverse("shared_film_poster", args=[link.token]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_a_revoked_link_gets_no_poster(client, link):
    link.revoke()
    assert client.get(reverse("shared_film_poster", args=[link.token])).status_code == 410
