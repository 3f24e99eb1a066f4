"""videogen.log_filters: share-link tokens never reach a log whole, and a 403 is one line.

A share link's token is the whole secret of the link: anyone who reads it in a log can watch the
film, comment and approve. Django names the path in its warnings (Not Found, Forbidden, Gone, CSRF
failures) and gunicorn in its access log (path, Referer, Location), so both are redacted.
"""

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from gunicorn.config import Config

from projects.models import FilmVersion, Membership, Sequence, ShareLink
from tests.helpers import _database_url, wait_for
from videogen.log_filters import GunicornLogger, redact_share_tokens

pytestmark = pytest.mark.django_db
GUESS = "Zq9x" + "k" * 39  # a token of the real shape that no link has


@pytest.fixture
def sequence(project, alice):
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, duration=12.0, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"film" * 100), save=False)
    version.save()
    Sequence.objects.filter(pk=sequence.pk).update(film=version.film.name)
    return sequence


def issue(sequence, alice, *, can_review: bool = True) -> str:
    link, token = ShareLink.issue(sequence, created_by=alice)
    ShareLink.objects.filter(pk=link.pk).update(can_comment=can_review, can_approve=can_review)
    return token


def logged(caplog) -> str:
    """Every record as the console shows it: the message and any traceback."""
    return "\n".join(logging.Formatter().format(record) for record in caplog.records)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Not Found: /s/{GUESS}/", "Not Found: /s/Zq9x.../"),
        (f'"GET /s/{GUESS}/film/?inline=1 HTTP/1.1" 206', '"GET /s/Zq9x.../film/?inline=1 HTTP/1.1" 206'),
        (f"https://studio.example.com/s/{GUESS}/#review", "https://studio.example.com/s/Zq9x.../#review"),
        (f"/s/{GUESS}", "/s/Zq9x..."),
        ("/s/abc/", "/s/abc/"),
        ("/sequences/12/share/", "/sequences/12/share/"),
        ("/static/css/site.css", "/static/css/site.css"),
    ],
)
def test_redact_share_tokens(text, expected):
    assert redact_share_tokens(text) == expected


def test_an_unknown_tokens_not_found_warning_shows_four_characters(client, caplog):
    """Fails before issue 17: "Not Found: /s/<token>/" was logged whole."""
    with caplog.at_level(logging.WARNING):
        assert client.get(f"/s/{GUESS}/film/").status_code == 404
    text = logged(caplog)
    assert "Not Found: /s/Zq9x.../film/" in text
    assert GUESS not in text


def test_a_refused_review_post_is_logged_without_the_token(client, sequence, alice, caplog):
    token = issue(sequence, alice, can_review=False)
    with caplog.at_level(logging.WARNING):
        assert client.post(reverse("set_review_name", args=[token]), {"name": "Dana"}).status_code == 403
    text = logged(caplog)
    assert f"Forbidden: /s/{token[:4]}.../name/" in text
    assert token not in text


def test_a_revoked_links_gone_warning_is_logged_without_the_token(client, sequence, alice, caplog):
    token = issue(sequence, alice)
    ShareLink.find(token).revoke()
    with caplog.at_level(logging.WARNING):
        assert client.get(reverse("shared_film", args=[token])).status_code == 410
    assert "Gone: /s/" in logged(caplog)
    assert token not in logged(caplog)


def test_a_csrf_failure_on_a_share_page_is_logged_without_the_token(sequence, alice, caplog):
    token = issue(sequence, alice)
    client = Client(enforce_csrf_checks=True)
    with caplog.at_level(logging.WARNING):
        assert client.post(reverse("set_review_name", args=[token]), {"name": "Dana"}).status_code == 403
    text = logged(caplog)
    assert "Forbidden (CSRF cookie not set.)" in text
    assert token not in text


def test_a_permission_denied_is_one_line_without_a_traceback(client, bob, sequence, caplog):
    """Fails before issue 17: every 403 logged the whole traceback of its PermissionDenied."""
    assert Membership.objects.get(user=bob).role == Membership.Role.VIEWER
    client.force_login(bob)
    with caplog.at_level(logging.WARNING):
        response = client.post(reverse("add_shot", args=[sequence.pk]), {"prompt": "A hall"})
    assert response.status_code == 403
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage() == f"Forbidden (Permission denied): /sequences/{sequence.pk}/shots/add/"
    assert record.exc_info is None
    assert "Traceback" not in logged(caplog)


def test_an_unparsable_body_is_one_line_too(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.WARNING):
        response = client.generic("POST", reverse("login"), b"no parts", content_type="multipart/form-data")
    assert response.status_code == 400
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    assert record.getMessage().startswith("Bad request (Unable to parse request body)")
    assert "Traceback" not in logged(caplog)


