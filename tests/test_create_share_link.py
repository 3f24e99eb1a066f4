"""Owners and editors make share links: for a reviewer (mailed the link from the studio), with
switches, a password and an expiry. The link is shown, with a Copy button, on its own page after a
redirect: reloading shows it again and makes no other link, and only its digest is stored."""

import datetime as dt
import re

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Membership, Sequence, ShareLink, token_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", film="films/tour.mp4"
    )
    FilmVersion.objects.create(sequence=sequence, number=1, film="films/tour.mp4", sent_at=timezone.now())
    return sequence


def url(sequence):
    return reverse("create_share_link", args=[sequence.pk])


SWITCHES = {"can_comment": "on", "can_approve": "on", "can_download": "on", "can_download_master": "on"}


def create(client, sequence, *, follow=False, **data):
    return client.post(url(sequence), {"expires_in_days": "", **SWITCHES, **data}, follow=follow)


def shown_url(text: str) -> str:
    match = re.search(r'<textarea id="share-url"[^>]*>(http://testserver/s/[^/<]+/)</textarea>', text)
    return match.group(1) if match else ""


def test_owners_create_a_link_that_never_expires(client, alice, sequence):
    client.force_login(alice)
    response = create(client, sequence)
    link = ShareLink.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("share_link", args=[link.pk])
    assert link.expires_at is None
    assert link.created_by == alice
    assert (link.can_comment, link.can_approve, link.can_download, link.can_download_master) == (True,) * 4
    page = client.get(response["Location"])
    assert reverse("sequence_detail", args=[sequence.pk]) + "#sharing" in page.text


def test_reloading_the_page_shows_the_same_link_and_makes_no_other(client, alice, sequence):
    """Fails before issue 19: the link was rendered in the POST's response, so a reload posted again."""
    client.force_login(alice)
    response = create(client, sequence, follow=True)
    shared = shown_url(response.text)
    assert shared, response.text
    assert 'data-copy="share-url"' in response.text  # the Copy button (shown by copy.js)
    assert response["Cache-Control"] == "no-store"
    again = client.get(reverse("share_link", args=[ShareLink.objects.get().pk]))
    assert shown_url(again.text) == shared
    assert ShareLink.objects.count() == 1
    assert client.get(shared).status_code == 200


def test_only_the_digest_is_stored_and_the_link_is_shown_only_in_the_browser_that_made_it(
    client, alice, sequence, django_user_model
):
    client.force_login(alice)
    shared = shown_url(create(client, sequence, follow=True).text)
    token = shared.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 43
    link = ShareLink.objects.get()
    assert link.token_digest == token_digest(token)
    assert not any(token in str(value) for value in ShareLink.objects.values().get().values())
    assert token not in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    # Another owner's browser (no cookie from the making of it) sees that it cannot be shown.
    other = django_user_model.objects.create_user("olga", password="pw")
    Membership.objects.create(project=sequence.project, user=other, role="owner")
    client.logout()
    client.force_login(other)
    text = client.get(reverse("share_link", args=[link.pk])).text
    assert token not in text
    assert "no longer shown" in text


def test_an_editor_makes_a_new_link_beside_an_old_one(client, bob, sequence):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    first = create(client, sequence, follow=True)
    second = create(client, sequence, follow=True)
    assert "Link 1" in first.text
    assert "Link 2" in second.text
    assert ShareLink.objects.filter(sequence=sequence).count() == 2


def test_editors_create_a_link_with_an_expiry(client, bob, sequence):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    create(client, sequence, expires_in_days="7")
    expires_at = ShareLink.objects.get().expires_at
    assert abs(expires_at - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)


def test_the_switches_are_kept(client, alice, sequence):
    client.force_login(alice)
    client.post(url(sequence), {"expires_in_days": "", "can_comment": "on", "can_download": "on"})
    link = ShareLink.objects.get()
    assert (link.can_comment, link.can_approve, link.can_download, link.can_download_master) == (
        True,
        False,
        True,
        False,
    )


