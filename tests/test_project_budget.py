"""Project caps beside user budgets: refusals, soft alerts, and races against the real database."""

import datetime as dt
import html
import threading

import pytest
from django.db import connection, transaction
from django.db.models import Sum
from django.urls import reverse

from generation import alerts, credits
from generation.credits import InsufficientCredits, ProjectCapReached
from generation.models import CreditBudget, CreditMonth, LedgerEntry, Take
from projects.models import Membership, Project, Sequence, Shot

Kind = LedgerEntry.Kind
pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit alert checks of the calls inside the block (tests run in a transaction)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- the cap -----------------------------------------------------------------------------------


def test_a_hold_must_fit_the_projects_cap_and_writes_nothing_when_short(alice, project):
    credits.set_project_limit(project, credits=100)
    credits.reserve(alice, credits=70, reason="shot 1", project=project)

    with pytest.raises(ProjectCapReached) as excinfo:
        credits.reserve(alice, credits=40, reason="shot 2", project=project)

    assert str(excinfo.value) == (
        "This needs 40 credits but the project 'Harbour House' has only 30 left of its monthly cap. "
        "Shorten or remove shots, choose a cheaper model, or ask the project's owner or an admin to "
        "raise the cap."
    )
    assert isinstance(excinfo.value, InsufficientCredits)
    assert LedgerEntry.objects.count() == 1
    assert credits.project_summary(project).available == 30
    # Spending outside the project is not limited by its cap.
    credits.reserve(alice, credits=40, reason="other work")


def test_settled_credits_count_against_the_cap_and_released_ones_do_not(alice, project):
    credits.set_project_limit(project, credits=100)
    credits.settle(credits.reserve(alice, credits=50, reason="a", project=project), credits=45)
    credits.release(credits.reserve(alice, credits=50, reason="b", project=project), reason="failed")

    summary = credits.project_summary(project)
    assert (summary.limit, summary.used, summary.held, summary.available) == (100, 45, 0, 55)


def test_removing_the_cap_lets_the_user_budget_decide(alice, project):
    credits.set_project_limit(project, credits=10)
    credits.set_project_limit(project, credits=None)
    credits.reserve(alice, credits=900, reason="big", project=project)
    with pytest.raises(InsufficientCredits) as excinfo:
        credits.reserve(alice, credits=200, reason="too big", project=project)
    assert not isinstance(excinfo.value, ProjectCapReached)


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(project=project, title="Tour", model="gen4.5", created_by=alice)
    Shot.objects.create(sequence=sequence, position=0, prompt="Hall", duration=5, first_frame="none")
    Shot.objects.create(sequence=sequence, position=1, prompt="Stairs", duration=10, first_frame="none")
    return sequence


def test_a_start_refused_by_the_cap_shows_why(client, alice, project, sequence):
    credits.set_project_limit(project, credits=100)
    client.force_login(alice)

    response = client.post(reverse("start_sequence", args=[sequence.pk]), {"credits": "180"}, follow=True)

    assert (
        "This needs 180 credits but the project 'Harbour House' has only 100 left of its monthly cap"
        in html.unescape(response.text)
    )
    sequence.refresh_from_db()
    assert sequence.status == "draft"
    assert not LedgerEntry.objects.exists()


def test_a_retake_refused_by_the_cap_shows_why(client, alice, project, sequence):
    sequence.status, sequence.is_stitched = "done", False
    sequence.save(update_fields=["status", "is_stitched"])
    shot = sequence.shots.get(position=0)
    credits.set_project_limit(project, credits=50)
    client.force_login(alice)

    response = client.post(
        reverse("retake_shot", args=[shot.pk]), {"confirm": "yes", "credits": "60"}, follow=True
    )

    assert (
        "This needs 60 credits but the project 'Harbour House' has only 50 left of its monthly cap"
        in html.unescape(response.text)
    )
    assert not Take.objects.exists()
    assert not LedgerEntry.objects.exists()


# --- soft alerts -------------------------------------------------------------------------------


def test_the_user_is_mailed_once_at_80_and_once_at_100_percent(alice, mailoutbox, run_on_commit):
    with run_on_commit():
        credits.reserve(alice, credits=700, reason="a")
    assert mailoutbox == []

    with run_on_commit():
        hold = credits.reserve(alice, credits=100, reason="b")
    assert [m.subject for m in mailoutbox] == [
        f"You have used 80% of your credits for {credits.month_start():%B %Y}"
    ]
    assert mailoutbox[0].to == ["alice@example.com"]
    assert "used or reserved 800 of your 1000 credits" in mailoutbox[0].body

    with run_on_commit():
        credits.settle(hold, credits=100)
        credits.reserve(alice, credits=150, reason="c")
    assert len(mailoutbox) == 1

    with run_on_commit():
        credits.reserve(alice, credits=50, reason="d")
    assert len(mailoutbox) == 2
    assert mailoutbox[1].subject.startswith("You have used 100% of your credits")
    assert CreditMonth.objects.get(user=alice).alerted_percent == 100


