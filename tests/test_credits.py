import datetime as dt
import threading

import pytest
from django.db import connection
from django.db.models import Sum

from generation import credits
from generation.credits import InsufficientCredits
from generation.models import CreditBudget, CreditMonth, LedgerEntry, ProjectBudget

Kind = LedgerEntry.Kind
pytestmark = pytest.mark.django_db


def test_available_is_limit_plus_grants_minus_settled_and_open_holds(alice):
    credits.grant(alice, credits=200, reason="launch week")
    settled_hold = credits.reserve(alice, credits=100, reason="shot 1")
    credits.settle(settled_hold, credits=80)
    credits.reserve(alice, credits=50, reason="shot 2")
    released = credits.reserve(alice, credits=30, reason="shot 3")
    credits.release(released, reason="task failed")

    summary = credits.month_summary(alice)

    assert (summary.limit, summary.granted, summary.used, summary.held) == (1000, 200, 80, 50)
    assert summary.available == 1000 + 200 - 80 - 50


def test_it_refuses_when_budget_is_exhausted_and_writes_nothing(alice):
    credits.reserve(alice, credits=990, reason="big film")

    with pytest.raises(InsufficientCredits) as excinfo:
        credits.reserve(alice, credits=25, reason="one more")

    assert "needs 25 credits" in str(excinfo.value)
    assert "only 10 are left" in str(excinfo.value)
    assert LedgerEntry.objects.filter(user=alice).count() == 1


def test_reserve_many_is_all_or_nothing(alice):
    with pytest.raises(InsufficientCredits):
        credits.reserve_many(alice, holds=[{"credits": 600}, {"credits": 600}], reason="two shots")
    assert not LedgerEntry.objects.exists()

    entries = credits.reserve_many(alice, holds=[{"credits": 400}, {"credits": 600}], reason="two shots")
    assert [e.credits for e in entries] == [400, 600]
    assert credits.month_summary(alice).available == 0


def test_a_user_without_budget_has_nothing_to_spend(carol):
    CreditBudget.objects.filter(user=carol).delete()
    with pytest.raises(InsufficientCredits):
        credits.reserve(carol, credits=1, reason="anything")


def test_settle_releases_the_rest_of_the_hold(alice, project):
    hold = credits.reserve(alice, credits=63, reason="shot", project=project)

    assert credits.settle(hold, credits=50) is True

    closures = LedgerEntry.objects.filter(hold=hold).order_by("kind")
    assert [(e.kind, e.credits, e.project_id) for e in closures] == [
        (Kind.RELEASE, 13, project.pk),
        (Kind.SETTLE, 50, project.pk),
    ]
    assert credits.month_summary(alice).available == 1000 - 50


def test_settle_twice_changes_nothing(alice):
    hold = credits.reserve(alice, credits=40, reason="shot")
    credits.settle(hold, credits=40)
    before = list(LedgerEntry.objects.values_list("pk", "kind", "credits"))

    assert credits.settle(hold, credits=40) is False
    assert credits.release(hold, reason="late failure") is False
    assert list(LedgerEntry.objects.values_list("pk", "kind", "credits")) == before


def test_release_twice_changes_nothing(alice):
    hold = credits.reserve(alice, credits=40, reason="shot")
    assert credits.release(hold, reason="cancelled") is True
    before = list(LedgerEntry.objects.values_list("pk", "kind", "credits"))

    assert credits.release(hold, reason="cancelled again") is False
    assert credits.settle(hold, credits=40) is False
    assert list(LedgerEntry.objects.values_list("pk", "kind", "credits")) == before
    assert credits.month_summary(alice).available == 1000


def test_settle_at_more_than_the_hold_charges_runways_cost(alice):
    hold = credits.reserve(alice, credits=40, reason="shot")
    credits.settle(hold, credits=45)
    assert credits.month_summary(alice).used == 45
    assert not LedgerEntry.objects.filter(kind=Kind.RELEASE).exists()


def test_transfer_hold_moves_the_same_credits_even_when_the_budget_is_spent(alice):
    hold = credits.reserve(alice, credits=1000, reason="whole film")
    new = credits.transfer_hold(hold, take=None, reason="automatic retake")

    assert new is not None
    assert new.credits == 1000
    assert credits.month_summary(alice).available == 0
    assert credits.transfer_hold(hold, take=None, reason="again") is None


def test_a_hold_from_last_month_settles_into_this_month(alice):
    hold = credits.reserve(alice, credits=100, reason="shot")
    last_month = credits.month_start() - dt.timedelta(days=3)
    LedgerEntry.objects.filter(pk=hold.pk).update(created_at=last_month)

    assert credits.month_summary(alice).held == 100
    credits.settle(hold, credits=90)

    now = credits.month_summary(alice)
    assert (now.used, now.held, now.available) == (90, 0, 910)
    assert credits.month_summary(alice, at=last_month).used == 0


