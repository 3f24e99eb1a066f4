"""403, 404 and 500 pages in the studio's look, saying why and where to go."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views import defaults

from generation.models import Take
from projects.models import Sequence, Shot


@pytest.fixture
def take(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", created_by=alice, status="done")
    shot = Shot.objects.create(sequence=sequence, prompt="Hall", first_frame="none")
    return Take.objects.create(shot=shot, user=alice, status="succeeded")


@pytest.mark.django_db
def test_a_viewer_refused_a_change_is_told_why_in_the_studio_page(client, bob, take):
    client.force_login(bob)
    response = client.post(reverse("choose_take", args=[take.pk]))
    assert response.status_code == 403
    page = response.text
    assert "Only owners and editors can change this project." in page
    assert "You cannot do that here" in page
    assert 'class="site-header"' in page
    assert f'href="{reverse("dashboard")}"' in page


@pytest.mark.django_db
def test_a_missing_page_says_what_may_have_happened(client, carol, take):
    client.force_login(carol)
    response = client.get(reverse("sequence_detail", args=[take.shot.sequence_id]))
    assert response.status_code == 404
    assert "This page is not here" in response.text
    assert "a project you are not a member of" in response.text
    assert 'class="site-header"' in response.text


def test_the_500_page_needs_no_database(django_db_blocker):
    # The database is refused to this test: any query, session or user lookup would raise.
    with django_db_blocker.block():
        response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert 'class="site-header"' in text
