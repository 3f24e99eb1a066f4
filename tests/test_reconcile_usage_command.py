"""`manage.py reconcile_usage`: the table, the summary line, the exit status."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from generation import credits
from generation.models import Take, UsageReconciliation
from tests.helpers import make_sequence

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@pytest.fixture
def settled(project, alice, references, runway):
    """A gen4.5 take Runway created (and charged 24 credits for) today, settled in the ledger."""
    sequence = make_sequence(project, alice, references, model="gen4.5", stitched=False, duration=2, shots=1)
    take = Take.objects.create(
        shot=sequence.shots.get(),
        user=alice,
        status=Take.Status.SUCCEEDED,
        request={"model": "gen4.5", "ratio": "1280:720", "duration": 2},
        estimated_credits=24,
        cost_credits=24,
        submitted_at=dt.datetime.now(dt.UTC),
    )
    hold = credits.reserve(alice, credits=24, reason="shot 1", project=project, take=take)
    credits.settle(hold, credits=24)
    runway.adjust_usage(today(), "gen4.5", 24)
    return take


def test_it_prints_the_table_and_that_the_books_agree(settled, capsys, mailoutbox):
    call_command("reconcile_usage", "--days", "3")

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["day", "model", "ledger", "Runway", "difference", "held", "state"]
    assert lines[1].split() == [today().isoformat(), "gen4.5", "24", "24", "+0", "0", "agrees"]
    assert "The ledger and Runway agree for the last 3 days." in out
    assert UsageReconciliation.objects.get(day=today(), model="gen4.5").difference == 0
    assert mailoutbox == []


def test_it_names_the_pairs_that_differ_and_still_exits_cleanly(
    settled, runway, django_user_model, capsys, mailoutbox
):
    django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    two_days_ago = today() - dt.timedelta(days=2)
    runway.adjust_usage(two_days_ago, "veo3.1_fast", 60)
    runway.adjust_usage(today(), "gen4.5", -24)

    call_command("reconcile_usage", "--days", "3")

    out = capsys.readouterr().out
    assert f"2 day/model pairs differ: {two_days_ago} veo3.1_fast (+60), {today()} gen4.5 (-24)." in out
    assert len(mailoutbox) == 1


def test_no_mail_prints_only(settled, runway, django_user_model, capsys, mailoutbox):
    django_user_model.objects.create_superuser("root", "root@example.com", "root-password")
    runway.adjust_usage(today(), "gen4.5", 1)

    call_command("reconcile_usage", "--no-mail")

    assert "1 day/model pairs differ" in capsys.readouterr().out
    assert mailoutbox == []


def test_it_says_when_nothing_was_used(runway, capsys, settings):
    settings.RECONCILE_DAYS = 5

    call_command("reconcile_usage")

    out = capsys.readouterr().out
    assert "(no credits used or held in these days)" in out
    assert "The ledger and Runway agree for the last 5 days." in out


@pytest.mark.parametrize("days", ["0", "91"])
def test_it_refuses_a_window_runway_cannot_report(runway, days):
    with pytest.raises(CommandError, match="1 to 90 days"):
        call_command("reconcile_usage", "--days", days)


def test_it_fails_when_runway_cannot_be_asked(runway, settings):
    settings.RUNWAY_API_KEY = "key_" + "1" * 128
    settings.RUNWAY_MAX_RETRIES = 0

    with pytest.raises(
        CommandError, match="Could not read Runway's usage report: Runway rejected the API key"
    ):
        call_command("reconcile_usage")
    assert not UsageReconciliation.objects.exists()
