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


def test_a_description_longer_than_the_limit_is_refused_and_kept(client, carol):
    client.force_login(carol)
    too_long = "Coastal." * 625 + "!"  # 5,001 characters
    response = client.post(reverse("create_project"), {"name": "Lighthouse", "description": too_long})
    assert response.status_code == 200
    assert "Keep the description to 5,000 characters (it has 5001)." in response.text
    assert too_long in response.text  # what was typed stays in the form
    assert not Project.objects.exists()


def test_a_description_of_the_limit_is_taken(client, carol):
    client.force_login(carol)
    response = client.post(reverse("create_project"), {"name": "Lighthouse", "description": "x" * 5000})
    assert response.status_code == 302
    assert len(Project.objects.get().description) == 5000


def test_the_model_refuses_a_description_longer_than_the_limit(carol):
    from django.core.exceptions import ValidationError

    project = Project(name="Lighthouse", description="x" * 5001, created_by=carol)
    with pytest.raises(ValidationError, match="at most 5000 characters"):
        project.full_clean()