def test_grants_and_settlements_of_last_month_do_not_count_now(alice):
    credits.grant(alice, credits=500, reason="bonus")
    hold = credits.reserve(alice, credits=100, reason="shot")
    credits.settle(hold, credits=100)
    last_month = credits.month_start() - dt.timedelta(days=1)
    LedgerEntry.objects.update(created_at=last_month)
    # The history now says last month: bring the running figures in line with it.
    assert credits.recompute_figures(fix=True)
    assert credits.recompute_figures() == []

    summary = credits.month_summary(alice)
    assert (summary.granted, summary.used, summary.available) == (0, 0, 1000)


def test_month_start_is_utc():
    at = dt.datetime(2026, 3, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert credits.month_start(at) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    assert credits.next_month_start(at) == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_reservations_never_spend_past_the_limit(django_user_model):
    user = django_user_model.objects.create_user("racer")
    CreditBudget.objects.create(user=user, monthly_limit=100)
    results: list[str] = []
    start = threading.Barrier(50)

    def reserve_ten() -> None:
        try:
            start.wait()
            credits.reserve(user, credits=10, reason="race")
            results.append("ok")
        except InsufficientCredits:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve_ten) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results.count("ok") == 10
    assert results.count("refused") == 40
    holds = LedgerEntry.objects.filter(user=user, kind=Kind.HOLD)
    assert holds.count() == 10
    assert holds.aggregate(total=Sum("credits"))["total"] == 100
    assert credits.month_summary(user).available == 0
    assert credits.recompute_figures() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_settle_and_release_close_a_hold_once(django_user_model):
    user = django_user_model.objects.create_user("closer")
    CreditBudget.objects.create(user=user, monthly_limit=100)
    hold = credits.reserve(user, credits=60, reason="shot")
    outcomes: list[bool] = []
    start = threading.Barrier(20)

    def close(i: int) -> None:
        try:
            start.wait()
            if i % 2:
                outcomes.append(credits.settle(hold, credits=60))
            else:
                outcomes.append(credits.release(hold, reason="cancel"))
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes.count(True) == 1
    assert LedgerEntry.objects.filter(hold=hold).count() == 1
    summary = credits.month_summary(user)
    assert summary.held == 0
    assert summary.used in (0, 60)
    assert credits.recompute_figures() == []


def column_max(model, field):
    return credits.credits_range(model, field)[1]


def test_the_range_follows_the_database():
    low, high = credits.credits_range(CreditBudget, "monthly_limit")
    assert low == 0
    assert high == (2**31 - 1 if connection.vendor == "postgresql" else 2**63 - 1)


def test_a_grant_beyond_the_ledgers_column_is_refused_and_writes_nothing(alice):
    low, high = credits.credits_range(LedgerEntry, "credits")
    for amount in (high + 1, low - 1, 2**64):
        with pytest.raises(credits.CreditsOutOfRange, match="A grant must be between"):
            credits.grant(alice, credits=amount, reason="typo")
    assert not LedgerEntry.objects.exists()
    assert credits.month_summary(alice).granted == 0


def test_a_grant_that_would_overflow_the_months_total_is_refused_and_writes_nothing(alice):
    credits.grant(alice, credits=10, reason="first")
    near_max = column_max(CreditMonth, "granted") - 5
    CreditMonth.objects.filter(user=alice).update(granted=near_max)
    with pytest.raises(credits.CreditsOutOfRange, match="This month's grants must be between"):
        credits.grant(alice, credits=10, reason="second")
    assert LedgerEntry.objects.filter(kind=Kind.GRANT).count() == 1
    assert credits.month_summary(alice).granted == near_max


def test_a_grant_to_several_users_is_all_or_none(alice, carol):
    credits.grant(carol, credits=10, reason="first")
    near_max = column_max(CreditMonth, "granted") - 5
    CreditMonth.objects.filter(user=carol).update(granted=near_max)
    with pytest.raises(credits.CreditsOutOfRange):
        credits.grant_many([alice, carol], credits=10, reason="bonus")
    assert LedgerEntry.objects.filter(kind=Kind.GRANT).count() == 1  # carol's first grant only
    assert credits.month_summary(alice).granted == 0
    entries = credits.grant_many([carol, alice], credits=-5, reason="correction")
    assert sorted(e.user_id for e in entries) == sorted([alice.pk, carol.pk])
    assert credits.month_summary(alice).granted == -5


def test_limits_beyond_their_columns_are_refused_and_change_nothing(alice, project):
    credits.set_project_limit(project, credits=500)
    with pytest.raises(credits.CreditsOutOfRange, match="A monthly limit must be between 0 and"):
        credits.set_monthly_limit(alice, credits=column_max(CreditBudget, "monthly_limit") + 1)
    with pytest.raises(credits.CreditsOutOfRange, match="A monthly cap must be between 0 and"):
        credits.set_project_limit(project, credits=column_max(ProjectBudget, "monthly_limit") + 1)
    assert credits.month_summary(alice).limit == 1000
    assert credits.project_summary(project).limit == 500
