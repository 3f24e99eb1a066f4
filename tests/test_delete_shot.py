import pytest
from django.urls import reverse

from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def shot(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    return Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")


def url(shot):
    return reverse("delete_shot", args=[shot.pk])


def test_it_asks_for_confirmation_first(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot))
    assert response.status_code == 200
    assert "Delete Shot 1: Hall?" in response.text
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_deletes_once_confirmed(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes"})
    assert response["Location"] == reverse("sequence_detail", args=[shot.sequence_id])
    assert not Shot.objects.filter(pk=shot.pk).exists()


def test_it_refuses_while_generating(client, alice, shot):
    Sequence.objects.filter(pk=shot.sequence_id).update(status="running")
    client.force_login(alice)
    client.post(url(shot), {"confirm": "yes"})
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_redirects_anonymous_users_to_login(client, shot):
    assert reverse("login") in client.post(url(shot), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, shot):
    client.force_login(carol)
    assert client.post(url(shot), {"confirm": "yes"}).status_code == 404


def test_viewers_get_403(client, bob, shot):
    client.force_login(bob)
    assert client.post(url(shot), {"confirm": "yes"}).status_code == 403
    assert Shot.objects.filter(pk=shot.pk).exists()


def test_it_refuses_get(client, alice, shot):
    client.force_login(alice)
    assert client.get(url(shot)).status_code == 405
