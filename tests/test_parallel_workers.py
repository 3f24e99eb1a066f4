"""A parallel test run (pytest-xdist, `make test`) gives each worker its own test database, queue and
cache keys, so that no worker's qcluster runs another's tasks or reads another's counters."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache.backends.redis import RedisCache
from django.db import connection

from tests.helpers import cluster_env, empty_cache

BASE = Path(settings.BASE_DIR)
SHOW = "from django.conf import settings as s; print(s.Q_CLUSTER['name'], repr(s.CACHES['default']['KEY_PREFIX']))"


def _settings_of(**env: str) -> list[str]:
    """The queue name and cache key prefix that a process started with `env` reads."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTEST_XDIST_WORKER", "Q_NAME")}
    environment.update(env, DJANGO_SETTINGS_MODULE="videogen.settings")
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW}"],
        cwd=BASE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_worker_gets_its_own_queue_and_cache_keys():
    assert _settings_of(Q_NAME="vg_ci", PYTEST_XDIST_WORKER="gw1") == ["vg_ci-gw1", "'gw1'"]


def test_a_process_a_worker_starts_keeps_the_workers_queue():
    # cluster_env hands its children the queue name already suffixed, and they inherit the id.
    assert _settings_of(Q_NAME="vg_ci-gw1", PYTEST_XDIST_WORKER="gw1") == ["vg_ci-gw1", "'gw1'"]


def test_outside_a_parallel_run_the_queue_is_q_name():
    assert _settings_of(Q_NAME="vg_ci") == ["vg_ci", "''"]


@pytest.mark.django_db
def test_this_worker_has_its_own_database_and_queue(settings, runway):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        pytest.skip("only in a parallel run (pytest -n)")
    assert connection.settings_dict["NAME"].endswith(f"_{worker}")
    assert settings.Q_CLUSTER["name"].endswith(f"-{worker}")
    env = cluster_env(settings, runway)
    assert env["Q_NAME"] == settings.Q_CLUSTER["name"]
    assert env["DATABASE_URL"].endswith(f"_{worker}")


@pytest.mark.skipif(not settings.CACHE_URL, reason="needs the Redis cache (CACHE_URL)")
def test_emptying_one_workers_cache_leaves_the_others_keys():
    mine = RedisCache(settings.CACHE_URL, {"KEY_PREFIX": "test-gw-mine"})
    theirs = RedisCache(settings.CACHE_URL, {"KEY_PREFIX": "test-gw-theirs"})
    mine.set("throttle:login", 3)
    theirs.set("throttle:login", 4)
    try:
        empty_cache(mine)
        assert mine.get("throttle:login") is None
        assert theirs.get("throttle:login") == 4
    finally:
        theirs.delete("throttle:login")
        mine.delete("throttle:login")
