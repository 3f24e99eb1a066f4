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


def test_editors_retake_a_shot_and_its_cost_is_held(client, alice, shot):
    client.force_login(alice)
    response = client.post(url(shot))
    assert response["Location"].endswith(f"#progress-shot-{shot.pk}")
    assert shot.takes.count() == 2
    assert list(LedgerEntry.objects.filter(user=alice).values_list("kind", "credits")) == [("hold", 60)]
    assert Sequence.objects.get(pk=shot.sequence_id).status == "running"


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
    response = client.post(url(shot), follow=True)
    assert "already generating" in response.text
    assert shot.takes.count() == 2


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
