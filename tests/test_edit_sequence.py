import pytest
from django.urls import reverse

from projects.models import Sequence
from tests.helpers import versioned

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    return Sequence.objects.create(
        project=project, title="Tour", model="gen4_turbo", ratio="960:960", created_by=alice
    )


def url(sequence):
    return reverse("edit_sequence", args=[sequence.pk])


def data(**extra):
    return {"title": "Tour v2", "model": "veo3.1", "ratio": "1080:1920", **extra}


def test_editors_change_the_settings(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), versioned(data(has_audio="on"), sequence))
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    sequence.refresh_from_db()
    assert (sequence.title, sequence.model, sequence.ratio, sequence.is_stitched, sequence.has_audio) == (
        "Tour v2",
        "veo3.1",
        "1080:1920",
        False,
        True,
    )


def test_changing_the_model_without_a_valid_ratio_says_what_is_allowed(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), versioned(data(ratio="960:960"), sequence))
    assert response.status_code == 200
    assert "Veo 3.1 makes 1280×720 (landscape)" in response.text
    sequence.refresh_from_db()
    assert (sequence.title, sequence.model, sequence.ratio) == ("Tour", "gen4_turbo", "960:960")


def test_it_refuses_while_generating(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="running")
    client.force_login(alice)
    response = client.post(url(sequence), versioned(data(), sequence), follow=True)
    assert response.status_code == 409
    assert "This sequence is generating" in response.text
    assert "Tour v2" in response.text  # the typed title is kept to copy
    sequence.refresh_from_db()
    assert sequence.model == "gen4_turbo"


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence), versioned(data(), sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(url(sequence), versioned(data(), sequence)).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.post(url(sequence), versioned(data(), sequence)).status_code == 403
    sequence.refresh_from_db()
    assert sequence.title == "Tour"


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405


def test_editors_choose_how_wide_images_fit(client, alice, sequence):
    client.force_login(alice)
    client.post(url(sequence), versioned(data(image_fit="crop"), sequence))
    sequence.refresh_from_db()
    assert sequence.image_fit == "crop"

    client.post(url(sequence), versioned(data(image_fit="stretch"), sequence))
    sequence.refresh_from_db()
    assert sequence.image_fit == "crop"


def test_changing_what_clips_are_made_of_marks_finished_shots_stale(client, alice, sequence):
    from generation.models import Take
    from projects.models import Shot

    done = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    fresh = Shot.objects.create(
        sequence=sequence, prompt="Stairs", duration=5, first_frame="none", position=1
    )
    take = Take.objects.create(shot=done, user=alice, status="succeeded")
    Shot.objects.filter(pk=done.pk).update(chosen_take=take)
    client.force_login(alice)

    same = {"model": "gen4_turbo", "ratio": "960:960", "is_stitched": "on", "has_audio": "on"}
    client.post(url(sequence), versioned({**same, "title": "Tour v2", "image_fit": "pad"}, sequence))
    sequence.refresh_from_db()
    assert sequence.title == "Tour v2"
    assert not Shot.objects.filter(is_stale=True).exists()  # a new title changes no clip

    client.post(url(sequence), versioned(data(), sequence))
    assert list(Shot.objects.filter(is_stale=True)) == [done]
    fresh.refresh_from_db()
    assert not fresh.is_stale
