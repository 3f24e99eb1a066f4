"""The account pages: login, logout, password change and reset (django.contrib.auth views, our templates)."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_page_has_labelled_fields_and_no_sign_up(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert '<label for="id_username"' in response.text
    assert '<label for="id_password"' in response.text
    assert "sign up" not in response.text.lower()
    assert "register" not in response.text.lower()


def test_logging_in_leads_to_the_dashboard(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_a_wrong_password_shows_a_readable_error(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.text


def test_logout_is_a_post_form(client, alice):
    client.force_login(alice)
    page = client.get(reverse("dashboard")).text
    assert f'action="{reverse("logout")}"' in page
    assert 'method="post"' in page
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302


def test_password_change(client, alice):
    client.force_login(alice)
    assert client.get(reverse("password_change")).status_code == 200
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "alice-password",
            "new_password1": "tide-lantern-42",
            "new_password2": "tide-lantern-42",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("tide-lantern-42")


def test_password_reset_sends_a_link(client, alice, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/reset/" in mailoutbox[0].body
    assert mailoutbox[0].subject == "Reset your Videogen password"
    assert client.get(response["Location"]).status_code == 200
