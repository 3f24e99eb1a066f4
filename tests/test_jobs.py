"""The command line's job runner (generation/jobs.py): which Runway a job uses, and that its choice
stays inside the job."""

import threading

import pytest

from generation import jobs
from generation import runway as runway_api

pytestmark = pytest.mark.django_db


def test_a_job_without_a_studio_simulator_uses_its_own_and_changes_no_setting(settings):
    settings.RUNWAY_SIMULATED = True
    settings.RUNWAY_API_BASE = "http://127.0.0.1:9"  # nothing answers there
    settings.PIPELINE_INLINE = False
    studio = runway_api.client_from_settings().origin
    elsewhere = []

    with jobs.runway_for_job():
        own = runway_api.client_from_settings(max_retries=0)
        assert own.organization()  # its own simulator answers
        thread = threading.Thread(target=lambda: elsewhere.append(runway_api.client_from_settings().origin))
        thread.start()
        thread.join()
        assert settings.RUNWAY_API_BASE == "http://127.0.0.1:9"
        assert settings.PIPELINE_INLINE is False

    assert own.origin != studio
    assert elsewhere == [studio]  # another thread kept the settings' Runway
    assert runway_api.client_from_settings().origin == studio


def test_a_job_uses_the_studios_simulator_when_it_answers(settings, runway):
    settings.RUNWAY_SIMULATED = True
    studio = runway_api.client_from_settings().origin

    with jobs.runway_for_job():
        during = runway_api.client_from_settings().origin

    assert during == studio == runway_api.origin_of(runway.base_url, runway.api_key)