def test_other_errors_keep_their_traceback(caplog):
    logger = logging.getLogger("django.request")
    with caplog.at_level(logging.ERROR):
        try:
            raise ValueError("broken")
        except ValueError:
            logger.error("Internal Server Error: /s/%s/", GUESS, exc_info=True)
    (record,) = caplog.records
    assert record.exc_info is not None
    assert "Traceback" in logged(caplog)
    assert GUESS not in logged(caplog)


# --- gunicorn -------------------------------------------------------------------------------------


def test_every_access_log_atom_is_redacted():
    """A custom --access-logformat may name any header, such as the Location of a review redirect."""

    class Response:
        status = "302 Found"
        sent = 0
        headers = [("Location", f"/s/{GUESS}/#review")]

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": f"/s/{GUESS}/name/",
        "PATH_INFO": f"/s/{GUESS}/name/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://studio.example.com/s/{GUESS}/",
    }
    request_headers = [("REFERER", environ["HTTP_REFERER"])]
    atoms = GunicornLogger(Config()).atoms(Response(), request_headers, environ, dt.timedelta(seconds=1))
    assert atoms["r"] == "POST /s/Zq9x.../name/ HTTP/1.1"
    assert atoms["U"] == "/s/Zq9x.../name/"
    assert atoms["f"] == "https://studio.example.com/s/Zq9x.../"
    assert atoms["{location}o"] == "/s/Zq9x.../#review"
    assert atoms["{referer}i"] == atoms["f"]
    assert atoms["{raw_uri}e"] == atoms["U"]
    assert atoms["s"] == "302"
    assert GUESS not in repr(atoms)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(settings, tmp_path):
    """gunicorn serving this test's database with the redacting logger, access log on stdout."""
    port = _free_port()
    out, err = tmp_path / "access.log", tmp_path / "error.log"
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "videogen.wsgi",
        # The studio's own configuration (threaded workers), as `manage.py studio --gunicorn` runs it.
        "--config",
        str(Path(django_settings.BASE_DIR) / "videogen" / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--logger-class",
        "videogen.log_filters.GunicornLogger",
        "--access-logfile",
        "-",
    ]
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DJANGO_SETTINGS_MODULE": "videogen.settings",
    }
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=django_settings.BASE_DIR,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return process.poll() is not None

    try:
        wait_for(up, timeout=30, what="gunicorn to listen")
        assert process.poll() is None, err.read_text()
        yield base, out, err
    finally:
        os.killpg(process.pid, signal.SIGINT)  # quick shutdown; TERM waits for idle connections
        process.wait(timeout=30)


def fetch(url: str, **headers: str) -> int:
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=20) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.mark.django_db(transaction=True)
def test_gunicorns_access_log_shows_four_characters_of_a_token(gunicorn, project, alice):
    """Fails before issue 17: gunicorn logged the request line and the Referer whole."""
    base, out, err = gunicorn
    sequence = Sequence.objects.create(
        project=project, title="Harbour House", created_by=alice, status="done"
    )
    version = FilmVersion(sequence=sequence, number=1, duration=12.0, sent_at=timezone.now())
    version.film.save("film.mp4", ContentFile(b"film" * 100), save=False)
    version.save()
    token = issue(sequence, alice)
    page = f"{base}/s/{token}/"

    assert fetch(page) == 200
    assert fetch(f"{page}film/?inline=1", Referer=page) == 200
    assert fetch(f"{page}name/", Referer=page) == 405
    assert fetch(f"{base}/s/{GUESS}/") == 404

    def logged_all() -> str:
        text = out.read_text()
        return text if text.count("\n") >= 4 else ""

    access = wait_for(logged_all, timeout=10, what="four access log lines")
    assert f'"GET /s/{token[:4]}.../ HTTP/1.1" 200' in access
    assert f'"GET /s/{token[:4]}.../film/?inline=1 HTTP/1.1" 200' in access
    assert f'"{base}/s/{token[:4]}.../"' in access
    assert token not in access
    assert GUESS not in access
    assert token not in err.read_text()
    assert "Not Found: /s/Zq9x.../" in err.read_text()


def test_the_health_pings_routine_lines_are_left_out_and_their_failures_kept(caplog):
    queue_log = logging.getLogger("django-q")
    with caplog.at_level(logging.INFO, logger="django-q"):
        queue_log.info("Worker-1 processing apple-bravo 'generation.tasks.ping'")
        queue_log.info("Processed 'generation.tasks.ping' (apple-bravo)")
        queue_log.info("Processed 'generation.tasks.finish_take' (delta-echo)")
        queue_log.error("Failed 'generation.tasks.ping' (apple-bravo) - boom")
    messages = [r.getMessage() for r in caplog.records if r.name == "django-q"]
    assert messages == [
        "Processed 'generation.tasks.finish_take' (delta-echo)",
        "Failed 'generation.tasks.ping' (apple-bravo) - boom",
    ]
