"""What the bench scripts share: a scratch database, Django setup, child processes, /proc readings.

Nothing here reaches beyond loopback. Every child is started in its own process group and stopped
with it, so a bench never leaves a process behind.
"""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
MANAGE = str(REPO / "manage.py")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- the database -------------------------------------------------------------------------------


@contextmanager
def scratch_database(database_url: str | None, *, folder: Path) -> Iterator[str]:
    """Yield the URL of an empty database that is gone afterwards.

    Without a URL: a SQLite file in `folder`. With a PostgreSQL URL: that database is created with
    `createdb` (which refuses a name that exists, so an existing database is never touched) and
    dropped at the end.
    """
    if not database_url:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"--database-url must be a postgres:// URL, not {database_url!r}")
    name = parts.path.lstrip("/")
    client = [
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 5432),
        "-U",
        parts.username or "postgres",
    ]
    subprocess.run(["createdb", *client, name], check=True)
    try:
        yield database_url
    finally:
        from django.db import connections

        connections.close_all()
        subprocess.run(["dropdb", "--if-exists", "--force", *client, name], check=False)


def setup_django(**env: str) -> None:
    """Set the environment the settings read (before they are read), then start Django."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "videogen.settings")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def photo(index: int, size: tuple[int, int] = (640, 360)) -> bytes:
    """A small JPEG 'reference photo' (stripes on a colour), different for each index."""
    from PIL import Image, ImageDraw

    colour = ((index * 71) % 200 + 40, (index * 37) % 200 + 40, (index * 113) % 200 + 40)
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    for x in range(0, size[0], 64):
        draw.rectangle([x + index * 8, 0, x + index * 8 + 16, size[1]], fill=(250, 250, 250))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def make_project(*, username: str, credits: int, images: int = 3):
    """A user with a monthly budget of `credits`, owning a project with a reference set of `images`."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from generation import credits as credit_service
    from projects.images import add_reference_images
    from projects.models import Membership, Project, ReferenceSet

    user = get_user_model().objects.create_user(username, f"{username}@example.com", f"{username}-password")
    credit_service.set_monthly_limit(user, credits=credits)
    project = Project.objects.create(name=f"Bench project of {username}", created_by=user)
    Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
    reference_set = ReferenceSet.objects.create(project=project, name="Rooms")
    files = [SimpleUploadedFile(f"room{i}.jpg", photo(i)) for i in range(images)]
    result = add_reference_images(reference_set, files=files)
    if result.rejected:
        raise RuntimeError(f"reference images rejected: {result.rejected}")
    return user, project, reference_set


# --- child processes ----------------------------------------------------------------------------


class Child:
    """A child process in its own process group, logging to a file; `stop()` ends the whole group."""

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the leader, SIGKILL to the group if it does not end in time.

        Only the leader gets SIGTERM: qcluster stops its own workers, and a worker signalled
        directly as well leaves the cluster waiting for it.
        """
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Anything left in the group (a worker that outlived its parent) goes too.
        _signal_group(self.proc.pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass


def manage(*args: str) -> list[str]:
    return [sys.executable, MANAGE, *args]


# --- /proc ---------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses; the fields start after the last ")".
    return text[text.rindex(")") + 2 :].split()


def descendants(root: int) -> list[int]:
    """`root` and every live process under it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process tree so far.

    For each live process: its own time plus that of the children it has reaped (cutime, cstime),
    so a worker that ended and was waited for still counts, through its parent.
    """
    ticks = 0
    for pid in descendants(root):
        fields = _stat_fields(pid)
        if fields:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / CLOCK_TICKS


def status_value(pid: int, key: str) -> int:
    """A number from /proc/<pid>/status (`VmHWM`, `VmRSS` in kB, `Threads`); 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_status_sum(root: int, key: str) -> int:
    return sum(status_value(pid, key) for pid in descendants(root))


# --- figures -------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def temp_folder(prefix: str) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix=prefix)
