"""Staff send a film version to the client: until then it is a draft that no link shows; once sent,
"always the latest" links show it and their recipients are told by mail (Django mail). Sending twice
changes nothing. The versions section says what was sent, when, by whom, with what note and what
changed, and each reviewer's decision."""

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from projects.models import FilmVersion, Membership, ReviewDecision, Sequence, ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Tour", created_by=alice, status="done", film="films/v2.mp4"
    )
    FilmVersion.objects.create(sequence=sequence, number=1, film="films/v1.mp4", sent_at=timezone.now())
    FilmVersion.objects.create(sequence=sequence, number=2, film="films/v2.mp4")
    return sequence


@pytest.fixture
def draft(sequence):
    return sequence.versions.get(number=2)


def url(version):
    return reverse("send_version", args=[version.pk])


def test_sending_a_version_shows_it_on_latest_links_and_mails_their_reviewers(
    client, alice, sequence, draft, django_capture_on_commit_callbacks
):
    latest, token = ShareLink.issue(
        sequence, created_by=alice, recipient_name="Dana", recipient_email="dana@example.com"
    )
    ShareLink.issue(
        sequence, created_by=alice, recipient_email="nomail@example.com", revoked_at=timezone.now()
    )
    ShareLink.issue(
        sequence, created_by=alice, version=sequence.versions.get(number=1), recipient_email="pin@example.com"
    )
    assert "Version 2" not in client.get(reverse("shared_film", args=[token])).text
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(draft), {"note": "Warmer light in shot 2.\nBcc: x@example.com"})
    assert response.status_code == 302
    assert response["Location"].endswith("#version-2")
    draft.refresh_from_db()
    assert draft.is_sent
    assert draft.sent_by == alice
    assert draft.sent_note.startswith("Warmer light")
    client.logout()
    assert "Version 2" in client.get(reverse("shared_film", args=[token])).text
    [message] = mail.outbox
    assert message.to == ["dana@example.com"]
    assert message.subject == "Version 2 of “Tour” is ready for you"
    assert message.body.startswith("Hello Dana,")
    assert "    Warmer light in shot 2.\n    Bcc: x@example.com" in message.body
    assert "\nBcc:" not in message.body
    assert token not in message.body


def test_sending_twice_changes_nothing(client, alice, draft):
    client.force_login(alice)
    client.post(url(draft), {"note": "first"})
    draft.refresh_from_db()
    sent_at = draft.sent_at
    response = client.post(url(draft), {"note": "second"}, follow=True)
    assert "had been sent already" in response.text
    draft.refresh_from_db()
    assert (draft.sent_at, draft.sent_note) == (sent_at, "first")


def test_the_versions_section_shows_drafts_sent_versions_and_each_reviewers_decision(
    client, alice, sequence, draft
):
    v1 = sequence.versions.get(number=1)
    ReviewDecision.objects.create(version=v1, author_name="Dana", verdict="changes")
    ReviewDecision.objects.create(version=v1, author_name="Dana", verdict="approved")
    ReviewDecision.objects.create(version=v1, author_name="Eli", verdict="changes", note="Shorter")
    client.force_login(alice)
    text = " ".join(client.get(reverse("sequence_detail", args=[sequence.pk])).text.split())
    assert "Draft: not sent" in text
    assert "Send version 2 to the client" in text
    assert "Send version 1 to the client" not in text
    assert "Changes requested (1 of 2 approved)" in text
    assert "Each reviewer's decision" in text
    client.post(url(draft), {"note": "Look at the ending"})
    text = " ".join(client.get(reverse("sequence_detail", args=[sequence.pk])).text.split())
    assert "Send version 2 to the client" not in text
    assert "by alice" in text
    assert "Look at the ending" in text


def test_a_too_long_note_sends_nothing(client, alice, draft):
    client.force_login(alice)
    client.post(url(draft), {"note": "x" * 2001})
    draft.refresh_from_db()
    assert not draft.is_sent


def test_viewers_see_no_send_button_and_get_403(client, bob, sequence, draft):
    client.force_login(bob)
    assert "Send version 2" not in client.get(reverse("sequence_detail", args=[sequence.pk])).text
    assert client.post(url(draft)).status_code == 403
    draft.refresh_from_db()
    assert not draft.is_sent


def test_editors_may_send(client, bob, draft):
    Membership.objects.filter(user=bob).update(role="editor")
    client.force_login(bob)
    client.post(url(draft))
    draft.refresh_from_db()
    assert draft.sent_by == bob


def test_outsiders_get_404_and_anonymous_users_log_in(client, carol, draft):
    assert reverse("login") in client.post(url(draft))["Location"]
    client.force_login(carol)
    assert client.post(url(draft)).status_code == 404


def test_it_refuses_get(client, alice, draft):
    client.force_login(alice)
    assert client.get(url(draft)).status_code == 405
