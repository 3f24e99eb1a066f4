"""Figures for the heaviest staff pages (not a test): `.venv/bin/python bench/pages.py [--quick]`.

The sequence page (`sequence_detail`: the storyboard) of a finished 20-shot sequence with three takes
per shot, the project page
(`project_detail`) of a project with 50 sequences, the dashboard and the client's share page
(`shared_film`: four versions sent, 30 comments, three reviewers), against a bare authenticated
page (the password-change form: the session, the middleware and `base.html`, no data), served by
gunicorn (2 sync workers, DEBUG off, static files collected for whitenoise, as in production) on a
fresh PostgreSQL database, under 1, 10 and 50 concurrent clients: requests per second, p50 and p95
latency. Each client is a thread with
its own logged-in requests.Session. 200 requests per page and level (--quick: 50). Also the number
of SQL queries each page makes (test Client in-process, CaptureQueriesContext), and each page's p95
as a multiple of the bare page's p95 at the same number of clients in the same run.

The database is created with createdb from `--database-url` (default: a new name on
127.0.0.1:5432) and dropped at the end; `--sqlite` uses a temporary SQLite file instead.
Requests carry `X-Forwarded-Proto: https`, as from the TLS proxy production runs behind.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    Child,
    make_project,
    migrate,
    percentile,
    scratch_database,
    setup_django,
    temp_folder,
)

LEVELS = (1, 10, 50)
BARE = "bare"
PROXY = {"X-Forwarded-Proto": "https"}


def seed() -> dict[str, str]:
    """The bench user, a project with 50 sequences (one of 20 finished shots, 49 of 3), a reference
    set of 5 images and 3 members; returns the page paths, the bare page first."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse
    from django.utils import timezone

    from generation.models import Take
    from projects.models import Membership, Sequence, Shot

    user, project, references = make_project(username="bench", credits=100_000, images=5)
    for name, role in (("viewer", Membership.Role.VIEWER), ("editor", Membership.Role.EDITOR)):
        other = get_user_model().objects.create_user(name, f"{name}@example.com", f"{name}-password")
        Membership.objects.create(project=project, user=other, role=role)
    images = list(references.images.all())
    now = timezone.now()

    def finished_sequence(title: str, shots: int, *, takes: int = 1) -> Sequence:
        sequence = Sequence.objects.create(
            project=project,
            title=title,
            model="veo3.1_fast",
            ratio="1280:720",
            is_stitched=True,
            has_audio=True,
            reference_set=references,
            created_by=user,
            status=Sequence.Status.DONE,
            started_by=user,
            started_at=now,
            finished_at=now,
            film=f"films/{title}/film.mp4",
            poster=f"films/{title}/poster.jpg",
            film_duration=4.0 * shots,
        )
        for position in range(shots):
            shot = Shot.objects.create(
                sequence=sequence,
                position=position,
                prompt=f"Walk slowly from room {position + 1} into the next, morning light",
                duration=4,
                first_frame=Shot.FirstFrame.PREVIOUS,
                last_frame_image=images[(position + 1) % len(images)],
            )
            if position % 4 == 0:  # a retake that failed before the chosen one
                Take.objects.create(
                    shot=shot,
                    user=user,
                    status=Take.Status.FAILED,
                    failure_code="SAFETY.OUTPUT",
                    finished_at=now,
                )
            for earlier in range(takes - 1):  # finished takes not chosen: the card's picker
                Take.objects.create(
                    shot=shot,
                    user=user,
                    status=Take.Status.SUCCEEDED,
                    runway_task_id=f"{sequence.pk}-{position}-{earlier}",
                    estimated_credits=60,
                    cost_credits=60,
                    output=f"takes/{sequence.pk}/take-{position}-{earlier}.mp4",
                    last_frame=f"takes/{sequence.pk}/take-{position}-{earlier}-last.png",
                    duration=4.0,
                    progress=1,
                    submitted_at=now,
                    finished_at=now,
                )
            take = Take.objects.create(
                shot=shot,
                user=user,
                status=Take.Status.SUCCEEDED,
                runway_task_id=f"{sequence.pk}-{position}",
                estimated_credits=60,
                cost_credits=60,
                output=f"takes/{sequence.pk}/take-{position}.mp4",
                last_frame=f"takes/{sequence.pk}/take-{position}-last.png",
                duration=4.0,
                progress=1,
                submitted_at=now,
                finished_at=now,
            )
            shot.chosen_take = take
            shot.save(update_fields=["chosen_take"])
        return sequence

    long_sequence = finished_sequence("Full tour", 20, takes=3)
    for index in range(49):
        finished_sequence(f"Room {index + 1}", 3)
    share_token = shared_versions(long_sequence, user)
    return {
        BARE: reverse("password_change"),
        "sequence_detail": reverse("sequence_detail", args=[long_sequence.pk]),
        "project_detail": reverse("project_detail", args=[project.pk]),
        "dashboard": reverse("dashboard"),
        "shared_film": reverse("shared_film", args=[share_token]),
    }


