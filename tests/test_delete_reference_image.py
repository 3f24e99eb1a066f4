import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from projects.images import add_reference_images
from projects.models import ReferenceImage, ReferenceSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(project):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buffer, "JPEG")
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    return add_reference_images(
        reference_set, files=[SimpleUploadedFile("hall.jpg", buffer.getvalue())]
    ).added[0]


def url(image):
    return reverse("delete_reference_image", args=[image.pk])


def test_it_asks_for_confirmation_first(client, alice, image):
    client.force_login(alice)
    response = client.post(url(image))
    assert response.status_code == 200
    assert "Remove “hall.jpg”" in response.text
    assert ReferenceImage.objects.filter(pk=image.pk).exists()


def test_it_deletes_the_image_and_its_files_once_confirmed(client, alice, image):
    names = [image.image.name, image.thumbnail.name]
    client.force_login(alice)
    response = client.post(url(image), {"confirm": "yes"})
    assert response["Location"] == reverse("reference_set_detail", args=[image.reference_set_id])
    assert not ReferenceImage.objects.filter(pk=image.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_it_redirects_anonymous_users_to_login(client, image):
    assert reverse("login") in client.post(url(image), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, image):
    client.force_login(carol)
    assert client.post(url(image), {"confirm": "yes"}).status_code == 404
    assert ReferenceImage.objects.filter(pk=image.pk).exists()


def test_viewers_get_403(client, bob, image):
    client.force_login(bob)
    assert client.post(url(image), {"confirm": "yes"}).status_code == 403
    assert ReferenceImage.objects.filter(pk=image.pk).exists()


def test_it_refuses_get(client, alice, image):
    client.force_login(alice)
    assert client.get(url(image)).status_code == 405
