import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.images import add_reference_images
from projects.models import ReferenceSet
from tests.helpers import jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    result = add_reference_images(
        reference_set, files=[SimpleUploadedFile(f"{n}.jpg", jpeg((40, 30))) for n in "abc"]
    )
    return result.added


def order(images):
    return list(
        images[0].reference_set.images.order_by("position", "pk").values_list("original_name", flat=True)
    )


def url(image):
    return reverse("move_reference_image", args=[image.pk])


def test_it_moves_an_image_up_and_down(client, alice, images):
    client.force_login(alice)
    client.post(url(images[2]), {"direction": "up"})
    assert order(images) == ["a.jpg", "c.jpg", "b.jpg"]
    client.post(url(images[0]), {"direction": "down"})
    assert order(images) == ["c.jpg", "a.jpg", "b.jpg"]


def test_moving_past_either_end_changes_nothing(client, alice, images):
    client.force_login(alice)
    client.post(url(images[0]), {"direction": "up"})
    client.post(url(images[2]), {"direction": "down"})
    assert order(images) == ["a.jpg", "b.jpg", "c.jpg"]


def test_an_unknown_direction_changes_nothing(client, alice, images):
    client.force_login(alice)
    client.post(url(images[1]), {"direction": "sideways"})
    assert order(images) == ["a.jpg", "b.jpg", "c.jpg"]


def test_it_redirects_anonymous_users_to_login(client, images):
    assert reverse("login") in client.post(url(images[1]), {"direction": "up"})["Location"]


def test_outsiders_get_404(client, carol, images):
    client.force_login(carol)
    assert client.post(url(images[1]), {"direction": "up"}).status_code == 404


def test_viewers_get_403(client, bob, images):
    client.force_login(bob)
    assert client.post(url(images[1]), {"direction": "up"}).status_code == 403
    assert order(images) == ["a.jpg", "b.jpg", "c.jpg"]


def test_it_refuses_get(client, alice, images):
    client.force_login(alice)
    assert client.get(url(images[1])).status_code == 405