def test_a_settlement_above_the_hold_can_cross_a_level(alice, mailoutbox, run_on_commit):
    with run_on_commit():
        hold = credits.reserve(alice, credits=700, reason="a")
        credits.settle(hold, credits=850)
    assert [m.subject[:30] for m in mailoutbox] == ["You have used 80% of your cred"]


def test_jumping_past_both_levels_sends_only_the_100_percent_alert(alice, mailoutbox, run_on_commit):
    with run_on_commit():
        credits.reserve(alice, credits=1000, reason="all of it")
    assert len(mailoutbox) == 1
    assert "100%" in mailoutbox[0].subject


def test_grants_raise_the_total_the_levels_are_measured_against(alice, mailoutbox, run_on_commit):
    credits.grant(alice, credits=1000, reason="campaign")
    with run_on_commit():
        credits.reserve(alice, credits=1500, reason="a")
    assert mailoutbox == []


def test_a_new_month_starts_with_no_alert_sent(alice, mailoutbox, run_on_commit):
    last_month = credits.month_start() - dt.timedelta(days=1)
    CreditMonth.objects.create(user=alice, month=credits.month_start(last_month).date(), alerted_percent=100)
    with run_on_commit():
        credits.reserve(alice, credits=900, reason="a")
    assert len(mailoutbox) == 1


def test_the_projects_owners_are_mailed_at_the_projects_levels(
    alice, bob, django_user_model, project, mailoutbox, run_on_commit
):
    second_owner = django_user_model.objects.create_user("dora", "dora@example.com", "dora-password")
    Membership.objects.create(project=project, user=second_owner, role=Membership.Role.OWNER)
    credits.set_project_limit(project, credits=200)

    with run_on_commit():
        credits.reserve(alice, credits=170, reason="a", project=project)

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.subject == (
        f"Project 'Harbour House' has used 80% of its credit cap for {credits.month_start():%B %Y}"
    )
    assert sorted(mail.to) == ["alice@example.com", "dora@example.com"]  # not bob, a viewer
    assert "used or reserved 170 of its monthly cap of 200 credits" in mail.body

    with run_on_commit():
        credits.reserve(alice, credits=30, reason="b", project=project)
    assert [m.subject.split(" has used ")[1][:4] for m in mailoutbox] == ["80% ", "100%"]


def test_projects_without_a_cap_send_no_alerts(alice, project, mailoutbox, run_on_commit):
    credits.set_monthly_limit(alice, credits=100_000)
    with run_on_commit():
        credits.reserve(alice, credits=5000, reason="a", project=project)
    assert mailoutbox == []


def test_no_alert_for_a_hold_that_was_rolled_back(alice, mailoutbox, run_on_commit):
    def fails_after_holding() -> None:
        with transaction.atomic():
            credits.reserve(alice, credits=900, reason="a")
            raise RuntimeError("the caller's transaction failed")

    with run_on_commit(), pytest.raises(RuntimeError):
        fails_after_holding()
    assert mailoutbox == []
    assert not CreditMonth.objects.filter(alerted_percent__gt=0).exists()


def test_an_alert_already_claimed_is_not_sent_again(alice, mailoutbox):
    credits.reserve(alice, credits=850, reason="a")
    alerts.check(user_id=alice.pk)
    alerts.check(user_id=alice.pk)
    assert len(mailoutbox) == 1


def test_a_failing_mail_server_never_fails_the_spend(alice, settings, caplog, run_on_commit):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2

    with run_on_commit():
        hold = credits.reserve(alice, credits=900, reason="a")

    assert hold.pk
    assert credits.month_summary(alice).held == 900
    assert "Could not send the credit alert" in caplog.text


# --- races, for real against the database ------------------------------------------------------


