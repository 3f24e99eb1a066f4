import pytest
from django.core.management import CommandError, call_command

from generation import credits
from generation.models import CreditBudget, LedgerEntry

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


def test_a_limit_beyond_the_columns_range_is_refused_and_writes_nothing(alice):
    too_big = credits.credits_range(CreditBudget, "monthly_limit")[1] + 1
    for amount in (too_big, 2**64):
        with pytest.raises(CommandError, match="--limit must be between 0 and"):
            call_command("budget", "alice", "--limit", str(amount))
    alice.credit_budget.refresh_from_db()
    assert alice.credit_budget.monthly_limit == 1000


def test_a_grant_beyond_the_columns_range_is_refused_and_writes_nothing(alice):
    low, high = credits.credits_range(LedgerEntry, "credits")
    for amount in (high + 1, low - 1, 2**64):
        with pytest.raises(CommandError, match="--grant must be between"):
            call_command("budget", "alice", "--grant", str(amount), "--reason", "typo")
    assert not LedgerEntry.objects.exists()


def test_a_good_limit_beside_an_out_of_range_grant_is_not_written_either(alice):
    with pytest.raises(CommandError, match="--grant must be between"):
        call_command("budget", "alice", "--limit", "2000", "--grant", str(2**64), "--reason", "typo")
    alice.credit_budget.refresh_from_db()
    assert alice.credit_budget.monthly_limit == 1000
    assert not LedgerEntry.objects.exists()
