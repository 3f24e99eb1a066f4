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


def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(client, alice):
    """Fails before issue 10: the lockout was per username, so anyone could keep alice out."""
    for _ in range(10):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="203.0.113.9")
    assert (
        client.post(
            reverse("login"), {"username": "alice", "password": "wrong"}, REMOTE_ADDR="203.0.113.9"
        ).status_code
        == 429
    )
    response = client.post(
        reverse("login"), {"username": "alice", "password": "alice-password"}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302


def test_behind_a_proxy_clients_are_told_apart_by_x_forwarded_for(client, alice, settings):
    """Fails before issue 10: every client behind the proxy shared the proxy's address."""
    settings.TRUSTED_PROXIES = 1
    guesser = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    other = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.4"}
    for i in range(20):
        client.post(reverse("login"), {"username": f"nobody{i}", "password": "wrong"}, **guesser)
    alice_login = {"username": "alice", "password": "alice-password"}
    assert client.post(reverse("login"), alice_login, **guesser).status_code == 429
    assert client.post(reverse("login"), alice_login, **other).status_code == 302


def test_a_signed_in_user_guessing_anothers_password_is_counted(client, alice, bob):
    client.force_login(bob)
    for _ in range(5):
        _try(client, "alice", "wrong")
    assert _try(client, "alice", "alice-password").status_code == 429