def shared_versions(sequence, user) -> str:
    """The client's share page of `sequence`: four versions sent (and a draft), 30 comments and
    three reviewers' decisions on the latest, a review link to the latest; returns its token."""
    from django.utils import timezone

    from projects.models import FilmVersion, ReviewComment, ReviewDecision, ShareLink

    for number in range(1, 6):
        FilmVersion.objects.create(
            sequence=sequence,
            number=number,
            film=f"films/{sequence.pk}/v{number}.mp4",
            poster=f"films/{sequence.pk}/v{number}.jpg",
            duration=80.0,
            sent_at=timezone.now() if number < 5 else None,
            sent_note=f"Version {number}: warmer light in the hall." if number < 5 else "",
        )
    latest = sequence.versions.get(number=4)
    link, token = ShareLink.issue(sequence, created_by=user, recipient_name="Dana Client")
    ReviewComment.objects.bulk_create(
        ReviewComment(
            version=latest, share_link=link, author_name="Dana", body=f"Note {i}", at_seconds=i * 2.5
        )
        for i in range(30)
    )
    for name, verdict in (("Dana", "approved"), ("Eli", "changes"), ("Fay", "approved")):
        ReviewDecision.objects.create(version=latest, share_link=link, author_name=name, verdict=verdict)
    return token


def query_counts(paths: dict[str, str]) -> dict[str, tuple[int, int]]:
    """(queries, bytes) of each page, from the test Client in this process."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    counts = {}
    for name, path in paths.items():
        client.get(path, secure=True)  # first-use caches (content types, catalog) out of the way
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{name} answered {response.status_code} in-process")
        counts[name] = (len(queries), len(response.content))
    return counts


def session_cookie() -> str:
    """A logged-in session of the bench user, as a Cookie header (the cookie is Secure, so a
    requests cookie jar would not send it over plain http)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url: str, server: Child, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        try:
            if requests.get(f"{base_url}/accounts/login/", headers=PROXY, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start:\n{server.log_tail()}")


def load(url: str, *, clients: int, total: int, cookies: list[str]) -> tuple[float, list[float], int]:
    """`total` GETs of `url` from `clients` threads; returns (seconds, latencies, errors)."""
    import requests

    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors = 0

    def client(cookie: str) -> None:
        nonlocal errors
        with requests.Session() as session:
            session.headers.update({**PROXY, "Cookie": cookie})
            while next(counter) < total:
                started = time.perf_counter()
                try:
                    ok = session.get(url, timeout=60, allow_redirects=False).status_code == 200
                except requests.RequestException:
                    ok = False
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += not ok

    threads = [threading.Thread(target=client, args=(cookies[i],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 requests per page and level")
    parser.add_argument("--requests", type=int, default=200, help="per page and level (default 200)")
    parser.add_argument(
        "--database-url",
        default=f"postgres://postgres@127.0.0.1:5432/videogen_bench_pages_{os.getpid()}",
        help="postgres://user@host:port/<new database>, created and dropped (default: a new name)",
    )
    parser.add_argument("--sqlite", action="store_true", help="use a temporary SQLite file instead")
    parser.add_argument(
        "--clients",
        type=lambda text: tuple(int(n) for n in text.split(",")),
        default=LEVELS,
        help="concurrent clients, comma-separated (default 1,10,50)",
    )
    parser.add_argument(
        "--pages", default="", help="only these pages, comma-separated (the bare page always)"
    )
    args = parser.parse_args()
    levels = args.clients
    total = 50 if args.quick else args.requests

    with temp_folder("bench-pages-") as tmp:
        folder = Path(tmp)
        with scratch_database(None if args.sqlite else args.database_url, folder=folder) as database_url:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "videogen.settings",
                "DATABASE_URL": database_url,
                "DEBUG": "False",
                "SECRET_KEY": "bench-" + os.urandom(24).hex(),
                "ALLOWED_HOSTS": "127.0.0.1,testserver",
                "MEDIA_ROOT": str(folder / "media"),
                "STATIC_ROOT": str(folder / "static"),
                "LOG_LEVEL": "WARNING",
            }
            setup_django(**env)
            migrate()
            from django.core.management import call_command

            call_command("collectstatic", interactive=False, verbosity=0)
            paths = seed()
            counts = query_counts(paths)
            if args.pages:
                wanted = set(args.pages.split(","))
                paths = {name: path for name, path in paths.items() if name == BARE or name in wanted}
            cookies = [session_cookie() for _ in range(max(levels))]
            from django.db import connections

            connections.close_all()

            port = free_port()
            server = Child(
                "gunicorn",
                [sys.executable, "-m", "gunicorn", "videogen.wsgi:application", "--workers", "2"]
                + ["--bind", f"127.0.0.1:{port}"],
                env=env,
                log_dir=folder,
            )
            try:
                base_url = f"http://127.0.0.1:{port}"
                wait_until_serving(base_url, server)
                print(
                    f"{os.cpu_count()} CPUs; gunicorn, 2 sync workers, DEBUG off; "
                    f"database {database_url.split(':')[0]}; {total} requests per page and level\n"
                )
                print(
                    f"{'page':<16} {'queries':>7} {'KB':>5} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7}"
                    f" {'x bare':>6} {'errors':>6}"
                )
                bare_p95: dict[int, float] = {}
                for name, path in paths.items():
                    url = base_url + path
                    load(url, clients=2, total=10, cookies=cookies)  # both workers warm
                    queries, size = counts[name]
                    for clients in levels:
                        seconds, latencies, errors = load(url, clients=clients, total=total, cookies=cookies)
                        p95 = percentile(latencies, 0.95)
                        if name == BARE:
                            bare_p95[clients] = p95
                        print(
                            f"{name:<16} {queries:>7} {size / 1024:>5.0f} {clients:>7} "
                            f"{len(latencies) / seconds:>7.1f} {1000 * percentile(latencies, 0.5):>7.0f} "
                            f"{1000 * p95:>7.0f} {p95 / bare_p95[clients]:>5.1f}x {errors:>6}",
                            flush=True,
                        )
            finally:
                server.stop()


if __name__ == "__main__":
    main()
