"""The simulator's usage report (POST /v1/organization/usage) over real HTTP: its own book of
credits per UTC day and model, validation as strict as Runway's, the mismatch control, and the
official SDK reading it."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from runwayml import BadRequestError, RunwayML

from generation.simulator import SimulatorControl
from generation.simulator.validation import DOC_URL

GEN45_2S = {"model": "gen4.5", "promptText": "a harbour at dawn", "ratio": "1280:720", "duration": 2}
GEN45_2S_COST = 24  # 12 credits a second (runway-api.md §10)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def usage(sim: SimulatorControl, body: object = None, **kwargs: object) -> requests.Response:
    if body is not None:
        kwargs["json"] = body
    kwargs.setdefault("headers", sim.api_headers)
    return requests.post(f"{sim.base_url}/v1/organization/usage", timeout=10, **kwargs)


def this_week(sim: SimulatorControl) -> dict:
    start = today() - dt.timedelta(days=6)
    body = {"startDate": start.isoformat(), "beforeDate": (today() + dt.timedelta(days=1)).isoformat()}
    response = usage(sim, body)
    assert response.status_code == 200, response.text
    return response.json()


def create(sim: SimulatorControl, body: dict = GEN45_2S) -> str:
    response = requests.post(
        f"{sim.base_url}/v1/text_to_video", json=body, headers=sim.api_headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["id"]


def delete(sim: SimulatorControl, task_id: str) -> None:
    response = requests.delete(f"{sim.base_url}/v1/tasks/{task_id}", headers=sim.api_headers, timeout=10)
    assert response.status_code == 204


def only_issue(response: requests.Response) -> dict:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Validation of body failed"
    assert body["docUrl"] == DOC_URL
    assert len(body["issues"]) == 1, body["issues"]
    return body["issues"][0]


# --- the book --------------------------------------------------------------------------------


def test_an_account_without_tasks_reports_no_usage(runway):
    assert this_week(runway) == {"results": [], "models": []}


def test_a_task_is_charged_on_the_day_it_is_created(runway):
    task_id = create(runway)
    runway.wait_for_status(task_id, "SUCCEEDED")

    assert this_week(runway) == {
        "results": [{"date": today().isoformat(), "usedCredits": [{"model": "gen4.5", "amount": 24}]}],
        "models": ["gen4.5"],
    }


def test_models_and_days_are_reported_separately_in_date_and_model_order(runway):
    create(runway)
    create(runway, {"model": "veo3.1_fast", "promptText": "a pier", "ratio": "1280:720", "duration": 4})
    runway.adjust_usage(today() - dt.timedelta(days=2), "gen4_turbo", 10)

    report = this_week(runway)

    assert report["results"] == [
        {
            "date": (today() - dt.timedelta(days=2)).isoformat(),
            "usedCredits": [{"model": "gen4_turbo", "amount": 10}],
        },
        {
            "date": today().isoformat(),
            "usedCredits": [{"model": "gen4.5", "amount": 24}, {"model": "veo3.1_fast", "amount": 60}],
        },
    ]
    assert report["models"] == ["gen4.5", "gen4_turbo", "veo3.1_fast"]


def test_a_failed_task_is_refunded_so_the_day_nets_to_zero(runway):
    runway.fail_next("bad_output")
    task_id = create(runway)
    runway.wait_for_status(task_id, "FAILED")

    assert this_week(runway)["results"] == [
        {"date": today().isoformat(), "usedCredits": [{"model": "gen4.5", "amount": 0}]}
    ]


def test_a_cancel_before_running_is_refunded_and_a_cancel_while_running_is_not(runway):
    runway.configure(pending_seconds=60)
    waiting = create(runway)
    delete(runway, waiting)
    assert this_week(runway)["results"][0]["usedCredits"] == [{"model": "gen4.5", "amount": 0}]

    runway.configure(pending_seconds=0, running_seconds=60)
    running = create(runway)
    runway.wait_for_status(running, "RUNNING")
    delete(runway, running)

    assert this_week(runway)["results"][0]["usedCredits"] == [{"model": "gen4.5", "amount": GEN45_2S_COST}]


def test_a_safety_input_failure_stays_booked_as_runway_keeps_its_charge(runway):
    runway.fail_next("moderation")
    task_id = create(runway)
    runway.wait_for_status(task_id, "FAILED")

    assert this_week(runway)["results"] == [
        {"date": today().isoformat(), "usedCredits": [{"model": "gen4.5", "amount": GEN45_2S_COST}]}
    ]


def test_the_book_follows_the_balance(runway):
    before = requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10)
    runway.fail_next("bad_output")
    failed = create(runway)
    kept = create(runway)
    runway.wait_for_status(failed, "FAILED")
    runway.wait_for_status(kept, "SUCCEEDED")
    after = requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10)

    spent = before.json()["creditBalance"] - after.json()["creditBalance"]
    booked = sum(line["amount"] for day in this_week(runway)["results"] for line in day["usedCredits"])
    assert spent == booked == GEN45_2S_COST


def test_a_reset_forgets_the_book(runway):
    create(runway)
    runway.reset()

    assert this_week(runway)["results"] == []


# --- the window ------------------------------------------------------------------------------


def test_without_dates_it_reports_the_thirty_days_before_today(runway):
    create(runway)  # today: after the default window, which ends before today
    for days_ago, model in ((1, "gen4_turbo"), (30, "veo3.1"), (31, "veo3.1_fast")):
        runway.adjust_usage(today() - dt.timedelta(days=days_ago), model, 5)

    for body in (None, {}):
        response = usage(runway, body)
        assert response.status_code == 200, response.text
        assert response.json()["models"] == ["gen4_turbo", "veo3.1"]


def test_before_date_defaults_to_thirty_days_after_start_date(runway):
    start = today() - dt.timedelta(days=60)
    runway.adjust_usage(start + dt.timedelta(days=29), "gen4_turbo", 5)
    runway.adjust_usage(start + dt.timedelta(days=30), "veo3.1", 5)

    response = usage(runway, {"startDate": start.isoformat()})

    assert response.json()["models"] == ["gen4_turbo"]


def test_before_date_is_exclusive_and_start_date_inclusive(runway):
    runway.adjust_usage(dt.date(2026, 3, 1), "gen4_turbo", 1)
    runway.adjust_usage(dt.date(2026, 3, 2), "veo3.1", 1)

    response = usage(runway, {"startDate": "2026-03-01", "beforeDate": "2026-03-02"})

    assert response.json()["models"] == ["gen4_turbo"]


def test_a_window_of_exactly_ninety_days_is_accepted(runway):
    assert usage(runway, {"startDate": "2026-01-01", "beforeDate": "2026-04-01"}).status_code == 200


def test_a_window_longer_than_ninety_days_is_refused(runway):
    issue = only_issue(usage(runway, {"startDate": "2026-01-01", "beforeDate": "2026-04-02"}))

    assert issue["path"] == ["beforeDate"]
    assert "90 days" in issue["message"]


@pytest.mark.parametrize("before", ["2026-03-01", "2026-02-27"])
def test_before_date_must_come_after_start_date(runway, before):
    issue = only_issue(usage(runway, {"startDate": "2026-03-01", "beforeDate": before}))

    assert issue == {
        "code": "custom",
        "path": ["beforeDate"],
        "message": "beforeDate must be after startDate",
    }


def test_only_a_before_date_counts_back_from_the_default_start(runway):
    issue = only_issue(usage(runway, {"beforeDate": (today() - dt.timedelta(days=31)).isoformat()}))

    assert issue["path"] == ["beforeDate"]


@pytest.mark.parametrize(
    "value", ["2026-3-16", "16/03/2026", "2026-03-16T00:00:00Z", "2026-02-30", "yesterday", ""]
)
def test_dates_must_be_iso_calendar_dates(runway, value):
    issue = only_issue(usage(runway, {"startDate": value}))

    assert issue["code"] == "invalid_format"
    assert issue["format"] == "date"
    assert issue["path"] == ["startDate"]


@pytest.mark.parametrize("value", [20260316, None, ["2026-03-16"]])
def test_dates_must_be_strings(runway, value):
    issue = only_issue(usage(runway, {"beforeDate": value}))

    assert issue["code"] == "invalid_type"
    assert issue["expected"] == "string"
    assert issue["path"] == ["beforeDate"]


def test_unknown_fields_are_refused(runway):
    issue = only_issue(usage(runway, {"startDate": "2026-03-01", "apiKeyId": "k"}))

    assert issue["code"] == "unrecognized_keys"
    assert issue["keys"] == ["apiKeyId"]


def test_every_problem_is_reported_at_once(runway):
    response = usage(runway, {"startDate": "March", "beforeDate": 7, "x": 1})

    assert response.status_code == 400
    assert sorted(tuple(i["path"]) for i in response.json()["issues"]) == [
        (),
        ("beforeDate",),
        ("startDate",),
    ]


def test_a_body_that_is_not_an_object_is_refused(runway):
    response = usage(runway, ["2026-03-01"])

    assert response.status_code == 400
    assert response.json()["issues"][0]["code"] == "invalid_type"


def test_a_body_that_is_not_json_is_refused(runway):
    response = usage(
        runway, data=b"{not json", headers={**runway.api_headers, "Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_it_requires_the_api_key_and_answers_405_to_get(runway):
    anonymous = requests.post(f"{runway.base_url}/v1/organization/usage", json={}, timeout=10)
    read = requests.get(f"{runway.base_url}/v1/organization/usage", headers=runway.api_headers, timeout=10)

    assert anonymous.status_code == 401
    assert read.status_code == 405


# --- the mismatch control --------------------------------------------------------------------


def test_an_adjustment_adds_to_the_day_and_leaves_the_balance_alone(runway):
    create(runway)
    balance = requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10)

    assert runway.adjust_usage(today(), "gen4.5", -4) == {
        "date": today().isoformat(),
        "model": "gen4.5",
        "amount": 20,
    }
    assert this_week(runway)["results"][0]["usedCredits"] == [{"model": "gen4.5", "amount": 20}]
    again = requests.get(f"{runway.base_url}/v1/organization", headers=runway.api_headers, timeout=10)
    assert again.json()["creditBalance"] == balance.json()["creditBalance"]


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gen4.5", "amount": 3},
        {"date": "soon", "model": "gen4.5", "amount": 3},
        {"date": "2026-03-01", "amount": 3},
        {"date": "2026-03-01", "model": "gen4.5", "amount": "3"},
        {"date": "2026-03-01", "model": "gen4.5", "amount": 2.5},
    ],
)
def test_an_adjustment_it_cannot_read_is_refused(runway, body):
    response = requests.post(
        f"{runway.base_url}/_simulator/usage_adjust", json=body, headers=runway.control_headers, timeout=10
    )

    assert response.status_code == 400


def test_an_adjustment_needs_the_control_token(runway):
    body = {"date": "2026-03-01", "model": "gen4.5", "amount": 3}
    response = requests.post(f"{runway.base_url}/_simulator/usage_adjust", json=body, timeout=10)

    assert response.status_code == 401


# --- the official SDK ------------------------------------------------------------------------


def test_the_official_sdk_reads_the_report(runway):
    task_id = create(runway)
    runway.wait_for_status(task_id, "SUCCEEDED")
    runway.adjust_usage(today() - dt.timedelta(days=1), "veo3.1", -40)
    client = RunwayML(api_key=runway.api_key, base_url=runway.base_url, max_retries=0)

    report = client.organization.retrieve_usage(
        start_date=today() - dt.timedelta(days=6), before_date=today() + dt.timedelta(days=1)
    )

    assert [(r.date, [(u.model, u.amount) for u in r.used_credits]) for r in report.results] == [
        (today() - dt.timedelta(days=1), [("veo3.1", -40)]),
        (today(), [("gen4.5", GEN45_2S_COST)]),
    ]
    assert report.models == ["gen4.5", "veo3.1"]


def test_the_official_sdk_sends_defaults_and_gets_runways_error_for_a_long_window(runway):
    client = RunwayML(api_key=runway.api_key, base_url=runway.base_url, max_retries=0)

    assert client.organization.retrieve_usage().results == []
    with pytest.raises(BadRequestError) as raised:
        client.organization.retrieve_usage(start_date="2026-01-01", before_date="2026-06-01")
    assert raised.value.body["issues"][0]["path"] == ["beforeDate"]
