import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _try(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_it_logs_in_with_the_right_password(client, alice):
    response = _try(client, "alice", "alice-password")
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_repeated_failures_pause_sign_in_even_with_the_right_password(client, alice):
    for _ in range(5):
        assert _try(client, "alice", "wrong").status_code == 200

    response = _try(client, "alice", "alice-password")

    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_for_one_user_do_not_lock_out_another(client, alice, bob):
    for _ in range(5):
        _try(client, "alice", "wrong")
    assert _try(client, "bob", "bob-password").status_code == 302


def test_one_address_guessing_many_usernames_is_paused(client, alice):
    for i in range(20):
        _try(client, f"nobody{i}", "wrong")
    assert _try(client, "alice", "alice-password").status_code == 429


def test_a_success_clears_the_users_failures(client, alice):
    for _ in range(4):
        _try(client, "alice", "wrong")
    assert _try(client, "alice", "alice-password").status_code == 302
    client.logout()
    for _ in range(4):
        _try(client, "alice", "wrong")
    assert _try(client, "alice", "alice-password").status_code == 302


def test_password_reset_sends_a_mail(client, alice, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "alice" in mailoutbox[0].body
