"""pytest fixtures for the Runway simulator (load with `pytest_plugins = ["generation.simulator.testing"]`).

- `runway_simulator` (session): one simulator for the whole run, on a free loopback port, with fast
  timings, clips at a quarter of their real size and output URLs that expire after two minutes.
  It yields a `SimulatorControl` (base_url, api_key, control_token, fail_next, tasks, reset, configure, cancel,
  wait_for_status, set_tier, set_price, advance_clock, advance_day). It is not reset between tests:
  use `runway` for that.
- `runway` (function): resets the simulator (tasks, uploads, faults, balance, tier, limits, prices,
  clock, timings) and points Django settings at it (RUNWAY_API_BASE, RUNWAY_API_KEY); yields the
  same control object. Its organisation is untiered (2 at a time and 200 a day per kind of model,
  100,000 credits) unless the test asks: `runway.set_tier(1)` gives Runway's Tier 1 (one video at a
  time, 50 a day), `runway.advance_day()` then crosses the daily reset.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from .config import SimulatorConfig
from .control import SimulatorControl
from .server import SimulatorServer

TEST_TIMINGS = {"pending_seconds": 0.1, "running_seconds": 0.4}


@pytest.fixture(scope="session")
def runway_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimulatorControl]:
    api_key = "key_" + secrets.token_hex(64)
    config = SimulatorConfig(
        api_key=api_key,
        tier=None,
        credit_balance=100_000,
        control_token=secrets.token_urlsafe(32),
        render_scale=0.25,
        url_ttl=120,
        output_dir=tmp_path_factory.mktemp("runway-simulator"),
        **TEST_TIMINGS,
    )
    server = SimulatorServer(config)
    base_url = server.start()
    try:
        yield SimulatorControl(base_url, api_key, control_token=config.control_token)
    finally:
        server.stop()


@pytest.fixture
def runway(runway_simulator: SimulatorControl, settings) -> SimulatorControl:  # noqa: ANN001
    runway_simulator.reset()
    settings.RUNWAY_API_BASE = runway_simulator.base_url
    settings.RUNWAY_API_KEY = runway_simulator.api_key
    return runway_simulator
