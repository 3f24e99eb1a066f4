import pytest
from django.urls import reverse

from projects.models import Membership, Project

pytestmark = pytest.mark.django_db


def test_the_creator_becomes_owner(client, carol):
    client.force_login(carol)
    response = client.post(reverse("create_project"), {"name": "Lighthouse", "description": "Coastal"})
    project = Project.objects.get(name="Lighthouse")
    assert response.status_code == 302
    assert response["Location"] == reverse("project_detail", args=[project.pk])
    assert project.created_by == carol
    assert Membership.objects.get(project=project).role == "owner"


def test_it_redirects_anonymous_users_to_login(client):
    response = client.post(reverse("create_project"), {"name": "X"})
    assert response.status_code == 302
    assert reverse("login") in response["Location"]
    assert not Project.objects.exists()


def test_it_refuses_get(client, carol):
    client.force_login(carol)
    assert client.get(reverse("create_project")).status_code == 405


def test_it_shows_errors_and_creates_nothing_without_a_name(client, carol):
    client.force_login(carol)
    response = client.post(reverse("create_project"), {"name": ""})
    assert response.status_code == 200
    assert "This field is required" in response.text
    assert not Project.objects.exists()
