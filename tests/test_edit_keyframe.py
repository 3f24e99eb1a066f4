"""The page that makes a shot's first (or, on Veo, last) frame from tagged reference images."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.images import add_reference_images
from projects.models import Keyframe, Sequence, Shot
from tests.helpers import photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def images(references):
    return list(references.images.order_by("position", "pk"))


def _sequence(project, alice, references, *, model="gen4_turbo"):
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model=model,
        ratio="1280:720",
        reference_set=references,
        created_by=alice,
    )
    Shot.objects.create(sequence=sequence, position=0, prompt="Into the hall", duration=5)
    Shot.objects.create(sequence=sequence, position=1, prompt="Up the stairs", duration=5)
    return sequence


@pytest.fixture
def shot(project, alice, references):
    return _sequence(project, alice, references).shots.get(position=1)


def url(shot, slot="first"):
    return reverse("edit_keyframe", args=[shot.pk, slot])


def form_data(
    images, *, use=(0, 1), tags=None, model="gen4_image", prompt="@room0 in the light of @room1", version=0
):
    """What the form posts; `version` is the keyframe's edit version it was made from (0: none yet)."""
    data = {"model": model, "prompt": prompt, "edit_version": version}
    for index, image in enumerate(images):
        if index in use:
            data[f"use_{image.pk}"] = "on"
        data[f"tag_{image.pk}"] = (tags or {}).get(index, f"room{index}")
    return data


def test_the_form_shows_the_reference_images_with_suggested_tags(client, alice, shot, images):
    client.force_login(alice)
    response = client.get(url(shot))
    assert response.status_code == 200
    assert "Make shot 2's first frame from reference images" in response.text
    for index, image in enumerate(images):
        assert f'name="use_{image.pk}"' in response.text
        assert f'name="tag_{image.pk}" value="room{index}"' in response.text
        assert reverse("reference_image_file", args=[image.pk]) + "?size=thumb" in response.text
    assert "Gen-4 Image Turbo (2 credits an image)" in response.text


def test_saving_makes_the_first_frame_from_the_tagged_images(client, alice, shot, images):
    client.force_login(alice)
    response = client.post(url(shot), form_data(images))
    assert response.status_code == 302
    assert response["Location"].endswith(f"#shot-{shot.pk}")
    shot.refresh_from_db()
    assert shot.first_frame == Shot.FirstFrame.KEYFRAME
    keyframe = shot.keyframes.get()
    assert (keyframe.slot, keyframe.model, keyframe.prompt) == (
        "first",
        "gen4_image",
        "@room0 in the light of @room1",
    )
    assert [(r.image_id, r.tag) for r in keyframe.references.all()] == [
        (images[0].pk, "room0"),
        (images[1].pk, "room1"),
    ]
    page = client.get(response["Location"])
    assert "First frame of shot 2, made from reference images" in page.text
    assert "Make keyframes…" in page.text
    assert "“Generate” waits until every keyframe has one" in page.text


def test_the_form_shows_the_saved_keyframe_again(client, alice, shot, images):
    client.force_login(alice)
    client.post(url(shot), form_data(images, tags={1: "Facade"}, prompt="@room0 and @Facade"))
    response = client.get(url(shot))
    assert f'name="tag_{images[1].pk}" value="Facade"' in response.text
    assert "@room0 and @Facade" in response.text
    assert "Stop making this frame from references" in response.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tags": {0: "1room"}}, "a tag starts with a letter"),
        ({"tags": {0: "ab"}}, "is 2 characters long; a tag has 3 to 16"),
        ({"tags": {0: "kitchen-left"}}, "no spaces, hyphens or accents"),
        ({"tags": {0: ""}}, "Give R1 a tag"),
        ({"tags": {0: "same", 1: "Same"}, "prompt": "@same"}, "is used twice"),
        ({"prompt": "@room0 beside @garden"}, "cites @garden, but no reference image has that tag"),
        ({"prompt": "@Room0 at dusk"}, "the tag is spelt &#x27;room0&#x27;; write @room0"),
        ({"use": (), "model": "gen4_image_turbo", "prompt": "A hall"}, "needs at least 1 reference image"),
        ({"prompt": ""}, "This field is required"),
        ({"model": "gen4_turbo"}, "Select a valid choice"),
    ],
)
def test_invalid_input_shows_what_is_wrong_and_saves_nothing(client, alice, shot, images, data, message):
    client.force_login(alice)
    response = client.post(url(shot), form_data(images, **data))
    assert response.status_code == 400
    assert message in response.text
    shot.refresh_from_db()
    assert shot.first_frame == Shot.FirstFrame.PREVIOUS
    assert not Keyframe.objects.exists()


