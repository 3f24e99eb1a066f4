"""The daily reconciliation of the ledger with Runway's usage report, as a django-q2 schedule.

Created once here rather than at every start of a process, so that an admin may retime or pause
it in the admin (Django Q > Scheduled tasks) without a deployment undoing the change.
"""

import datetime as dt

from django.db import migrations

NAME = "reconcile_usage"


def next_half_past_midnight_utc() -> dt.datetime:
    # Half an hour into the UTC day: yesterday is complete, and Runway's report has had time to
    # include its last minutes.
    now = dt.datetime.now(dt.UTC)
    run = now.replace(hour=0, minute=30, second=0, microsecond=0)
    return run if run > now else run + dt.timedelta(days=1)


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "generation.tasks.reconcile_usage_task",
            "schedule_type": "D",
            "repeats": -1,
            "next_run": next_half_past_midnight_utc(),
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0003_money_truth"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
