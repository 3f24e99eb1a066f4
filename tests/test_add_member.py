import pytest
from django.urls import reverse

from projects.models import Membership

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("add_member", args=[project.pk])


def test_owners_add_a_member_by_username_with_a_role(client, alice, carol, project):
    client.force_login(alice)
    response = client.post(url(project), {"username": "carol", "role": "editor"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=carol).role == "editor"


def test_it_redirects_anonymous_users_to_login(client, project):
    response = client.post(url(project), {"username": "carol", "role": "editor"})
    assert reverse("login") in response["Location"]


def test_outsiders_get_404(client, carol, project):
    client.force_login(carol)
    assert client.post(url(project), {"username": "carol", "role": "owner"}).status_code == 404
    assert not Membership.objects.filter(user=carol).exists()


def test_viewers_get_403(client, bob, carol, project):
    client.force_login(bob)
    assert client.post(url(project), {"username": "carol", "role": "editor"}).status_code == 403
    assert not Membership.objects.filter(user=carol).exists()


def test_editors_get_403(client, bob, carol, project):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    assert client.post(url(project), {"username": "carol", "role": "editor"}).status_code == 403


def test_it_refuses_get(client, alice, project):
    client.force_login(alice)
    assert client.get(url(project)).status_code == 405


def test_an_unknown_user_is_a_readable_error(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), {"username": "zed", "role": "editor"})
    assert response.status_code == 200
    assert "There is no active user called “zed”" in response.text
    assert project.memberships.count() == 2


def test_an_existing_member_is_not_added_twice(client, alice, bob, project):
    client.force_login(alice)
    response = client.post(url(project), {"username": "bob", "role": "owner"})
    assert "already a member" in response.text
    assert Membership.objects.get(project=project, user=bob).role == "viewer"
