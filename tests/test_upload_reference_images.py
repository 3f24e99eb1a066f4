"""Permissions of the upload action; what is accepted is in test_reference_upload.py."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from projects.models import ReferenceImage, ReferenceSet

pytestmark = pytest.mark.django_db


def photo(name="room.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (90, 90, 200)).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


@pytest.fixture
def reference_set(project):
    return ReferenceSet.objects.create(project=project, name="Rooms")


def url(reference_set):
    return reverse("upload_reference_images", args=[reference_set.pk])


def test_editors_upload(client, alice, reference_set):
    client.force_login(alice)
    response = client.post(url(reference_set), {"images": [photo()]})
    assert response["Location"] == reverse("reference_set_detail", args=[reference_set.pk])
    assert reference_set.images.count() == 1


def test_it_redirects_anonymous_users_to_login(client, reference_set):
    assert reverse("login") in client.post(url(reference_set), {"images": [photo()]})["Location"]
    assert not ReferenceImage.objects.exists()


def test_outsiders_get_404(client, carol, reference_set):
    client.force_login(carol)
    assert client.post(url(reference_set), {"images": [photo()]}).status_code == 404
    assert not ReferenceImage.objects.exists()


def test_viewers_get_403(client, bob, reference_set):
    client.force_login(bob)
    assert client.post(url(reference_set), {"images": [photo()]}).status_code == 403
    assert not ReferenceImage.objects.exists()


def test_it_refuses_get(client, alice, reference_set):
    client.force_login(alice)
    assert client.get(url(reference_set)).status_code == 405


def test_posting_no_files_changes_nothing(client, alice, reference_set):
    client.force_login(alice)
    response = client.post(url(reference_set), {}, follow=True)
    assert "Choose at least one image" in response.text
    assert not ReferenceImage.objects.exists()
