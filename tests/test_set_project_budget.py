import pytest
from django.urls import reverse

from generation import credits
from generation.models import ProjectBudget
from projects.models import Membership

pytestmark = pytest.mark.django_db


def url(project):
    return reverse("set_project_budget", args=[project.pk])


def _cap(project):
    return ProjectBudget.objects.filter(project=project).values_list("monthly_limit", flat=True).first()


def test_owners_set_the_monthly_cap(client, alice, project):
    client.force_login(alice)
    response = client.post(url(project), {"monthly_limit": "300"})
    assert response.status_code == 302
    assert response["Location"] == reverse("project_detail", args=[project.pk])
    assert _cap(project) == 300

    page = client.get(response["Location"])
    assert "The project may now use 300 credits per month." in page.text
    assert "Limit 300" in page.text
    assert 'name="monthly_limit" id="id_monthly_limit" min="0" value="300"' in page.text


def test_an_empty_cap_removes_it(client, alice, project):
    credits.set_project_limit(project, credits=300)
    client.force_login(alice)
    response = client.post(url(project), {"monthly_limit": ""}, follow=True)
    assert "The project&#x27;s monthly cap was removed." in response.text
    assert "This project has no monthly cap" in response.text
    assert _cap(project) is None


def test_the_page_shows_the_users_credits_and_the_projects_cap(client, alice, bob, project):
    credits.set_project_limit(project, credits=400)
    hold = credits.reserve(alice, credits=100, reason="shot", project=project)
    credits.settle(hold, credits=90)
    credits.reserve(alice, credits=60, reason="shot 2", project=project)
    credits.reserve(alice, credits=25, reason="elsewhere")
    client.force_login(alice)

    page = client.get(reverse("project_detail", args=[project.pk])).text

    assert "90 used, 85 held, 825 available of 1000 credits this month" in page
    assert "90 used, 60 held, 250 available of 400 credits this month" in page

    client.force_login(bob)
    page = client.get(reverse("project_detail", args=[project.pk])).text
    assert "90 used, 60 held, 250 available of 400 credits this month" in page
    assert 'action="' + url(project) + '"' not in page


def test_a_project_over_its_cap_says_so(client, alice, project):
    credits.set_project_limit(project, credits=100)
    credits.reserve(alice, credits=100, reason="shot", project=project)
    credits.set_project_limit(project, credits=40)
    client.force_login(alice)
    page = client.get(reverse("project_detail", args=[project.pk])).text
    assert "This project is 60 credits over this month's cap." in page


@pytest.mark.parametrize("value", ["-5", "ten", "2147483648"])
def test_invalid_input_changes_nothing_and_says_why(client, alice, project, value):
    credits.set_project_limit(project, credits=300)
    client.force_login(alice)
    response = client.post(url(project), {"monthly_limit": value})
    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.text
    assert 'id="monthly_limit_error"' in response.text
    assert _cap(project) == 300


def test_editors_and_viewers_get_403(client, django_user_model, bob, project):
    editor = django_user_model.objects.create_user("dave", "dave@example.com", "dave-password")
    Membership.objects.create(project=project, user=editor, role=Membership.Role.EDITOR)
    for user in (editor, bob):
        client.force_login(user)
        assert client.post(url(project), {"monthly_limit": "1"}).status_code == 403
    assert _cap(project) is None


def test_outsiders_get_404(client, carol, project):
    client.force_login(carol)
    assert client.post(url(project), {"monthly_limit": "1"}).status_code == 404
    assert _cap(project) is None


def test_anonymous_users_are_sent_to_login(client, project):
    response = client.post(url(project), {"monthly_limit": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert _cap(project) is None


def test_get_is_not_allowed(client, alice, project):
    client.force_login(alice)
    assert client.get(url(project)).status_code == 405


def test_setting_the_same_cap_twice_changes_nothing_else(client, alice, project):
    credits.reserve(alice, credits=50, reason="shot", project=project)
    client.force_login(alice)
    client.post(url(project), {"monthly_limit": "300"})
    client.post(url(project), {"monthly_limit": "300"})
    budget = ProjectBudget.objects.get(project=project)
    assert (budget.monthly_limit, budget.held) == (300, 50)
    assert credits.recompute_figures() == []
