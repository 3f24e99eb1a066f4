import pytest
from django.urls import reverse

from generation.models import Take
from projects.models import Sequence, Shot

pytestmark = pytest.mark.django_db


@pytest.fixture
def takes(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    first = Take.objects.create(shot=shot, user=alice, status="succeeded")
    second = Take.objects.create(shot=shot, user=alice, status="succeeded")
    shot.chosen_take = first
    shot.save()
    return first, second


def url(take):
    return reverse("choose_take", args=[take.pk])


def chosen(takes):
    return Shot.objects.get(pk=takes[0].shot_id).chosen_take


def test_editors_choose_another_take(client, alice, takes):
    client.force_login(alice)
    response = client.post(url(takes[1]))
    assert response["Location"].endswith(f"#progress-shot-{takes[1].shot_id}")
    assert chosen(takes) == takes[1]


def test_a_failed_take_cannot_be_chosen(client, alice, takes):
    Take.objects.filter(pk=takes[1].pk).update(status="failed")
    client.force_login(alice)
    response = client.post(url(takes[1]), follow=True)
    assert "Only a finished take can be chosen" in response.text
    assert chosen(takes) == takes[0]


def test_it_redirects_anonymous_users_to_login(client, takes):
    assert reverse("login") in client.post(url(takes[1]))["Location"]


def test_outsiders_get_404(client, carol, takes):
    client.force_login(carol)
    assert client.post(url(takes[1])).status_code == 404


def test_viewers_get_403(client, bob, takes):
    client.force_login(bob)
    assert client.post(url(takes[1])).status_code == 403
    assert chosen(takes) == takes[0]


def test_it_refuses_get(client, alice, takes):
    client.force_login(alice)
    assert client.get(url(takes[1])).status_code == 405
