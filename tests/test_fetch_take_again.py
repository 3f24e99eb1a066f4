import pytest
from django.urls import reverse

from generation import pipeline
from generation.models import Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queued(monkeypatch):
    """Tasks the view queues (the download itself is tested end to end in test_take_charges.py)."""
    tasks = []
    monkeypatch.setattr(pipeline, "_enqueue_now", lambda task, *args: tasks.append((task, *args)))
    return tasks


@pytest.fixture
def take(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="attention")
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    return Take.objects.create(
        shot=shot,
        user=alice,
        status="failed",
        failure_code="DOWNLOAD",
        failure_message="Runway made this clip, but it could not be saved. Fetch it again.",
        runway_task_id="0f0e2a35-3c1f-4d4a-9b8e-4b1d2c3e4f50",
        estimated_credits=10,
        cost_credits=10,
    )


def url(take):
    return reverse("fetch_take_again", args=[take.pk])


def test_editors_fetch_a_paid_clip_again(client, alice, take, queued):
    client.force_login(alice)
    response = client.post(url(take), follow=True)
    assert "It is not charged twice" in response.text
    take.refresh_from_db()
    assert take.status == "downloading"
    assert queued == [("finish_take", take.pk)]


def test_the_page_offers_it_with_what_was_charged(client, alice, take):
    client.force_login(alice)
    response = client.get(reverse("sequence_detail", args=[take.shot.sequence_id]))
    assert "Fetch the clip again" in response.text
    assert "Runway charged 10 credits for it." in response.text


def test_a_take_with_nothing_to_fetch_is_refused(client, alice, take, queued):
    Take.objects.filter(pk=take.pk).update(failure_code="SAFETY.INPUT.TEXT")
    client.force_login(alice)
    response = client.post(url(take), follow=True)
    assert "no saved output to fetch again" in response.text
    take.refresh_from_db()
    assert take.status == "failed"
    assert queued == []


def test_it_redirects_anonymous_users_to_login(client, take):
    assert reverse("login") in client.post(url(take))["Location"]


def test_outsiders_get_404(client, carol, take):
    client.force_login(carol)
    assert client.post(url(take)).status_code == 404


def test_viewers_get_403(client, bob, take):
    client.force_login(bob)
    assert client.post(url(take)).status_code == 403
    take.refresh_from_db()
    assert take.status == "failed"


def test_it_refuses_get(client, alice, take):
    client.force_login(alice)
    assert client.get(url(take)).status_code == 405
