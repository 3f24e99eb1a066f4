"""The month's end at the current pace, on the meters and in the alert mails, with fixed dates; and
alert levels from settings, each mailed once a month."""

import datetime as dt

import pytest
from django.urls import reverse

from generation import credits
from generation.models import CreditMonth
from projects import usage

pytestmark = pytest.mark.django_db

MARCH_10 = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)  # 9 days of March gone


def test_at_this_pace_the_cap_runs_out_on_the_19th():
    result = usage.forecast(spent=500, total=1000, now=MARCH_10)

    assert result.runs_out_on == dt.date(2026, 3, 19)  # 1000 credits at 500 per 9 days: day 18
    assert result.projected == round(500 / 9 * 31)
    assert result.month_end == dt.date(2026, 3, 31)
    assert usage.forecast_words(result, is_project=True) == (
        "At this pace the project's cap runs out on the 19th."
    )


def test_a_slow_month_says_where_it_ends():
    result = usage.forecast(spent=100, total=1000, now=dt.datetime(2026, 3, 16, tzinfo=dt.UTC))

    assert result.runs_out_on is None
    assert usage.forecast_words(result, is_project=False) == (
        "At this pace the month ends at about 207 of 1000 credits."
    )


def test_a_spent_total_has_run_out_and_nothing_spent_has_no_forecast():
    assert usage.forecast(spent=1000, total=1000, now=MARCH_10).runs_out_on == dt.date(2026, 3, 10)
    assert usage.forecast_words(usage.forecast(spent=1200, total=1000, now=MARCH_10), is_project=False) == (
        "Your credits have run out this month."
    )
    assert usage.forecast(spent=0, total=1000, now=MARCH_10) is None
    assert usage.forecast(spent=10, total=None, now=MARCH_10) is None


def test_a_thirty_day_month_counts_its_own_length():
    result = usage.forecast(spent=300, total=1000, now=dt.datetime(2026, 4, 11, tzinfo=dt.UTC))

    assert result.projected == 900
    assert result.runs_out_on is None
    assert result.month_end == dt.date(2026, 4, 30)


def test_the_project_meter_carries_the_forecast(alice, project):
    credits.set_project_limit(project, credits=1000)
    credits.reserve(alice, credits=500, reason="clip", project=project)  # held counts as spent

    meter = usage.project_meter(project, now=MARCH_10)

    assert meter["forecast"] == "At this pace the project's cap runs out on the 19th."


def test_the_users_meter_carries_the_forecast(alice):
    credits.reserve(alice, credits=500, reason="clip")

    meter = usage.month_meter(alice, now=MARCH_10)

    assert meter["forecast"] == "At this pace your credits run out on the 19th."


def test_the_project_page_shows_the_forecast_line(client, alice, project):
    credits.set_project_limit(project, credits=1000)
    credits.reserve(alice, credits=500, reason="clip", project=project)
    client.force_login(alice)

    text = client.get(reverse("project_detail", args=[project.pk])).content.decode()

    assert text.count('class="small meter-forecast"') == 2  # the user's meter and the cap's
    assert "At this pace" in text


# --- alerts -------------------------------------------------------------------------------------


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_alert_levels_come_from_the_settings_and_each_is_mailed_once(
    settings, alice, mailoutbox, run_on_commit
):
    settings.CREDIT_ALERT_LEVELS = [50, 90]
    with run_on_commit():
        credits.reserve(alice, credits=400, reason="clip")  # 40 %: no level
    assert mailoutbox == []
    with run_on_commit():
        credits.reserve(alice, credits=150, reason="clip")  # 55 %
    with run_on_commit():
        credits.reserve(alice, credits=100, reason="clip")  # 65 %: 50 already sent
    assert [m.subject for m in mailoutbox] == ["You have used 50% of your credits for " + _month()]
    assert "At this pace" in mailoutbox[0].body
    with run_on_commit():
        credits.reserve(alice, credits=300, reason="clip")  # 95 %
    assert [m.subject for m in mailoutbox][1:] == ["You have used 90% of your credits for " + _month()]
    assert CreditMonth.objects.get(user=alice).alerted_percent == 90


def test_the_default_levels_are_80_and_100(alice, mailoutbox, run_on_commit):
    with run_on_commit():
        credits.reserve(alice, credits=600, reason="clip")
    assert mailoutbox == []
    with run_on_commit():
        credits.reserve(alice, credits=200, reason="clip")
    assert [m.subject for m in mailoutbox] == ["You have used 80% of your credits for " + _month()]


def test_a_project_alert_mail_forecasts_the_cap(alice, project, mailoutbox, run_on_commit):
    credits.set_project_limit(project, credits=100)
    with run_on_commit():
        credits.reserve(alice, credits=85, reason="clip", project=project)

    (mail,) = [m for m in mailoutbox if "Harbour House" in m.subject]
    line = usage.forecast_words(usage.forecast_of(credits.project_summary(project)), is_project=True)
    assert line.startswith("At this pace")
    assert line in mail.body  # the meter's own line


def _month() -> str:
    return f"{credits.month_start():%B %Y}"
