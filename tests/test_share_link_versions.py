"""A share link shows a chosen version or always the latest, and allows review or only download."""

import pytest
from django.urls import reverse

from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", film="films/v2.mp4"
    )
    FilmVersion.objects.create(sequence=sequence, number=1, film="films/v1.mp4")
    FilmVersion.objects.create(sequence=sequence, number=2, film="films/v2.mp4")
    return sequence


def create(client, sequence, **data):
    return client.post(reverse("create_share_link", args=[sequence.pk]), {"expires_in_days": "", **data})


def test_the_form_offers_the_latest_or_each_version_and_the_access(client, alice, sequence):
    client.force_login(alice)
    text = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert '<option value="" selected>Always the latest</option>' in text
    assert '<option value="1">Version 1</option>' in text
    assert '<option value="2">Version 2</option>' in text
    assert "Watch and download only" in text


def test_a_link_pinned_to_a_version_for_download_only(client, alice, sequence):
    client.force_login(alice)
    response = create(client, sequence, version="1", access="download")
    assert response.status_code == 200
    link = ShareLink.objects.get()
    assert (link.version.number, link.can_review) == (1, False)
    assert "version 1 of the film" in response.text
    listed = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "version 1, download only" in listed


def test_a_link_to_the_latest_version_for_review(client, alice, sequence):
    client.force_login(alice)
    response = create(client, sequence, version="", access="review")
    link = ShareLink.objects.get()
    assert (link.version, link.can_review) == (None, True)
    assert "the latest version of the film, comment on it" in response.text
    assert "always the latest, review" in client.get(reverse("sequence_detail", args=[sequence.pk])).text


def test_a_version_of_another_sequence_is_refused(client, alice, sequence, project):
    other = Sequence.objects.create(
        project=project, title="Other", created_by=alice, status="done", film="f.mp4"
    )
    FilmVersion.objects.create(sequence=other, number=3, film="f.mp4")
    client.force_login(alice)
    response = create(client, sequence, version="3")
    assert response.status_code == 302
    assert not ShareLink.objects.exists()
