"""Which differences `reconcile_usage` mails to the admins: new ones and changed ones, once each,
however many daily runs see them in the window. Against the simulator's usage report over HTTP."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command

from generation import reconcile
from generation.models import UsageReconciliation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _settings(settings, runway):
    settings.RECONCILE_ALERT_CREDITS = 0
    settings.ADMINS = []


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "root-password")


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("The mail server is down")


def test_the_same_difference_is_mailed_once(runway, root, mailoutbox):
    yesterday = today() - dt.timedelta(days=1)
    runway.adjust_usage(yesterday, "veo3.1", 80)

    reconcile.reconcile_usage(days=7)
    reconcile.reconcile_usage(days=7)
    call_command("reconcile_usage", "--days", "7")

    assert len(mailoutbox) == 1
    assert f"New since the last mail: {yesterday} veo3.1 (+80)." in mailoutbox[0].body
    assert mailoutbox[0].subject == "Credits: the ledger and Runway's usage differ (1 new difference)"
    row = UsageReconciliation.objects.get(day=yesterday, model="veo3.1")
    assert (row.mailed_difference, row.difference) == (80, 80)
    assert row.mailed_at is not None


def test_a_changed_difference_is_mailed_again(runway, root, mailoutbox):
    runway.adjust_usage(today(), "gen4.5", 24)
    reconcile.reconcile_usage(days=7)

    runway.adjust_usage(today(), "gen4.5", 12)
    reconcile.reconcile_usage(days=7)
    reconcile.reconcile_usage(days=7)

    assert len(mailoutbox) == 2
    assert f"Changed since the last mail: {today()} gen4.5 (+36, mailed as +24)." in mailoutbox[1].body
    assert "New since the last mail" not in mailoutbox[1].body


def test_the_mail_names_the_new_days_and_shows_the_old_ones_in_the_table(runway, root, mailoutbox):
    two_days_ago = today() - dt.timedelta(days=2)
    runway.adjust_usage(two_days_ago, "veo3.1", 40)
    reconcile.reconcile_usage(days=7)

    runway.adjust_usage(today(), "gen4_turbo", -10)
    reconcile.reconcile_usage(days=7)

    assert len(mailoutbox) == 2
    body = mailoutbox[1].body
    new_line = body.splitlines()[0]
    assert new_line == f"New since the last mail: {today()} gen4_turbo (-10)."
    assert "already mailed and unchanged are in the table below" in body
    assert f"{two_days_ago.isoformat()}  veo3.1" in body  # still in the table
    assert f"2 day/model pairs differ: {two_days_ago} veo3.1 (+40), {today()} gen4_turbo (-10)." in body


def test_a_difference_that_went_away_and_came_back_is_new_again(runway, root, mailoutbox):
    runway.adjust_usage(today(), "gen4.5", 24)
    reconcile.reconcile_usage(days=7)
    runway.adjust_usage(today(), "gen4.5", -24)
    (row,) = reconcile.reconcile_usage(days=7)
    assert (row.state, row.mailed_difference) == (reconcile.AGREES, None)

    runway.adjust_usage(today(), "gen4.5", 24)
    reconcile.reconcile_usage(days=7)

    assert len(mailoutbox) == 2
    assert f"New since the last mail: {today()} gen4.5 (+24)." in mailoutbox[1].body


def test_a_run_without_mail_leaves_the_difference_to_be_mailed(runway, root, mailoutbox):
    runway.adjust_usage(today(), "gen4.5", 24)
    reconcile.reconcile_usage(days=7, notify=False)
    assert mailoutbox == []

    reconcile.reconcile_usage(days=7)

    assert len(mailoutbox) == 1


def test_a_mail_that_could_not_be_sent_is_sent_by_the_next_run(runway, root, settings, mailoutbox):
    runway.adjust_usage(today(), "gen4.5", 24)
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    with pytest.raises(ConnectionRefusedError):
        reconcile.reconcile_usage(days=7)
    assert UsageReconciliation.objects.get().mailed_difference is None

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    reconcile.reconcile_usage(days=7)

    assert len(mailoutbox) == 1
    assert UsageReconciliation.objects.get().mailed_difference == 24


def test_a_difference_nobody_could_be_told_about_stays_new(runway, mailoutbox, caplog):
    runway.adjust_usage(today(), "gen4.5", 24)

    reconcile.reconcile_usage(days=7)

    assert mailoutbox == []
    assert "no admin has an email address" in caplog.text
    assert UsageReconciliation.objects.get().mailed_difference is None
