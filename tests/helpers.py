"""Shared helpers for pipeline tests: sequences over the `references` fixture, and ledger checks."""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings as django_settings
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.db.models import Sum
from PIL import Image, ImageChops, ImageStat

from generation import credits, pipeline, runway
from generation.models import LedgerEntry, Take
from projects.models import Sequence, Shot

COLOURS = [(200, 60, 40), (40, 160, 90), (50, 80, 200)]


class WorkerKilled(BaseException):
    """The worker process dying where the test stands (not an Exception: nothing catches it)."""


class DiesAfterSending(runway.RunwayClient):
    """The process dies after the create request reached Runway and before the answer was stored.
    Patch it in with `generation.runway.client_from_settings`."""

    def create_task(self, endpoint, body):
        super().create_task(endpoint, body)
        raise WorkerKilled


def photo(colour: tuple[int, int, int], index: int) -> bytes:
    image = Image.new("RGB", (640, 360), colour)
    for x in range(0, 640, 80):
        image.paste(
            (255 - colour[0], 255 - colour[1], 255 - colour[2]), (x + index * 10, 0, x + index * 10 + 20, 360)
        )
    return encoded(image, "JPEG", quality=90)


def encoded(image: Image.Image, format: str, **save_args) -> bytes:
    """The bytes of `image` saved as a file in `format` (PIL's name: "PNG", "JPEG", "WEBP")."""
    buffer = io.BytesIO()
    image.save(buffer, format, **save_args)
    return buffer.getvalue()


def png(
    size: tuple[int, int] = (640, 360), colour: tuple[int, ...] = (180, 40, 40), *, mode: str = "RGB"
) -> bytes:
    """A PNG of one colour."""
    return encoded(Image.new(mode, size, colour), "PNG")


def jpeg(
    size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 40, 40), *, quality: int = 90
) -> bytes:
    """A JPEG of one colour."""
    return encoded(Image.new("RGB", size, colour), "JPEG", quality=quality)


def make_sequence(project, alice, references, *, model, stitched, duration, shots=3, **extra) -> Sequence:
    sequence = Sequence.objects.create(
        project=project,
        title="Tour",
        model=model,
        ratio="1280:720",
        is_stitched=stitched,
        has_audio=extra.pop("has_audio", True),
        reference_set=references,
        created_by=alice,
    )
    images = list(references.images.all())
    prompts = extra.pop("prompts", None) or [f"Shot number {i + 1}" for i in range(shots)]
    for i, prompt in enumerate(prompts):
        Shot.objects.create(
            sequence=sequence,
            position=i,
            prompt=prompt,
            duration=duration,
            first_frame=Shot.FirstFrame.PREVIOUS if stitched else Shot.FirstFrame.REFERENCE,
            first_frame_image=None if stitched else images[i % len(images)],
            last_frame_image=images[i + 1]
            if stitched and model.startswith("veo") and i + 1 < len(images)
            else None,
        )
    return sequence