def _race(attempts: list[tuple[object, Project]], *, credits_each: int, settle_at: int | None = None):
    """Every attempt reserves at once from its own thread (and settles when `settle_at` is set)."""
    results: list[tuple[str, str]] = []
    start = threading.Barrier(len(attempts))

    def attempt(user, project) -> None:
        try:
            start.wait()
            hold = credits.reserve(user, credits=credits_each, reason="race", project=project)
            if settle_at is not None:
                credits.settle(hold, credits=settle_at)
            results.append((user.username, "ok"))
        except ProjectCapReached:
            results.append((user.username, "project"))
        except InsufficientCredits:
            results.append((user.username, "user"))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _racers(django_user_model, project, *, count: int, limit: int) -> list:
    users = []
    for n in range(count):
        user = django_user_model.objects.create_user(f"racer{n}", f"racer{n}@example.com")
        CreditBudget.objects.create(user=user, monthly_limit=limit)
        Membership.objects.create(project=project, user=user, role=Membership.Role.EDITOR)
        users.append(user)
    return users


@pytest.mark.django_db(transaction=True)
def test_when_the_project_cap_binds_exactly_the_cap_is_held(django_user_model, project, mailoutbox):
    credits.set_project_limit(project, credits=150)
    users = _racers(django_user_model, project, count=6, limit=30)  # room for 18 holds of 10

    results = _race([(u, project) for u in users for _ in range(8)], credits_each=10)

    assert len(results) == 48
    assert sum(1 for _, r in results if r == "ok") == 15
    assert sum(1 for _, r in results if r == "project") >= 1
    for user in users:
        held = LedgerEntry.objects.filter(user=user, kind=Kind.HOLD).aggregate(s=Sum("credits"))["s"] or 0
        assert held <= 30
        assert held == 10 * sum(1 for name, r in results if name == user.username and r == "ok")
        assert credits.month_summary(user).available >= 0
    assert credits.project_summary(project).held == 150
    assert credits.project_summary(project).available == 0
    assert credits.recompute_figures() == []
    # The project reached 100 %: its owner heard of it exactly once.
    project_alerts = [m for m in mailoutbox if m.subject.startswith("Project ") and "100%" in m.subject]
    assert len(project_alerts) == 1


@pytest.mark.django_db(transaction=True)
def test_when_user_budgets_bind_each_user_gets_exactly_their_limit(django_user_model, project, mailoutbox):
    credits.set_project_limit(project, credits=150)
    users = _racers(django_user_model, project, count=4, limit=30)  # 12 holds of 10 fit the cap

    results = _race([(u, project) for u in users for _ in range(10)], credits_each=10)

    assert sum(1 for _, r in results if r == "ok") == 12
    assert sum(1 for _, r in results if r == "user") == 28
    for user in users:
        assert credits.month_summary(user).held == 30
        assert credits.month_summary(user).available == 0
    assert credits.project_summary(project).held == 120
    assert credits.recompute_figures() == []
    # Each user went from 20 to 30 of 30 credits: one 100 % alert each, never two.
    user_alerts = sorted(m.to[0] for m in mailoutbox if m.subject.startswith("You have used"))
    assert user_alerts == sorted(u.email for u in users)
    assert all("100%" in m.subject for m in mailoutbox if m.subject.startswith("You have used"))


@pytest.mark.django_db(transaction=True)
def test_reserving_and_settling_at_once_never_passes_either_budget(django_user_model, project):
    credits.set_project_limit(project, credits=200)
    users = _racers(django_user_model, project, count=5, limit=50)

    results = _race([(u, project) for u in users for _ in range(10)], credits_each=10, settle_at=8)

    ok = sum(1 for _, r in results if r == "ok")
    project_figures = credits.project_summary(project)
    assert project_figures.held == 0
    assert project_figures.used == 8 * ok
    assert project_figures.used <= 200
    for user in users:
        summary = credits.month_summary(user)
        mine = sum(1 for name, r in results if name == user.username and r == "ok")
        assert (summary.used, summary.held) == (8 * mine, 0)
        assert summary.used <= 50
    # Settling below the hold frees credits, so more than 20 holds of 10 may fit the cap of 200 and
    # more than 5 the budget of 50: the exact count depends on the order, the limits do not.
    assert ok >= 20
    assert credits.recompute_figures() == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_alert_checks_send_each_alert_once(alice, project, mailoutbox):
    credits.set_monthly_limit(alice, credits=100)
    credits.set_project_limit(project, credits=100)
    credits.reserve(alice, credits=100, reason="all", project=project)
    # As if twenty processes had committed a spend at once and none had sent anything yet.
    CreditMonth.objects.update(alerted_percent=0)
    mailoutbox.clear()
    start = threading.Barrier(20)

    def check() -> None:
        try:
            start.wait()
            alerts.check(user_id=alice.pk, project_ids=[project.pk])
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(mailoutbox) == 2
    assert {m.to[0] for m in mailoutbox} == {"alice@example.com"}
    assert [m.subject.startswith("Project ") for m in mailoutbox].count(True) == 1
    assert all("100%" in m.subject for m in mailoutbox)
