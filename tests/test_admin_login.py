"""/admin/login/ is throttled like /accounts/login/, with the same counters."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("dora", "dora@example.com", "dora-password", is_staff=True)


def _try(client, username: str, password: str):
    return client.post(reverse("admin:login"), {"username": username, "password": password})


def test_staff_sign_in(client, staff):
    response = _try(client, "dora", "dora-password")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_forty_wrong_passwords_then_the_right_one_does_not_get_in(client, staff):
    """Fails before issue 10: the admin's sign-in had no throttle."""
    for _ in range(40):
        _try(client, "dora", "wrong")
    response = _try(client, "dora", "dora-password")
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session


def test_failures_at_the_studio_login_count_at_the_admin(client, staff):
    for _ in range(5):
        client.post(reverse("login"), {"username": "dora", "password": "wrong"})
    assert _try(client, "dora", "dora-password").status_code == 429


def test_the_form_still_renders(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert 'name="password"' in response.text
