"""Production settings: refuse to start without a secret key or allowed hosts; secure when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE = Path(settings.BASE_DIR)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG")}
    environment.update(env, DJANGO_SETTINGS_MODULE="videogen.settings")
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=BASE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_without_debug_a_missing_secret_key_is_an_error():
    result = _run("pass", DEBUG="False", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_without_debug_missing_allowed_hosts_is_an_error():
    result = _run("pass", DEBUG="False", SECRET_KEY="x" * 50)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_without_debug_cookies_are_secure_and_headers_set():
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS > 0, s.SECURE_CONTENT_TYPE_NOSNIFF, s.X_FRAME_OPTIONS)"
    )
    result = _run(code, DEBUG="False", SECRET_KEY="x" * 60, ALLOWED_HOSTS="studio.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "DENY"]


def test_the_deploy_checklist_passes_without_debug():
    environment = {
        **os.environ,
        "DEBUG": "False",
        "SECRET_KEY": "a-long-random-production-secret-key-with-enough-characters-0123456789",
        "ALLOWED_HOSTS": "studio.example.com",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": "True",
        "SECURE_HSTS_PRELOAD": "True",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db
def test_pages_send_security_headers(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_without_debug_hsts_lasts_a_year_by_default_and_spares_subdomains():
    """Fails before issue 17: one hour, so a browser forgot it between visits."""
    code = "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    result = _run(code, DEBUG="False", SECRET_KEY="x" * 60, ALLOWED_HOSTS="studio.example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(365 * 24 * 3600), "False"]


def test_hsts_is_set_by_the_environment():
    code = "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS)"
    result = _run(
        code,
        DEBUG="False",
        SECRET_KEY="x" * 60,
        ALLOWED_HOSTS="studio.example.com",
        SECURE_HSTS_SECONDS="600",
        SECURE_HSTS_INCLUDE_SUBDOMAINS="True",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", "True"]
