"""Password reset is throttled per address typed and per client address, and answers the same for an
address with an account and one without: the same page, the same throttled page."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

KNOWN = "alice@example.com"
UNKNOWN = "nobody@example.com"


@pytest.fixture(autouse=True)
def limits(settings):
    settings.PASSWORD_RESET_LIMIT = 3
    settings.PASSWORD_RESET_WINDOW = 3600


def reset(client, email, ip="198.51.100.7"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_a_reset_sends_one_mail_and_says_to_check_it(client, alice, mailoutbox):
    response = reset(client, KNOWN)
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert [m.to for m in mailoutbox] == [[KNOWN]]


def test_the_same_address_is_refused_after_the_limit_and_gets_no_more_mail(client, alice, mailoutbox):
    for n in range(3):
        # From a new client address each time: the limit is the account's, so its inbox is spared.
        assert reset(client, KNOWN, ip=f"198.51.100.{n + 1}").status_code == 302

    response = reset(client, KNOWN, ip="198.51.100.99")

    assert response.status_code == 429
    assert "Too many password reset requests" in response.text
    assert len(mailoutbox) == 3


def test_the_address_counts_however_it_is_written(client, alice, mailoutbox):
    for email in (KNOWN, "Alice@Example.com", " ALICE@example.COM "):
        reset(client, email, ip="198.51.100.1")
    assert reset(client, KNOWN, ip="198.51.100.2").status_code == 429


def test_an_unknown_address_gets_the_same_answers_as_a_known_one(client, alice, mailoutbox):
    known = [reset(client, KNOWN, ip=f"198.51.100.{n}") for n in range(1, 5)]
    unknown = [reset(client, UNKNOWN, ip=f"203.0.113.{n}") for n in range(1, 5)]

    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [302, 302, 302, 429]
    assert [r.get("Location") for r in known] == [r.get("Location") for r in unknown]
    assert known[-1].content == unknown[-1].content
    assert client.get(reverse("password_reset_done")).status_code == 200


def test_one_client_address_asking_for_many_accounts_is_paused(client, alice, mailoutbox):
    # Four times the per-account limit, as for sign-in.
    for n in range(12):
        assert reset(client, f"someone{n}@example.com").status_code == 302

    assert reset(client, KNOWN).status_code == 429
    assert mailoutbox == []
    assert reset(client, KNOWN, ip="203.0.113.50").status_code == 302
    assert len(mailoutbox) == 1


def test_another_account_is_not_held_up_by_one_that_is_throttled(client, alice, bob, mailoutbox):
    for n in range(4):
        reset(client, KNOWN, ip=f"198.51.100.{n + 1}")
    assert reset(client, bob.email, ip="198.51.100.1").status_code == 302
    assert mailoutbox[-1].to == [bob.email]


def test_the_form_is_still_shown_to_a_throttled_client(client, alice):
    for n in range(12):
        reset(client, f"someone{n}@example.com")
    assert client.get(reverse("password_reset"), REMOTE_ADDR="198.51.100.7").status_code == 200
