"""The daily schedule and its task: generation.tasks.reconcile_usage_task."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django_q.models import Schedule

from generation import tasks
from generation.models import UsageReconciliation

pytestmark = pytest.mark.django_db

migration = importlib.import_module("generation.migrations.0004_reconcile_schedule")


def test_the_migration_schedules_the_task_daily_once(settings):
    Schedule.objects.filter(name="reconcile_usage").delete()

    migration.create_schedule(apps, None)
    migration.create_schedule(apps, None)

    schedule = Schedule.objects.get(name="reconcile_usage")
    assert schedule.func == "generation.tasks.reconcile_usage_task"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.repeats == -1
    run = schedule.next_run.astimezone(dt.UTC)
    assert (run.hour, run.minute) == (0, 30)
    assert dt.timedelta(0) < run - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)


def test_the_task_reconciles_and_returns_the_summary(runway, settings):
    settings.RECONCILE_DAYS = 2
    today = dt.datetime.now(dt.UTC).date()
    runway.adjust_usage(today, "gen4.5", 12)

    assert tasks.reconcile_usage_task() == f"1 day/model pairs differ: {today} gen4.5 (+12)."
    assert tasks.reconcile_usage_task(days=1) == f"1 day/model pairs differ: {today} gen4.5 (+12)."
    assert UsageReconciliation.objects.get().runway_credits == 12