def test_a_recipient_is_mailed_the_link_through_django_mail(client, alice, sequence):
    client.force_login(alice)
    response = create(
        client,
        sequence,
        recipient_name="Dana Client",
        recipient_email="dana@example.com",
        password="harbour-2026",
        expires_in_days="3",
        follow=True,
    )
    link = ShareLink.objects.get()
    assert (link.recipient_name, link.recipient_email) == ("Dana Client", "dana@example.com")
    assert "mailed to dana@example.com" in response.text
    [message] = mail.outbox
    assert message.to == ["dana@example.com"]
    assert message.subject == "alice shared “Tour” with you"
    assert shown_url(response.text) in message.body
    assert message.body.startswith("Hello Dana Client,")
    assert "comment on it, approve it or ask for changes, download it" in message.body
    assert "asks for a password" in message.body
    assert "harbour-2026" not in message.body


def test_a_title_with_a_line_break_cannot_add_a_header_to_the_mail(client, alice, sequence):
    Sequence.objects.filter(pk=sequence.pk).update(title="Tour\nBcc: mallory@example.com")
    client.force_login(alice)
    create(client, sequence, recipient_email="dana@example.com")
    [message] = mail.outbox
    assert "\n" not in message.subject
    assert message.bcc == []
    assert "mallory" not in str(message.message()["Bcc"])
    assert "\nBcc:" not in message.body


@pytest.mark.parametrize("name", ["Dana\r\nBcc: mallory@example.com", "Dana\u2028Client"])
def test_a_recipient_name_with_control_characters_is_refused(client, alice, sequence, name):
    client.force_login(alice)
    response = create(client, sequence, recipient_name=name, recipient_email="dana@example.com", follow=True)
    assert "control characters" in response.text
    assert not ShareLink.objects.exists()
    assert mail.outbox == []


def test_a_bad_email_or_short_password_creates_nothing(client, alice, sequence):
    client.force_login(alice)
    create(client, sequence, recipient_email="dana@example.com\nBcc: x@example.com")
    create(client, sequence, password="abc")
    assert not ShareLink.objects.exists()
    assert mail.outbox == []


def test_the_password_is_kept_only_as_a_django_hash(client, alice, sequence):
    client.force_login(alice)
    create(client, sequence, password="harbour-2026")
    link = ShareLink.objects.get()
    assert "harbour-2026" not in link.password_hash
    assert link.check_password("harbour-2026")
    assert not link.check_password("harbour-2027")


def test_a_latest_link_needs_a_version_sent_first(client, alice, sequence):
    FilmVersion.objects.update(sent_at=None)
    client.force_login(alice)
    response = create(client, sequence, follow=True)
    assert "Send a version to the client first" in response.text
    assert not ShareLink.objects.exists()


def test_a_link_to_a_draft_version_sends_that_version(client, alice, sequence):
    draft = FilmVersion.objects.create(sequence=sequence, number=2, film="films/v2.mp4")
    client.force_login(alice)
    create(client, sequence, version="2")
    draft.refresh_from_db()
    assert draft.is_sent
    assert draft.sent_by == alice
    assert ShareLink.objects.get().version == draft


def test_a_bad_expiry_creates_nothing(client, alice, sequence):
    client.force_login(alice)
    create(client, sequence, expires_in_days="0")
    create(client, sequence, expires_in_days="soon")
    assert not ShareLink.objects.exists()


def test_it_redirects_anonymous_users_to_login(client, sequence):
    assert reverse("login") in client.post(url(sequence))["Location"]
    link, _ = ShareLink.issue(sequence, created_by=sequence.created_by)
    assert reverse("login") in client.get(reverse("share_link", args=[link.pk]))["Location"]


def test_outsiders_get_404(client, carol, sequence):
    link, _ = ShareLink.issue(sequence, created_by=sequence.created_by)
    client.force_login(carol)
    assert client.post(url(sequence)).status_code == 404
    assert client.get(reverse("share_link", args=[link.pk])).status_code == 404


def test_viewers_get_403(client, bob, sequence):
    link, _ = ShareLink.issue(sequence, created_by=sequence.created_by)
    client.force_login(bob)
    assert client.post(url(sequence)).status_code == 403
    assert client.get(reverse("share_link", args=[link.pk])).status_code == 403
    assert ShareLink.objects.count() == 1


def test_it_refuses_get(client, alice, sequence):
    client.force_login(alice)
    assert client.get(url(sequence)).status_code == 405
