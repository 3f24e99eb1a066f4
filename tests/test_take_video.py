import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db
CLIP = bytes(range(256)) * 40


@pytest.fixture
def take(project, alice):
    sequence = Sequence.objects.create(project=project, title="Harbour Tour", created_by=alice)
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="succeeded")
    take.output.save("clip.mp4", ContentFile(CLIP), save=True)
    return take


def url(take):
    return reverse("take_video", args=[take.pk])


def test_members_stream_the_clip(client, bob, take):
    client.force_login(bob)
    response = client.get(url(take))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == CLIP


def test_players_can_seek_with_ranges(client, bob, take):
    client.force_login(bob)
    response = client.get(url(take), HTTP_RANGE="bytes=100-199")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 100-199/{len(CLIP)}"
    assert b"".join(response.streaming_content) == CLIP[100:200]


def test_a_take_without_a_clip_is_404(client, alice, take):
    Take.objects.filter(pk=take.pk).update(output="")
    client.force_login(alice)
    assert client.get(url(take)).status_code == 404


def test_it_redirects_anonymous_users_to_login(client, take):
    assert reverse("login") in client.get(url(take))["Location"]


def test_outsiders_get_404(client, carol, take):
    client.force_login(carol)
    assert client.get(url(take)).status_code == 404


def test_it_refuses_post(client, alice, take):
    client.force_login(alice)
    assert client.post(url(take)).status_code == 405
