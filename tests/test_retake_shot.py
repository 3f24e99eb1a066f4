import pytest
from django.urls import reverse

from generation.models import CreditBudget, LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def shot(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", model="gen4.5", created_by=alice, status="done"
    )
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", duration=5, first_frame="none")
    Take.objects.create(shot=shot, user=alice, status="failed", failure_code="SAFETY.INPUT.TEXT")
    return shot


def url(shot):
    return reverse("retake_shot", args=[shot.pk])


def test_a_retake_is_confirmed_with_its_price_before_anything_is_held(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot))
    assert response.status_code == 200
    assert "Retake for 60 credits" in response.text
    assert shot.takes.count() == 1
    assert not LedgerEntry.objects.exists()


def test_editors_retake_a_shot_and_its_cost_is_held(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes", "credits": "60"})
    assert response["Location"].endswith(f"#progress-shot-{shot.pk}")
    assert shot.takes.count() == 2
    assert list(LedgerEntry.objects.filter(user=alice).values_list("kind", "credits")) == [("hold", 60)]
    assert Sequence.objects.get(pk=shot.sequence_id).status == "running"


def test_a_changed_estimate_is_confirmed_again(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes", "credits": "40"})
    assert "The estimate is now 60 credits" in response.text
    assert shot.takes.count() == 1
    assert not LedgerEntry.objects.exists()


def test_the_card_button_says_what_the_retake_costs(client, alice, shot):
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[shot.sequence_id])).text
    assert "Retake shot 1 · 60 credits…" in page


def test_it_refuses_when_budget_is_exhausted(client, alice, shot):
    CreditBudget.objects.filter(user=alice).update(monthly_limit=10)
    client.force_login(alice)
    response = client.post(url(shot), follow=True)
    assert "This needs 60 credits but only 10 are left" in response.text
    assert shot.takes.count() == 1
    assert not LedgerEntry.objects.exists()


def test_a_shot_already_generating_is_not_retaken(client, alice, shot):
    Take.objects.create(shot=shot, user=alice, status="running")
    client.force_login(alice)
    response = client.post(url(shot), {"confirm": "yes", "credits": "60"}, follow=True)
    assert "already generating" in response.text
    assert shot.takes.count() == 2


def test_a_stitched_retake_covers_the_shots_made_from_it_as_one_priced_action(client, alice, project):
    """Retaking shot 1 of a finished stitched chain would leave shots 2 and 3 starting on a frame that
    is no longer chosen: the one confirmation prices and holds all three."""
    sequence = Sequence.objects.create(
        project=project, title="Chain", model="gen4.5", created_by=alice, status="done", is_stitched=True
    )
    shots = []
    for position in range(3):
        first = "none" if position == 0 else "previous"
        shot = Shot.objects.create(
            sequence=sequence, position=position, prompt=f"p{position}", duration=5, first_frame=first
        )
        take = Take.objects.create(shot=shot, user=alice, status="succeeded", cost_credits=60)
        Shot.objects.filter(pk=shot.pk).update(chosen_take=take)
        shots.append(shot)
    client.force_login(alice)
    page = client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert "Retake shot 1 and shots 2–3 · 180 credits…" in page
    assert "Retake shot 3 · 60 credits…" in page

    confirmation = client.post(url(shots[0]))
    assert "Retake for 180 credits" in confirmation.text
    client.post(url(shots[0]), {"confirm": "yes", "credits": "180"})
    assert Take.objects.filter(status="queued").count() == 3
    assert list(LedgerEntry.objects.filter(kind="hold").values_list("credits", flat=True)) == [60, 60, 60]


def test_it_redirects_anonymous_users_to_login(client, shot):
    assert reverse("login") in client.post(url(shot))["Location"]


def test_outsiders_get_404(client, carol, shot):
    client.force_login(carol)
    assert client.post(url(shot)).status_code == 404


def test_viewers_get_403(client, bob, shot):
    client.force_login(bob)
    assert client.post(url(shot)).status_code == 403
    assert shot.takes.count() == 1


def test_it_refuses_get(client, alice, shot):
    client.force_login(alice)
    assert client.get(url(shot)).status_code == 405
