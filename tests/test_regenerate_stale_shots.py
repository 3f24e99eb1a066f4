import pytest
from django.urls import reverse

from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="done"
    )
    for position in range(3):
        shot = Shot.objects.create(
            sequence=sequence, position=position, prompt=f"p{position}", duration=5, first_frame="none"
        )
        take = Take.objects.create(shot=shot, user=alice, status="succeeded")
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take, is_stale=position > 0)
    return sequence


def url(sequence):
    return reverse("regenerate_stale_shots", args=[sequence.pk])


def test_editors_regenerate_only_the_stale_shots(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence))
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    assert Take.objects.filter(status="queued").count() == 2
    assert LedgerEntry.objects.filter(kind="hold").count() == 2


def test_the_page_offers_it_when_shots_are_stale(client, alice, sequence):
    client.force_login(alice)
    assert url(sequence) in client.get(reverse("sequence_detail", args=[sequence.pk])).text


def test_nothing_stale_is_a_message_and_no_change(client, alice, sequence):
    Shot.objects.update(is_stale=False)
    client.force_login(alice)
    response = client.post(url(sequence), follow=True)
    assert "No shot is stale" in response.text
    assert not LedgerEntry.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(url(sequence)).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.post(url(sequence)).status_code == 403
    assert not LedgerEntry.objects.exists()


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405
