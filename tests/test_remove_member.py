import pytest
from django.urls import reverse

from projects.models import Membership

pytestmark = pytest.mark.django_db


def url(project, user):
    return reverse("remove_member", args=[Membership.objects.get(project=project, user=user).pk])


def test_it_asks_for_confirmation_first(client, alice, bob, project):
    client.force_login(alice)
    response = client.post(url(project, bob))
    assert response.status_code == 200
    assert "Remove bob from" in response.text
    assert Membership.objects.filter(project=project, user=bob).exists()


def test_owners_remove_a_member_once_confirmed(client, alice, bob, project):
    client.force_login(alice)
    response = client.post(url(project, bob), {"confirm": "yes"})
    assert response.status_code == 302
    assert not Membership.objects.filter(project=project, user=bob).exists()


def test_the_last_owner_cannot_be_removed(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project, alice), {"confirm": "yes"}, follow=True)
    assert "at least one owner" in response.text
    assert Membership.objects.filter(project=project, user=alice, role="owner").exists()


def test_it_redirects_anonymous_users_to_login(client, bob, project):
    response = client.post(url(project, bob), {"confirm": "yes"})
    assert reverse("login") in response["Location"]


def test_outsiders_get_404(client, bob, carol, project):
    client.force_login(carol)
    assert client.post(url(project, bob), {"confirm": "yes"}).status_code == 404
    assert Membership.objects.filter(project=project, user=bob).exists()


def test_viewers_get_403(client, alice, bob, project):
    client.force_login(bob)
    assert client.post(url(project, alice), {"confirm": "yes"}).status_code == 403


def test_it_refuses_get(client, alice, bob, project):
    client.force_login(alice)
    assert client.get(url(project, bob)).status_code == 405
