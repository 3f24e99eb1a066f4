import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.images import add_reference_images
from projects.models import ReferenceSet
from tests.helpers import jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference_set(project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    add_reference_images(
        reference_set,
        files=[
            SimpleUploadedFile(f"<img src=x onerror=alert({i})>.jpg", jpeg((40, 30), (90, 90, 200)))
            for i in range(3)
        ],
    )
    return reference_set


def url(reference_set):
    return reverse("reference_set_detail", args=[reference_set.pk])


def test_members_see_the_images_in_order(client, bob, reference_set):
    client.force_login(bob)
    response = client.get(url(reference_set))
    assert response.status_code == 200
    assert [i.original_name for i in response.context["images"]] == [
        f"<img src=x onerror=alert({i})>.jpg" for i in range(3)
    ]
    assert "&lt;img src=x onerror=alert(0)&gt;.jpg" in response.text
    assert "<img src=x onerror" not in response.text


def test_viewers_get_no_upload_form(client, bob, reference_set):
    client.force_login(bob)
    assert 'type="file"' not in client.get(url(reference_set)).text


def test_editors_get_a_multiple_file_input(client, alice, reference_set):
    client.force_login(alice)
    text = client.get(url(reference_set)).text
    assert 'type="file" name="images"' in text
    assert "multiple" in text
    assert 'enctype="multipart/form-data"' in text


def test_it_redirects_anonymous_users_to_login(client, reference_set):
    assert reverse("login") in client.get(url(reference_set))["Location"]


def test_outsiders_get_404(client, carol, reference_set):
    client.force_login(carol)
    assert client.get(url(reference_set)).status_code == 404
