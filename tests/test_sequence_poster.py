import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from projects.models import Sequence

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    sequence.poster.save("poster.jpg", ContentFile(b"\xff\xd8fake"), save=True)
    return sequence


def url(sequence):
    return reverse("sequence_poster", args=[sequence.pk])


def test_members_get_the_poster(client, bob, sequence):
    client.force_login(bob)
    response = client.get(url(sequence))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_no_poster_is_404(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(poster="")
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 404


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.get(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404
