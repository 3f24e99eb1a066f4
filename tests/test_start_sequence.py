import pytest
from django.urls import reverse

from generation.models import CreditBudget, LedgerEntry, Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    Shot.objects.create(sequence=sequence, position=0, prompt="Hall", duration=5, first_frame="none")
    Shot.objects.create(sequence=sequence, position=1, prompt="Stairs", duration=10, first_frame="none")
    return sequence


def url(sequence):
    return reverse("start_sequence", args=[sequence.pk])


def test_the_confirmation_page_shows_the_amount_and_what_remains(client, alice, sequence):
    client.force_login(alice)
    response = client.get(url(sequence))
    assert response.status_code == 200
    assert "This reserves <strong>180 credits</strong>" in response.text
    assert "<strong>820</strong> would remain" in response.text
    assert 'name="credits" value="180"' in response.text


def test_confirming_starts_and_holds_the_estimate(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"credits": "180"})
    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    sequence.refresh_from_db()
    assert sequence.status == "running"
    assert sequence.started_by == alice
    assert Take.objects.filter(shot__sequence=sequence).count() == 2
    assert sorted(LedgerEntry.objects.filter(user=alice, kind="hold").values_list("credits", flat=True)) == [
        60,
        120,
    ]


def test_a_changed_estimate_asks_again_and_starts_nothing(client, alice, sequence):
    client.force_login(alice)
    response = client.post(url(sequence), {"credits": "60"}, follow=True)
    assert "The estimate is now 180 credits" in response.text
    sequence.refresh_from_db()
    assert sequence.status == "draft"
    assert not LedgerEntry.objects.exists()


def test_it_refuses_when_budget_is_exhausted(client, alice, sequence):
    CreditBudget.objects.filter(user=alice).update(monthly_limit=100)
    client.force_login(alice)
    page = client.get(url(sequence))
    assert "only 100 are left this month" in page.text
    response = client.post(url(sequence), {"credits": "180"}, follow=True)
    assert "This needs 180 credits but only 100 are left this month" in response.text
    sequence.refresh_from_db()
    assert sequence.status == "draft"
    assert not LedgerEntry.objects.exists()
    assert not Take.objects.exists()


def test_a_shot_the_model_cannot_make_blocks_the_start(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(model="gen4_turbo")
    client.force_login(alice)
    assert "Some shots cannot be generated" in client.get(url(sequence)).text
    response = client.post(url(sequence), {"credits": "0"}, follow=True)
    sequence.refresh_from_db()
    assert sequence.status == "draft"
    assert response.status_code == 200


def test_a_started_sequence_is_not_started_twice(client, alice, sequence):
    client.force_login(alice)
    client.post(url(sequence), {"credits": "180"})
    client.post(url(sequence), {"credits": "180"})
    assert LedgerEntry.objects.filter(kind="hold").count() == 2


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence), {"credits": "180"})["Location"]


def test_outsiders_get_404(client, carol, sequence):
    client.force_login(carol)
    assert client.get(url(sequence)).status_code == 404
    assert client.post(url(sequence), {"credits": "180"}).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    client.force_login(bob)
    assert client.get(url(sequence)).status_code == 403
    assert client.post(url(sequence), {"credits": "180"}).status_code == 403
    assert not LedgerEntry.objects.exists()


def test_it_refuses_other_methods(client, alice, sequence):
    client.force_login(alice)
    assert client.put(url(sequence)).status_code == 405


def test_a_run_beyond_runways_daily_limit_offers_to_wait_or_run_what_fits(client, alice, sequence, runway):
    runway.configure(limits={"video": {"max_daily_generations": 1}})
    client.force_login(alice)

    response = client.post(url(sequence), {"credits": "180"})

    assert response.status_code == 200
    assert (
        "Runway allows 1 video generation a day on this account; 0 are used; this run needs 2."
        in response.text
    )
    assert 'name="daily_limit" value="wait"' in response.text
    assert 'name="daily_limit" value="fit"' in response.text
    assert not LedgerEntry.objects.exists()

    response = client.post(url(sequence), {"credits": "180", "daily_limit": "fit"})

    assert response["Location"] == reverse("sequence_detail", args=[sequence.pk])
    assert list(LedgerEntry.objects.filter(user=alice, kind="hold").values_list("credits", flat=True)) == [60]
