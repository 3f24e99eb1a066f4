"""Django admin names stored files without linking to them: media are served only through the
studio's permission-checked views, so a storage path would be a dead (or, worse, public) link."""

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from generation.models import Take
from projects.images import add_reference_images
from projects.models import ReferenceSet, Sequence, Shot
from tests.helpers import COLOURS, photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    sequence.film.save("film.mp4", ContentFile(b"\0" * 10))
    return sequence


def test_a_sequence_shows_its_film_by_name(admin_client, sequence):
    response = admin_client.get(reverse("admin:projects_sequence_change", args=[sequence.pk]))
    assert response.status_code == 200
    assert sequence.film.name in response.text
    assert "/media/" not in response.text


def test_a_take_shows_its_output_by_name(admin_client, sequence, alice):
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="succeeded")
    take.output.save("clip.mp4", ContentFile(b"\0" * 10))
    response = admin_client.get(reverse("admin:generation_take_change", args=[take.pk]))
    assert response.status_code == 200
    assert take.output.name in response.text
    assert "/media/" not in response.text


def test_reference_images_are_named_not_linked(admin_client, project):
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    add_reference_images(reference_set, files=[SimpleUploadedFile("hall.jpg", photo(COLOURS[0], 0))])
    response = admin_client.get(reverse("admin:projects_referenceset_change", args=[reference_set.pk]))
    assert response.status_code == 200
    assert reference_set.images.get().image.name in response.text
    assert "/media/" not in response.text
