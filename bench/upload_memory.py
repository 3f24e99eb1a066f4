"""Figures for one big reference upload (not a test): `.venv/bin/python bench/upload_memory.py [--quick]`.

One POST of 50 JPEGs of 40 megapixels each (7296x5472; --quick: 10) to the upload page, served by
gunicorn with one sync worker, DEBUG off, as in production. Printed: the answer's status, how many
images were stored and refused, the time the request took and the worker's peak RSS (VmHWM from
/proc/<pid>/status, read after the answer, in a worker that had served only the sign-in and one page).

The photos are made once in a temporary folder: one picture of smooth noise (coarse noise scaled
up, so it compresses to about 2 MB like a photo while decoding like any 40-megapixel JPEG), copied.
gunicorn's `--timeout` is set to 600 s so that the whole request is measured; its default of 30 s
would kill the worker partway. REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST is passed on when given.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    Child,
    descendants,
    migrate,
    scratch_database,
    setup_django,
    status_value,
    temp_folder,
)

SIZE = (7296, 5472)  # a 40-megapixel sensor, just under REFERENCE_IMAGE_MAX_PIXELS
# DEBUG off redirects plain HTTP to HTTPS; the bench stands for the TLS proxy in front.
PROXY = {"X-Forwarded-Proto": "https"}


def make_photos(folder: Path, count: int) -> list[Path]:
    from PIL import Image

    bands = [
        Image.effect_noise((365, 274), sigma).resize(SIZE, Image.Resampling.BICUBIC) for sigma in (40, 60, 80)
    ]
    first = folder / "photo-00.jpg"
    Image.merge("RGB", bands).save(first, "JPEG", quality=30)
    del bands
    paths = [first]
    for index in range(1, count):
        path = folder / f"photo-{index:02d}.jpg"
        shutil.copyfile(first, path)
        paths.append(path)
    return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed() -> tuple[int, str]:
    """An owner with a project and an empty reference set; returns the set's pk and a session cookie."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from projects.models import Membership, Project, ReferenceSet

    user = get_user_model().objects.create_user("uploader", "uploader@example.com", "uploader-password")
    project = Project.objects.create(name="Bench uploads", created_by=user)
    Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
    reference_set = ReferenceSet.objects.create(project=project, name="Big photos")
    client = Client()
    client.force_login(user)
    return reference_set.pk, client.cookies["sessionid"].value


def wait_until_serving(base_url: str, server: Child, timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.proc.poll() is None:
        try:
            if requests.get(f"{base_url}/accounts/login/", headers=PROXY, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start:\n{server.log_tail()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 photos instead of 50")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument(
        "--max-pixels-per-request",
        type=int,
        default=None,
        help="REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST for the server (default: the setting's default)",
    )
    args = parser.parse_args()
    count = 10 if args.quick else args.count

    with temp_folder("bench-upload-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        photos = make_photos(folder, count)
        print(
            f"{count} photos of {SIZE[0]}x{SIZE[1]} ({SIZE[0] * SIZE[1] / 1e6:.0f} MP), "
            f"{photos[0].stat().st_size / 1e6:.1f} MB each, made in {time.perf_counter() - started:.1f} s"
        )
        with scratch_database(None, folder=folder) as database_url:
            env = {
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "videogen.settings",
                "DATABASE_URL": database_url,
                "DEBUG": "False",
                "SECRET_KEY": "bench-" + os.urandom(24).hex(),
                "ALLOWED_HOSTS": "127.0.0.1",
                "MEDIA_ROOT": str(folder / "media"),
                "STATIC_ROOT": str(folder / "static"),
                "LOG_LEVEL": "WARNING",
            }
            if args.max_pixels_per_request is not None:
                env["REFERENCE_UPLOAD_MAX_PIXELS_PER_REQUEST"] = str(args.max_pixels_per_request)
            setup_django(**env)
            migrate()
            from django.core.management import call_command

            call_command("collectstatic", interactive=False, verbosity=0)
            set_pk, session = seed()
            from django.db import connections

            connections.close_all()

            port = free_port()
            server = Child(
                "gunicorn",
                [sys.executable, "-m", "gunicorn", "videogen.wsgi:application", "--workers", "1"]
                + ["--timeout", "600", "--bind", f"127.0.0.1:{port}"],
                env=env,
                log_dir=folder,
            )
            try:
                import requests

                base_url = f"http://127.0.0.1:{port}"
                wait_until_serving(base_url, server)
                workers = [pid for pid in descendants(server.pid) if pid != server.pid]
                with requests.Session() as http:
                    # Cookies are marked Secure, so they are sent by hand over this plain HTTP.
                    http.headers.update({**PROXY, "Cookie": f"sessionid={session}"})
                    page = http.get(f"{base_url}/reference-sets/{set_pk}/", timeout=30)
                    page.raise_for_status()
                    csrf = page.cookies["csrftoken"]
                    http.headers["Cookie"] += f"; csrftoken={csrf}"
                    before_kb = max(status_value(pid, "VmRSS") for pid in workers)
                    handles = [path.open("rb") for path in photos]
                    try:
                        files = [
                            ("images", (path.name, fh, "image/jpeg"))
                            for path, fh in zip(photos, handles, strict=True)
                        ]
                        sent = time.perf_counter()
                        response = http.post(
                            f"{base_url}/reference-sets/{set_pk}/upload/",
                            files=files,
                            headers={"X-CSRFToken": csrf, "Referer": f"https://127.0.0.1:{port}/"},
                            timeout=900,
                            allow_redirects=False,
                        )
                        seconds = time.perf_counter() - sent
                    finally:
                        for fh in handles:
                            fh.close()
                    peak_kb = max(status_value(pid, "VmHWM") for pid in workers)
                    if "messages" in response.cookies:
                        http.headers["Cookie"] += f"; messages={response.cookies['messages']}"
                    shown = http.get(f"{base_url}/reference-sets/{set_pk}/", timeout=30).text
                from projects.models import ReferenceImage

                stored = ReferenceImage.objects.filter(reference_set_id=set_pk).count()
                notices = re.findall(
                    r"(Added \d+[^<]*|The last \d+[^<]*|[^>]*was not added[^<]*|Choose at least[^<]*)", shown
                )
                print(
                    f"gunicorn, 1 sync worker, DEBUG off, {os.cpu_count()} CPUs; per-request pixel limit: "
                    f"{args.max_pixels_per_request or 'default'}\n"
                )
                print(f"{'status':>6} {'stored':>7} {'seconds':>8} {'RSS before MB':>14} {'peak RSS MB':>12}")
                print(
                    f"{response.status_code:>6} {stored:>3} of {count:<2} {seconds:>8.1f} "
                    f"{before_kb / 1024:>14.0f} {peak_kb / 1024:>12.0f}"
                )
                if response.status_code != 302 or stored == 0:
                    print(f"  answer: {response.status_code} {response.headers.get('Location', '')}")
                for notice in notices:
                    print(f"  page says: {notice.strip()}")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
