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


@pytest.fixture
def used(project, alice, image):
    """A stitched sequence on Veo: shot 1 starts on the image, shot 2 ends on it, shot 3's first-frame
    keyframe is made from it, cited as @hall."""
    from generation.models import Take
    from projects.models import Keyframe, KeyframeReference, Sequence, Shot

    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model="veo3.1_fast",
        reference_set=image.reference_set,
        created_by=alice,
    )
    first = Shot.objects.create(
        sequence=sequence, position=0, prompt="Hall", first_frame="reference", first_frame_image=image
    )
    second = Shot.objects.create(sequence=sequence, position=1, prompt="Stairs", last_frame_image=image)
    third = Shot.objects.create(sequence=sequence, position=2, prompt="Garden", first_frame="keyframe")
    take = Take.objects.create(shot=second, user=alice, status="succeeded")
    Shot.objects.filter(pk=second.pk).update(chosen_take=take)
    keyframe = Keyframe.objects.create(shot=third, prompt="The @hall at dusk, @hallway lit")
    KeyframeReference.objects.create(keyframe=keyframe, image=image, tag="hall")
    return first, second, third, keyframe


def test_the_confirmation_names_the_shots_and_keyframes_that_use_it(client, alice, image, used):
    client.force_login(alice)
    page = client.post(url(image)).text
    assert "“Tour” shot 1 starts on it." in page
    assert "“Tour” shot 2 ends on it." in page
    assert "“Tour” shot 3 has a first-frame keyframe made from it (cited as @hall)." in page


def test_removing_it_marks_the_shots_stale_and_uncites_the_keyframe(client, alice, image, used):
    from django.contrib.messages import get_messages

    first, second, third, keyframe = used
    client.force_login(alice)
    response = client.post(url(image), {"confirm": "yes"})

    for shot in (first, second, keyframe):
        shot.refresh_from_db()
    assert (first.first_frame_image, second.last_frame_image) == (None, None)
    assert second.is_stale  # its finished take was made to end on the image
    assert not first.is_stale  # it has no take yet
    assert (first.edit_version, second.edit_version, keyframe.edit_version) == (1, 1, 1)
    assert keyframe.prompt == "The hall at dusk, @hallway lit"
    assert not keyframe.references.exists()
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert (
        "“Tour” shot 2 no longer ends on it: choose its last frame again (its finished take is marked stale)."
        in said
    )
    assert "“Tour” shot 1 no longer starts on it: choose its first frame again." in said
    assert any(m.startswith("“Tour” shot 3 has a first-frame keyframe no longer made from it") for m in said)


def test_an_unused_image_says_nothing_uses_it(client, alice, image):
    client.force_login(alice)
    assert "No shot or keyframe uses it." in client.post(url(image)).text