def drive(sequence: Sequence, *, timeout: float = 90) -> Sequence:
    """Do what the poller does until the sequence is final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.poll_once()
        pipeline.recover()
        sequence.refresh_from_db()
        if sequence.status in Sequence.STOPPED:
            return sequence
        time.sleep(0.1)
    raise AssertionError(f"sequence still {sequence.status} after {timeout} s")


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    a, b = a.convert("RGB"), b.convert("RGB").resize(a.size)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def assert_ledger_exact(user, simulator) -> None:
    """Settled = the sum of Runway's task costs (of finished clips, and of failures Runway charged,
    as it does SAFETY.INPUT.*); no hold is left open."""
    runway_costs = {t["id"]: t.get("cost") for t in simulator.tasks()}
    takes = Take.objects.filter(user=user, status=Take.Status.SUCCEEDED)
    assert sorted(t.cost_credits for t in takes) == sorted(runway_costs[t.runway_task_id] for t in takes)
    failed = Take.objects.filter(
        user=user, status=Take.Status.FAILED, runway_task_id__in=list(runway_costs)
    ).exclude(failure_code="DOWNLOAD")
    for take in failed:
        assert (take.cost_credits or 0) == (runway_costs[take.runway_task_id] or 0), take.failure_code
    settled = LedgerEntry.objects.filter(user=user, kind="settle").aggregate(s=Sum("credits"))["s"] or 0
    assert settled == sum(t.cost_credits for t in takes) + sum(t.cost_credits or 0 for t in failed)
    assert not credits.open_holds().filter(user=user).exists()


def assert_no_duplicate_submissions(simulator) -> None:
    ids = list(Take.objects.exclude(runway_task_id=None).values_list("runway_task_id", flat=True))
    assert len(simulator.tasks()) == len(ids) == len(set(ids))


MANAGE = str(Path(django_settings.BASE_DIR) / "manage.py")


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class Cluster:
    """A qcluster and a poller as child processes, each in its own process group."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        """Start "qcluster" or "poller"; a suffix names another of the kind ("qcluster-2")."""
        command = {"qcluster": "qcluster", "poller": "runway_poller"}[name.split("-")[0]]
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, MANAGE, command], env=self.env, stdout=log, stderr=log, start_new_session=True
        )

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


def cluster_env(settings, simulator) -> dict[str, str]:
    """Environment for qcluster and poller subprocesses sharing this test's database, media and simulator."""
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "RUNWAY_API_BASE": simulator.base_url,
        "RUNWAY_API_KEY": simulator.api_key,
        "RUNWAY_POLL_INTERVAL": "0.3",
        # The children have the simulator's key: Runway's floor between polls is lowered for it.
        "RUNWAY_MIN_POLL_SECONDS": "0.3",
        "PIPELINE_LEASE_SECONDS": "3",
        "PIPELINE_RECOVER_INTERVAL": "0.5",
        # The same queue as this process, so the workers run what the test (or its live server)
        # queues; tasks left by earlier tests are harmless, as every task checks its row first. In
        # a parallel run the name carries this worker's id (settings.TEST_WORKER): another worker's
        # cluster never takes these tasks to run them against its own database.
        "Q_NAME": django_settings.Q_CLUSTER["name"],
        "Q_WORKERS": "2",
        "DJANGO_SETTINGS_MODULE": "videogen.settings",
    }
    env.pop("PIPELINE_INLINE", None)
    return env


def wait_for(predicate, *, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def final(sequence: Sequence, timeout: float = 90) -> Sequence:
    def done():
        sequence.refresh_from_db()
        return sequence.status in Sequence.STOPPED

    wait_for(done, timeout=timeout, what="the sequence to finish")
    return sequence


def versioned(data: dict, row=None, *, attr: str = "edit_version") -> dict:
    """`data` of a form that edits `row`, carrying the row's edit version as stored now (0 for no
    row yet), as the form on the page would."""
    version = 0 if row is None else type(row).objects.values_list(attr, flat=True).get(pk=row.pk)
    return {**data, "edit_version": version}


def empty_cache(backend: BaseCache) -> None:
    """Delete what this test process keeps in `backend`. Parallel test workers share one Redis
    database, where clear() would flush the others' throttling counters too: with a key prefix
    (settings.TEST_WORKER), only the keys under it are deleted."""
    if backend.key_prefix and isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{backend.key_prefix}:*"))
        if keys:
            client.delete(*keys)
    else:
        backend.clear()


# The pages' pollers (static/js/poll.js, keyframes.js, narration.js) ask every 3 s. In the browser
# tests they ask every PAGE_POLL_MS instead: the same requests and swaps, without the waits between them.
PAGE_POLL_MS = 300
FAST_PAGE_POLLS = f"""
(() => {{
  const setTimeout = window.setTimeout;
  window.setTimeout = function (callback, delay, ...args) {{
    return setTimeout.call(window, callback, delay === 3000 ? {PAGE_POLL_MS} : delay, ...args);
  }};
}})();
"""


def fast_page_polls(context):
    """`context` (a Playwright BrowserContext) with its pages polling every PAGE_POLL_MS."""
    context.add_init_script(FAST_PAGE_POLLS)
    return context
