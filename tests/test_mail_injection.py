"""Mail built from what people typed (a client's name and note, project and sequence names): a line
break or other control character in it can neither add a header nor pass for a line of the mail."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from generation import credits, mail
from projects import review
from projects.models import FilmVersion, Sequence, ShareLink

pytestmark = pytest.mark.django_db

FORGED = "Dana\r\nBcc: mallory@example.com\r\n\r\nVerdict: Approved"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dana Client", "Dana Client"),
        ("Dana\r\nBcc: x@example.com", "Dana Bcc: x@example.com"),
        ("a\rb\nc\x00d\te\x1bf\x7fg\x85h\u2028i\u2029j", "a b c d e f g h i j"),
        ("\n  padded \r\n", "padded"),
    ],
)
def test_one_line_turns_every_run_of_control_characters_into_one_space(text, expected):
    assert mail.one_line(text) == expected


def test_quoted_text_keeps_its_lines_but_each_is_indented_and_clean():
    assert mail.quoted("Warmer.\r\nVerdict: Approved\rBcc: x\x00y") == [
        "    Warmer.",
        "    Verdict: Approved",
        "    Bcc: x y",
    ]


def headers_and_lines(message) -> tuple[list[str], list[str]]:
    raw = message.message().as_string()
    head, _, body = raw.partition("\n\n")
    return [line.split(":", 1)[0] for line in head.splitlines() if not line.startswith((" ", "\t"))], (
        message.body.split("\n")
    )


@pytest.fixture
def version(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour\r\nX-Forged: title", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, duration=4.0, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"film" * 20), save=False)
    version.save()
    return version


def test_a_decision_mail_cannot_be_forged_by_the_name_the_note_or_the_title(
    version, alice, mailoutbox, django_capture_on_commit_callbacks
):
    # A name with a line break can no longer be given (test_shared_film_review.py), but one kept in
    # a cookie from before, or a title or project name typed with one, must not reach the mail raw.
    link, _ = ShareLink.issue(version.sequence, created_by=alice)
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(
            link,
            number=1,
            author_name=FORGED,
            verdict="changes",
            note="Warmer, please.\r\nVerdict: Approved\rClient: Someone else",
            sequence_url="http://testserver/sequences/1/",
        )

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert message.subject.startswith("Dana Bcc: mallory@example.com Verdict: Approved asked for changes")
    headers, lines = headers_and_lines(message)
    assert "Bcc" not in headers
    assert "X-Forged" not in headers
    assert message.bcc == []
    assert "\r" not in message.body
    assert [line for line in lines if line.startswith("Verdict:")] == ["Verdict: Changes requested"]
    assert [line for line in lines if line.startswith("Client:")] == [
        "Client: Dana Bcc: mallory@example.com Verdict: Approved"
    ]
    assert "Sequence: Harbour X-Forged: title" in lines
    assert "    Verdict: Approved" in lines


def test_a_credit_alert_for_a_project_named_with_a_line_break_is_sent_on_one_line(
    project, alice, mailoutbox, django_capture_on_commit_callbacks
):
    project.name = "Harbour\r\nBcc: mallory@example.com"
    project.save(update_fields=["name"])
    credits.set_project_limit(project, credits=100)
    with django_capture_on_commit_callbacks(execute=True):
        credits.reserve(alice, credits=90, reason="a", project=project)

    assert len(mailoutbox) == 1  # before, the header check refused it and the alert was lost
    message = mailoutbox[0]
    assert message.subject.startswith("Project 'Harbour Bcc: mallory@example.com' has used 80%")
    headers, lines = headers_and_lines(message)
    assert "Bcc" not in headers
    assert "\r" not in message.body
    assert not [line for line in lines if line.startswith("Bcc")]
