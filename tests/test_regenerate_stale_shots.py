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


def test_it_is_confirmed_with_its_price_before_anything_is_held(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence))
    assert response.status_code == 200
    assert "Regenerate shots 2, 3" in response.text
    assert "Regenerate for 120 credits" in response.text
    assert not Take.objects.filter(status="queued").exists()
    assert not LedgerEntry.objects.exists()


def test_editors_regenerate_only_the_stale_shots(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes", "credits": "120"})
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    assert Take.objects.filter(status="queued").count() == 2
    assert list(LedgerEntry.objects.filter(kind="hold").values_list("credits", flat=True)) == [60, 60]


def test_a_changed_estimate_holds_nothing(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes", "credits": "60"})
    assert "The estimate is now 120 credits" in response.text
    assert not LedgerEntry.objects.exists()


def test_the_page_offers_it_with_its_price(client, alice, sequence):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert url(sequence) in page
    assert "Regenerate shots 2, 3 · 120 credits…" in page


def test_a_stale_shot_of_a_stitched_chain_brings_the_shots_made_from_it(client, alice, project):
    """Shot 1 stale in a chain of three: making it again would leave 2 and 3 stale in turn, and a
    film would be assembled in between; one action makes all three."""
    sequence = Sequence.objects.create(
        project=project, title="Chain", model="gen4.5", created_by=alice, status="done", is_stitched=True
    )
    for position in range(3):
        shot = Shot.objects.create(
            sequence=sequence,
            position=position,
            prompt=f"p{position}",
            duration=5,
            first_frame="none" if position == 0 else "previous",
        )
        take = Take.objects.create(shot=shot, user=alice, status="succeeded")
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take, is_stale=position == 0)
    client.force_login(alice)
    assert (
        "Regenerate shots 1, 2, 3 · 180 credits…"
        in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    )
    client.post(url(sequence), {"confirm": "yes", "credits": "180"})
    assert Take.objects.filter(status="queued").count() == 3
    assert LedgerEntry.objects.filter(kind="hold").count() == 3


def test_nothing_stale_is_a_message_and_no_change(client, alice, sequence):
    Shot.objects.update(is_stale=False)
    client.force_login(alice)
    response = client.post(url(sequence), {"confirm": "yes", "credits": "0"}, follow=True)
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
