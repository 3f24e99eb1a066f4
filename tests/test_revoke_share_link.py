import pytest
from django.urls import reverse

from projects.models import Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def link(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", film="films/tour.mp4"
    )
    link, token = ShareLink.issue(sequence, created_by=alice)
    link.token = token  # known only when issued; the tests keep it on the instance
    return link


def url(link):
    return reverse("revoke_share_link", args=[link.pk])


def test_it_asks_for_confirmation_first(client, alice, link):
    client.force_login(alice)
    response = client.post(url(link))
    assert response.status_code == 200
    assert "Revoke this share link" in response.text
    link.refresh_from_db()
    assert link.is_active


def test_revoking_stops_the_link(client, alice, link):
    client.force_login(alice)
    response = client.post(url(link), {"confirm": "yes"})
    assert response["Location"].endswith("#sharing")
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert client.get(reverse("shared_film", args=[link.token])).status_code == 410


def test_it_redirects_anonymous_users_to_login(client, link):
    assert reverse("login") in client.post(url(link), {"confirm": "yes"})["Location"]


def test_outsiders_get_404(client, carol, link):
    client.force_login(carol)
    assert client.post(url(link), {"confirm": "yes"}).status_code == 404


def test_viewers_get_403(client, bob, link):
    client.force_login(bob)
    assert client.post(url(link), {"confirm": "yes"}).status_code == 403
    link.refresh_from_db()
    assert link.is_active


def test_it_refuses_get(client, alice, link):
    client.force_login(alice)
    assert client.get(url(link)).status_code == 405
