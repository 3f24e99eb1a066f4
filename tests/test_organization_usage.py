"""The client's usage report: parsing of Runway's JSON, and the request against the simulator."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from generation.runway import OrganizationUsage, RunwayClient, RunwayError, UsedCredits

FIXTURES = Path(__file__).parent / "fixtures" / "runway"
START, BEFORE = dt.date(2026, 3, 1), dt.date(2026, 3, 31)


def parse(data: dict) -> OrganizationUsage:
    return OrganizationUsage.from_json(data, start_date=START, before_date=BEFORE)


def test_it_parses_credits_per_day_and_model_including_refunds():
    usage = parse(json.loads((FIXTURES / "organization_usage.json").read_text()))

    assert usage.used == (
        UsedCredits(day=dt.date(2026, 3, 16), model="gen4.5", credits=120),
        UsedCredits(day=dt.date(2026, 3, 16), model="veo3.1_fast", credits=60),
        UsedCredits(day=dt.date(2026, 3, 17), model="gen4.5", credits=-24),
    )
    assert usage.models == ("gen4.5", "veo3.1_fast")
    assert usage.by_day_and_model() == {
        (dt.date(2026, 3, 16), "gen4.5"): 120,
        (dt.date(2026, 3, 16), "veo3.1_fast"): 60,
        (dt.date(2026, 3, 17), "gen4.5"): -24,
    }


def test_it_ignores_fields_it_does_not_know():
    data = {
        "results": [{"date": "2026-03-16", "usedCredits": [{"model": "gen4.5", "amount": 5, "tasks": 1}]}],
        "models": ["gen4.5"],
        "currency": "credits",
    }

    assert parse(data).by_day_and_model() == {(dt.date(2026, 3, 16), "gen4.5"): 5}


def test_an_empty_report_has_no_usage():
    assert parse({"results": [], "models": []}).by_day_and_model() == {}


def test_it_sums_repeated_day_and_model_entries():
    data = {
        "results": [
            {"date": "2026-03-16", "usedCredits": [{"model": "gen4.5", "amount": 5}]},
            {"date": "2026-03-16", "usedCredits": [{"model": "gen4.5", "amount": 7}]},
        ],
        "models": ["gen4.5"],
    }

    assert parse(data).by_day_and_model() == {(dt.date(2026, 3, 16), "gen4.5"): 12}


@pytest.mark.parametrize(
    "data",
    [
        {"models": []},
        {"results": [{"usedCredits": []}]},
        {"results": [{"date": "16/03/2026", "usedCredits": []}]},
        {"results": [{"date": "2026-03-16", "usedCredits": [{"model": "gen4.5"}]}]},
        {"results": [{"date": "2026-03-16", "usedCredits": [{"amount": 3}]}]},
        {"results": [{"date": "2026-03-16", "usedCredits": [{"model": "gen4.5", "amount": "3"}]}]},
    ],
)
def test_a_report_it_cannot_read_completely_is_an_error(data):
    with pytest.raises(RunwayError):
        parse(data)


def test_it_refuses_a_window_runway_would_refuse():
    client = RunwayClient("http://127.0.0.1:9", "key_" + "0" * 128)

    with pytest.raises(ValueError, match="1 to 90 days"):
        client.organization_usage(start_date=START, before_date=START)
    with pytest.raises(ValueError, match="1 to 90 days"):
        client.organization_usage(start_date=START, before_date=START + dt.timedelta(days=91))


def test_it_reads_the_simulators_report_over_http(runway):
    client = RunwayClient()
    today = dt.datetime.now(dt.UTC).date()
    runway.adjust_usage(today, "gen4.5", 36)
    runway.adjust_usage(today - dt.timedelta(days=1), "veo3.1", 80)

    usage = client.organization_usage(
        start_date=today - dt.timedelta(days=89), before_date=today + dt.timedelta(days=1)
    )

    assert usage.by_day_and_model() == {(today, "gen4.5"): 36, (today - dt.timedelta(days=1), "veo3.1"): 80}
    assert usage.models == ("gen4.5", "veo3.1")
    assert [r["path"] for r in runway.requests_log()][-1] == "/v1/organization/usage"
