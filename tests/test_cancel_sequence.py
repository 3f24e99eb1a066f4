import pytest
from django.urls import reverse

from generation import credits
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="running"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    take = Take.objects.create(shot=shot, user=alice, status="queued", estimated_credits=60)
    credits.reserve(alice, credits=60, reason="test", project=project, take=take)
    return sequence


def url(sequence):
    return reverse("cancel_sequence", args=[sequence.pk])


def test_it_asks_for_confirmation_first(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence))
    assert response.status_code == 200
    assert "Stop generating “Tour”?" in response.text
    sequence.refresh_from_db()
    assert sequence.status == "running"


def test_cancelling_stops_the_takes_and_returns_the_credits(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes"})
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    sequence.refresh_from_db()
    assert sequence.status == "cancelled"
    assert Take.objects.get().status == "cancelled"
    assert list(LedgerEntry.objects.filter(kind="release").values_list("credits", flat=True)) == [60]
    assert credits.month_summary(alice).available == 1000


def test_a_sequence_that_is_not_generating_is_left_alone(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(status="done")
    client.force_login(alice)
    client.post(url(sequence), {"confirm": "yes"})
    assert Take.objects.get().status == "queued"


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.post(url(sequence), {"confirm": "yes"}).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.post(url(sequence), {"confirm": "yes"}).status_code == 403
    sequence.refresh_from_db()
    assert sequence.status == "running"


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405
