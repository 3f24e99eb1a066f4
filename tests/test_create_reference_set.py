import pytest
from django.urls import reverse

from projects.models import Membership, ReferenceSet

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("create_reference_set", args=[project.pk])


def test_editors_create_a_set(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), {"name": "Ground floor"})
    reference_set = ReferenceSet.objects.get(project=project)
    assert reference_set.name == "Ground floor"
    assert response["Location"] == reverse("reference_set_detail", args=[reference_set.pk])


def test_it_redirects_anonymous_users_to_login(client, project):
    assert reverse("login") in client.post(url(project), {"name": "X"})["Location"]


def test_outsiders_get_404(client, carol, project):
    client.force_login(carol)
    assert client.post(url(project), {"name": "X"}).status_code == 404


def test_viewers_get_403(client, bob, project):
    client.force_login(bob)
    assert client.post(url(project), {"name": "X"}).status_code == 403
    assert not ReferenceSet.objects.exists()


def test_editors_may(client, bob, project):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    assert client.post(url(project), {"name": "X"}).status_code == 302


def test_it_refuses_get(client, alice, project):
    client.force_login(alice)
    assert client.get(url(project)).status_code == 405


def test_a_blank_name_creates_nothing(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), {"name": " "})
    assert response.status_code == 200
    assert "This field is required" in response.text
    assert not ReferenceSet.objects.exists()
