import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from generation import credits
from generation.models import CreditBudget, CreditMonth, ProjectBudget

pytestmark = pytest.mark.django_db


def _spend(alice, project) -> None:
    credits.grant(alice, credits=200, reason="launch week")
    credits.set_project_limit(project, credits=500)
    settled = credits.reserve(alice, credits=100, reason="shot 1", project=project)
    credits.settle(settled, credits=80)
    credits.reserve(alice, credits=50, reason="shot 2", project=project)
    released = credits.reserve(alice, credits=30, reason="shot 3")
    credits.release(released, reason="task failed")


def test_it_reports_a_clean_ledger(alice, project, capsys):
    _spend(alice, project)

    call_command("check_ledger")

    assert capsys.readouterr().out == "The running figures match the ledger (7 entries).\n"


def test_it_reports_each_tampered_figure_and_fails(alice, project, capsys):
    _spend(alice, project)
    CreditBudget.objects.filter(user=alice).update(held=7)
    CreditMonth.objects.filter(project=project).update(used=1)

    with pytest.raises(CommandError, match="2 running figure"):
        call_command("check_ledger")

    out = capsys.readouterr().out
    assert f"user {alice.pk} held: recorded 7, ledger says 50" in out
    assert f"project {project.pk} {credits.month_start():%Y-%m} used: recorded 1, ledger says 80" in out
    assert CreditBudget.objects.get(user=alice).held == 7


def test_fix_rewrites_the_figures_from_the_ledger(alice, project, capsys):
    _spend(alice, project)
    CreditBudget.objects.filter(user=alice).update(held=7)
    ProjectBudget.objects.filter(project=project).update(held=0)
    CreditMonth.objects.filter(user=alice).delete()

    call_command("check_ledger", "--fix")

    assert "Rewrote 4 figure(s) from the ledger." in capsys.readouterr().out
    summary = credits.month_summary(alice)
    assert (summary.granted, summary.used, summary.held) == (200, 80, 50)
    assert credits.project_summary(project).held == 50
    call_command("check_ledger")
    assert "match the ledger" in capsys.readouterr().out


def test_fix_on_a_clean_ledger_changes_nothing(alice, project, capsys):
    _spend(alice, project)
    before = list(CreditMonth.objects.order_by("pk").values())

    call_command("check_ledger", "--fix")

    assert "match the ledger" in capsys.readouterr().out
    assert list(CreditMonth.objects.order_by("pk").values()) == before


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_for_ci(alice, project):
    _spend(alice, project)
    CreditBudget.objects.filter(user=alice).update(held=7)
    env_db = settings.DATABASES["default"]
    if env_db["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the subprocess reads the test database through a SQLite file name")
    done = subprocess.run(
        [sys.executable, "manage.py", "check_ledger"],
        env={"DATABASE_URL": f"sqlite:///{env_db['NAME']}", "PATH": "/usr/bin:/bin"},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"user {alice.pk} held: recorded 7, ledger says 50" in done.stdout
