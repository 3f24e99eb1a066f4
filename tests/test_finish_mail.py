"""A run that ends mails the user who started it, unless they had its page open."""

import datetime as dt

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from generation import notifications, pipeline
from projects import home
from projects.models import FinishNotice, Sequence, SequenceLook
from tests.helpers import drive, make_sequence


@pytest.mark.django_db(transaction=True)
def test_a_finished_run_mails_its_starter_with_a_link(client, project, alice, references, inline_pipeline):
    client.force_login(alice)
    client.get(reverse("dashboard"))  # the studio's address, for the link
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "“Tour” is ready"
    assert f"http://testserver{reverse('sequence_detail', args=[sequence.pk])}" in message.body
    charged = pipeline.charges_of(sequence, since=sequence.started_at).charged
    assert f"This run: Runway charged {charged} credits." in message.body


@pytest.mark.django_db(transaction=True)
def test_a_run_watched_to_its_end_is_not_mailed(client, project, alice, references, inline_pipeline):
    sequence = make_sequence(
        project, alice, references, model="gen4_turbo", stitched=False, duration=2, shots=1
    )
    client.force_login(alice)
    client.post(reverse("sequence_seen", args=[sequence.pk]))

    pipeline.start_sequence(sequence, user=alice)
    sequence = drive(sequence)

    assert sequence.status == Sequence.Status.DONE
    assert mail.outbox == []


@pytest.fixture
def stopped(project, alice):
    return Sequence.objects.create(
        project=project,
        title="Tour\r\nBcc: everyone@example.com",
        created_by=alice,
        started_by=alice,
        status=Sequence.Status.NEEDS_ATTENTION,
        status_message="Shot 2 failed: the prompt was refused.\nVerdict: Approved",
        started_at=timezone.now() - dt.timedelta(minutes=5),
        finished_at=timezone.now(),
    )


@pytest.mark.django_db
def test_the_mail_task_run_twice_mails_once(stopped):
    notifications.mail_run_end(stopped.pk)
    notifications.mail_run_end(stopped.pk)
    assert len(mail.outbox) == 1
    assert FinishNotice.objects.get().is_mailed


@pytest.mark.django_db
def test_titles_and_messages_stay_on_one_line(stopped):
    notifications.mail_run_end(stopped.pk)
    message = mail.outbox[0]
    assert message.subject == "“Tour Bcc: everyone@example.com” stopped and needs your attention"
    assert "What happened: Shot 2 failed: the prompt was refused. Verdict: Approved" in message.body
    assert "\nVerdict:" not in message.body
    assert "This run: Nothing charged." in message.body


@pytest.mark.django_db
def test_a_look_over_a_minute_ago_does_not_stop_the_mail(stopped, alice):
    home.record_look(alice, stopped)
    SequenceLook.objects.update(seen_at=timezone.now() - dt.timedelta(seconds=90))
    notifications.mail_run_end(stopped.pk)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_sequence_that_moved_on_is_not_mailed(stopped):
    Sequence.objects.filter(pk=stopped.pk).update(status=Sequence.Status.RUNNING)
    notifications.mail_run_end(stopped.pk)
    assert mail.outbox == []
