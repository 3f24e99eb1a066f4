import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from projects.images import add_reference_images
from projects.models import Project, ReferenceSet, Sequence, Shot
from tests.helpers import jpeg

pytestmark = pytest.mark.django_db


@pytest.fixture
def references(project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    add_reference_images(
        reference_set, files=[SimpleUploadedFile(f"r{i}.jpg", jpeg((64, 36))) for i in range(3)]
    )
    return reference_set


@pytest.fixture
def sequence(project, alice, references):
    return Sequence.objects.create(
        project=project, title="Tour", model="veo3.1_fast", reference_set=references, created_by=alice
    )


def url(sequence):
    return reverse("add_shot", args=[sequence.pk])


def test_editors_add_shots_at_the_end(client, alice, sequence, references):
    r1, r2, _ = references.images.all()
    client.force_login(alice)
    client.post(
        url(sequence),
        {"prompt": "Hall", "duration": 4, "first_frame": "reference", "first_frame_image": r1.pk},
    )
    response = client.post(
        url(sequence),
        {"prompt": "Stairs", "duration": 8, "seed": 7, "first_frame": "previous", "last_frame_image": r2.pk},
    )
    first, second = sequence.shots.order_by("position")
    assert response["Location"].endswith(f"#shot-{second.pk}")
    assert (first.prompt, first.duration, first.first_frame_image, first.position) == ("Hall", 4, r1, 0)
    assert (second.prompt, second.duration, second.seed, second.last_frame_image, second.position) == (
        "Stairs",
        8,
        7,
        r2,
        1,
    )


def test_the_form_offers_only_the_models_durations(client, alice, sequence):
    client.force_login(alice)
    response = client.get(reverse("sequence_detail", args=[sequence.pk]))
    select = re.search(r'<select name="duration" id="new_duration"[^>]*>(.*?)</select>', response.text, re.S)
    assert re.findall(r'<option value="(\d+)"[^>]*>([^<]*)</option>', select.group(1)) == [
        ("4", "4 s"),
        ("6", "6 s"),
        ("8", "8 s"),
    ]


def test_a_duration_the_model_cannot_make_is_refused_naming_what_it_can(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"prompt": "Hall", "duration": 5, "first_frame": "none"})
    assert response.status_code == 200
    assert "Veo 3.1 Fast makes clips of 4, 6 or 8 seconds." in response.text
    assert not Shot.objects.exists()


def test_a_last_frame_is_not_offered_on_gen4(client, alice, sequence, references):
    Sequence.objects.filter(pk=sequence.pk).update(model="gen4_turbo")
    r2 = references.images.all()[1]
    client.force_login(alice)
    client.post(
        url(sequence), {"prompt": "Hall", "duration": 5, "first_frame": "previous", "last_frame_image": r2.pk}
    )
    assert Shot.objects.get().last_frame_image is None


def test_a_too_long_prompt_is_refused(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"prompt": "x" * 1001, "duration": 4, "first_frame": "none"})
    assert response.status_code == 200
    assert not Shot.objects.exists()


def test_emoji_count_twice_towards_the_prompt_limit(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"prompt": "🎬" * 501, "duration": 4, "first_frame": "none"})
    assert "1002 characters long" in response.text
    assert not Shot.objects.exists()


def test_starting_on_a_reference_needs_the_image(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"prompt": "Hall", "duration": 4, "first_frame": "reference"})
    assert "Choose the reference image this shot starts on" in response.text
    assert not Shot.objects.exists()


def test_an_image_of_another_set_is_refused(client, alice, carol, sequence):
    other = Project.objects.create(name="Other", created_by=carol)
    foreign_set = ReferenceSet.objects.create(project=other, name="X")
    foreign = add_reference_images(foreign_set, files=[SimpleUploadedFile("x.jpg", jpeg((64, 36)))]).added[0]
    client.force_login(alice)
    response = client.post(
        url(sequence),
        {"prompt": "Hall", "duration": 4, "first_frame": "reference", "first_frame_image": foreign.pk},
    )
    assert response.status_code == 200
    assert not Shot.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence), {"prompt": "a", "duration": 4})["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert (
        client.post(url(sequence), {"prompt": "a", "duration": 4, "first_frame": "none"}).status_code == 404
    )


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert (
        client.post(url(sequence), {"prompt": "a", "duration": 4, "first_frame": "none"}).status_code == 403
    )
    assert not Shot.objects.exists()


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405


def test_a_shot_added_while_generating_is_refused_and_its_prompt_kept(client, alice, project):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="running")
    client.force_login(alice)
    response = client.post(
        reverse("add_shot", args=[sequence.pk]),
        {"prompt": "Up the stairs to the landing", "duration": 5, "first_frame": "none"},
    )
    assert response.status_code == 409
    assert "Up the stairs to the landing" in response.text
    assert not sequence.shots.exists()
