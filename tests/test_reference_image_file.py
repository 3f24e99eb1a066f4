import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from projects.images import add_reference_images
from projects.models import ReferenceSet

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(project):
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600)).save(buffer, "JPEG")
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    return add_reference_images(
        reference_set, files=[SimpleUploadedFile("hall.jpg", buffer.getvalue())]
    ).added[0]


def url(image):
    return reverse("reference_image_file", args=[image.pk])


def test_members_get_the_image_and_its_thumbnail(client, bob, image):
    client.force_login(bob)
    full = client.get(url(image))
    thumb = client.get(url(image) + "?size=thumb")
    assert full.status_code == 200
    assert full["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(full.streaming_content))).size == (800, 600)
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size == (320, 240)


def test_it_redirects_anonymous_users_to_login(client, image):
    assert reverse("login") in client.get(url(image))["Location"]


def test_outsiders_get_404(client, carol, image):
    client.force_login(carol)
    assert client.get(url(image)).status_code == 404


def test_it_refuses_post(client, alice, image):
    client.force_login(alice)
    assert client.post(url(image)).status_code == 405
