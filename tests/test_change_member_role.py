import pytest
from django.urls import reverse

from projects.models import Membership

pytestmark = pytest.mark.django_db


def membership(project, user):
    return Membership.objects.get(project=project, user=user)


def url(project, user):
    return reverse("change_member_role", args=[membership(project, user).pk])


def test_owners_change_a_role(client, alice, bob, project):
    client.force_login(alice)
    response = client.post(url(project, bob), {"role": "editor"})
    assert response.status_code == 302
    assert membership(project, bob).role == "editor"


def test_the_last_owner_cannot_be_demoted(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project, alice), {"role": "viewer"}, follow=True)
    assert "at least one owner" in response.text
    assert membership(project, alice).role == "owner"


def test_an_owner_can_step_down_when_another_owner_exists(client, alice, bob, project):
    Membership.objects.filter(user=bob).update(role="owner")
    client.force_login(alice)
    client.post(url(project, alice), {"role": "editor"})
    assert membership(project, alice).role == "editor"


def test_it_redirects_anonymous_users_to_login(client, bob, project):
    response = client.post(url(project, bob), {"role": "owner"})
    assert reverse("login") in response["Location"]
    assert membership(project, bob).role == "viewer"


def test_outsiders_get_404(client, bob, carol, project):
    client.force_login(carol)
    assert client.post(url(project, bob), {"role": "owner"}).status_code == 404


def test_viewers_get_403(client, bob, project):
    client.force_login(bob)
    assert client.post(url(project, bob), {"role": "owner"}).status_code == 403
    assert membership(project, bob).role == "viewer"


def test_it_refuses_get(client, alice, bob, project):
    client.force_login(alice)
    assert client.get(url(project, bob)).status_code == 405


def test_an_unknown_role_changes_nothing(client, alice, bob, project):
    client.force_login(alice)
    client.post(url(project, bob), {"role": "emperor"})
    assert membership(project, bob).role == "viewer"