def test_more_than_three_images_are_refused(client, alice, shot, references):
    add_reference_images(references, files=[SimpleUploadedFile("porch.jpg", photo((90, 90, 90), 4))])
    images = list(references.images.order_by("position", "pk"))
    client.force_login(alice)
    response = client.post(url(shot), form_data(images, use=(0, 1, 2, 3), prompt="@room0 @porch"))
    assert response.status_code == 400
    assert "gen4_image takes at most 3 reference images; you chose 4. Remove 1." in response.text
    assert not Keyframe.objects.exists()


def test_a_veo_shot_can_end_on_a_keyframe(client, alice, project, references, images):
    shot = _sequence(project, alice, references, model="veo3.1_fast").shots.get(position=0)
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id]))
    assert url(shot, "last") in page.text
    response = client.post(url(shot, "last"), form_data(images))
    assert response.status_code == 302
    shot.refresh_from_db()
    assert shot.has_made_last_frame
    assert shot.keyframes.get().slot == "last"


def test_a_model_without_a_last_frame_has_no_last_keyframe(client, alice, shot, images):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id]))
    assert url(shot, "first") in page.text
    assert url(shot, "last") not in page.text
    assert client.get(url(shot, "last")).status_code == 404
    assert client.post(url(shot, "last"), form_data(images)).status_code == 404
    assert client.get(url(shot, "middle")).status_code == 404


def test_a_sequence_without_references_says_where_to_choose_them(client, alice, shot):
    Sequence.objects.filter(pk=shot.sequence_id).update(reference_set=None)
    client.force_login(alice)
    response = client.get(url(shot))
    assert "This sequence has no reference images" in response.text


def test_a_generating_sequence_is_not_changed(client, alice, shot, images):
    Sequence.objects.filter(pk=shot.sequence_id).update(status="running")
    client.force_login(alice)
    response = client.post(url(shot), form_data(images), follow=True)
    assert "This sequence is generating" in response.text
    assert not Keyframe.objects.exists()
    # The typed prompt stays in the form to save again later.
    assert response.status_code == 400
    assert form_data(images)["prompt"] in response.text


def test_removing_the_keyframe_goes_back_to_the_previous_shot(client, alice, shot, images):
    client.force_login(alice)
    client.post(url(shot), form_data(images))
    remove = reverse("remove_keyframe", args=[shot.pk, "first"])
    assert client.get(remove).status_code == 405
    response = client.post(remove, follow=True)
    assert "no longer made from references" in response.text
    shot.refresh_from_db()
    assert shot.first_frame == Shot.FirstFrame.PREVIOUS
    assert not Keyframe.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, shot):
    assert reverse("login") in client.get(url(shot))["Location"]
    assert reverse("login") in client.post(url(shot))["Location"]


def test_outsiders_get_404(client, carol, shot, images):
    client.force_login(carol)
    assert client.get(url(shot)).status_code == 404
    assert client.post(url(shot), form_data(images)).status_code == 404
    assert client.post(reverse("remove_keyframe", args=[shot.pk, "first"])).status_code == 404


def test_viewers_get_403(client, bob, shot, images):
    client.force_login(bob)
    assert client.get(url(shot)).status_code == 403
    assert client.post(url(shot), form_data(images)).status_code == 403
    assert client.post(reverse("remove_keyframe", args=[shot.pk, "first"])).status_code == 403
    assert not Keyframe.objects.exists()
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id]))
    assert url(shot) not in page.text


def test_a_keyframe_the_shot_no_longer_starts_on_holds_nothing_up(client, alice, shot, images):
    client.force_login(alice)
    client.post(url(shot), form_data(images))
    Shot.objects.filter(pk=shot.pk).update(first_frame=Shot.FirstFrame.PREVIOUS)
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id]))
    assert "Not used: shot 2 no longer starts on it." in page.text
    assert "“Generate” waits" not in page.text
    assert reverse("start_sequence", args=[shot.sequence_id]) in page.text
