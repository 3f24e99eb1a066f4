import pytest
from django.core.management import CommandError, call_command

from generation import credits
from generation.models import LedgerEntry

pytestmark = pytest.mark.django_db


def test_it_prints_the_users_month(alice, capsys):
    credits.reserve(alice, credits=120, reason="shot")
    call_command("budget", "alice")
    out = capsys.readouterr().out
    assert "limit 1000, granted 0, used 0, held 120, available 880" in out


def test_it_sets_the_monthly_limit(alice, capsys):
    call_command("budget", "alice", "--limit", "2500")
    alice.credit_budget.refresh_from_db()
    assert alice.credit_budget.monthly_limit == 2500
    assert "available 2500" in capsys.readouterr().out


def test_it_writes_a_grant_with_its_reason(alice):
    call_command("budget", "alice", "--grant", "300", "--reason", "launch week")
    entry = LedgerEntry.objects.get(user=alice)
    assert (entry.kind, entry.credits, entry.reason) == ("grant", 300, "launch week")
    assert credits.month_summary(alice).available == 1300


def test_a_grant_without_reason_is_refused_and_writes_nothing(alice):
    with pytest.raises(CommandError, match="--reason"):
        call_command("budget", "alice", "--grant", "300")
    assert not LedgerEntry.objects.exists()


def test_an_unknown_user_is_an_error(db):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("budget", "nobody")


def test_a_negative_limit_is_refused(alice):
    with pytest.raises(CommandError):
        call_command("budget", "alice", "--limit", "-5")
    alice.credit_budget.refresh_from_db()
    assert alice.credit_budget.monthly_limit == 1000
