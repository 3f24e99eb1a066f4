"""How long a dead worker's download stays stuck (not a test): `.venv/bin/python bench/lease_takeover.py [--quick]`.

A real qcluster (2 workers) and `manage.py runway_poller` run against the simulator (its own
process, --fast). One unstitched 2 s gen4_turbo shot is generated; the simulator stalls its output
download (it sends 30% and then nothing, as a stuck CDN edge would). While the download is held,
the qcluster's whole process group is killed with SIGKILL and a new qcluster is started at once.
The take's lease (PIPELINE_LEASE_SECONDS, renewed every third of its length while its worker
lived) then lapses, the poller's recovery sweep (PIPELINE_RECOVER_INTERVAL) queues it again, and
the new worker takes it over (`Take.taken_over_at`) and saves it.

Printed: the lease and sweep, how much lease the dead worker had left when it died, and the times
from the kill to the take being taken over, saved, and the film made. With the defaults (60 s
lease, 10 s sweep) the takeover comes 40-70 s after the death: the lease left (two to three
thirds of a lease, depending on when the last renewal was) plus up to one sweep. `--quick` uses a
10 s lease. A scratch SQLite file (or `--database-url postgres://.../<new name>`, created and
dropped) and a temporary MEDIA_ROOT.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import Child, make_project, manage, migrate, scratch_database, setup_django, temp_folder  # noqa: E402

SIMULATED_KEY = "key_" + "0" * 128


def wait(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def start_simulator(folder: Path, env: dict[str, str]) -> tuple[Child, str]:
    args = manage("runway_simulator", "--port", "0", "--fast", "--render-scale", "0.25")
    simulator = Child("simulator", args, env=env, log_dir=folder)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", simulator.log_path.read_text(errors="replace"))
        if found:
            return simulator, found.group(1)
        time.sleep(0.1)
    simulator.stop()
    raise SystemExit(f"the simulator did not start:\n{simulator.log_tail()}")


def kill_group(child: Child) -> None:
    os.killpg(child.pid, signal.SIGKILL)
    child.proc.wait(timeout=10)


def run(ctx: dict, *, lease: int) -> dict[str, float]:
    from django.utils import timezone

    from generation import pipeline
    from generation.models import Take
    from projects.models import Sequence, Shot

    user, project, references = ctx["user"], ctx["project"], ctx["references"]
    sequence = Sequence.objects.create(
        project=project,
        title="Lease",
        model="gen4_turbo",
        ratio="1280:720",
        reference_set=references,
        created_by=user,
    )
    Shot.objects.create(
        sequence=sequence,
        position=0,
        prompt="Slow pan across the room",
        duration=2,
        first_frame=Shot.FirstFrame.REFERENCE,
        first_frame_image=references.images.first(),
    )
    # Held open far longer than the lease: the killed worker's download would never finish.
    ctx["control"].fail_next("stall_download", 1, fraction=0.3, hold_seconds=lease * 4)
    cluster = Child("qcluster-1", manage("qcluster"), env=ctx["env"], log_dir=ctx["folder"])
    poller = Child("poller", manage("runway_poller"), env=ctx["env"], log_dir=ctx["folder"])
    second = None
    try:
        pipeline.start_sequence(sequence, user=user)
        downloading = Take.objects.filter(shot__sequence=sequence, status=Take.Status.DOWNLOADING).exclude(
            claim_token=""
        )
        take = wait(downloading.first, timeout=120, what="the download to start")
        time.sleep(1)  # into the stall
        kill_group(cluster)
        died = timezone.now()
        second = Child("qcluster-2", manage("qcluster"), env=ctx["env"], log_dir=ctx["folder"])
        take.refresh_from_db()
        left = (take.claimed_until - died).total_seconds()
        limit = lease * 3 + 60
        taken = wait(
            lambda: Take.objects.filter(pk=take.pk).exclude(taken_over_at=None).first(),
            timeout=limit,
            what="the takeover",
        )
        saved = wait(
            lambda: Take.objects.filter(pk=take.pk, status=Take.Status.SUCCEEDED).first(),
            timeout=limit,
            what="the take to be saved",
        )
        done = wait(
            lambda: Sequence.objects.filter(pk=sequence.pk, status=Sequence.Status.DONE).first(),
            timeout=limit,
            what="the film",
        )
        return {
            "lease left at death": left,
            "death -> taken over": (taken.taken_over_at - died).total_seconds(),
            "death -> take saved": (saved.finished_at - died).total_seconds(),
            "death -> film made": (done.finished_at - died).total_seconds(),
            "versions": float(done.versions.count()),
        }
    finally:
        for child in (second, poller):
            if child is not None:
                child.stop()
        if cluster.proc.poll() is None:
            cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A 10 s lease instead of the default.")
    parser.add_argument(
        "--lease", type=int, default=None, help="PIPELINE_LEASE_SECONDS (default: the setting's)."
    )
    parser.add_argument("--recover-interval", type=float, default=None, help="PIPELINE_RECOVER_INTERVAL.")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with temp_folder("bench-lease-") as tmp:
        folder = Path(tmp)
        with scratch_database(args.database_url, folder=folder) as database_url:
            token = secrets.token_hex(16)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("RUNWAY_", "PIPELINE_"))},
                "DJANGO_SETTINGS_MODULE": "videogen.settings",
                "DATABASE_URL": database_url,
                "MEDIA_ROOT": str(folder / "media"),
                "RUNWAY_POLL_INTERVAL": "1",
                "RUNWAY_SIMULATOR_CONTROL_TOKEN": token,
                "Q_NAME": f"bench-{uuid.uuid4().hex[:8]}",
                "Q_WORKERS": "2",
            }
            if args.quick or args.lease:
                env["PIPELINE_LEASE_SECONDS"] = str(args.lease or 10)
            if args.recover_interval is not None:
                env["PIPELINE_RECOVER_INTERVAL"] = str(args.recover_interval)
            simulator, base_url = start_simulator(folder, env)
            try:
                env["RUNWAY_API_BASE"] = base_url
                setup_django(**env, LOG_LEVEL="WARNING")
                migrate()
                from django.conf import settings

                from generation.simulator import SimulatorControl

                lease, sweep = settings.PIPELINE_LEASE_SECONDS, settings.PIPELINE_RECOVER_INTERVAL
                ctx = {
                    "folder": folder,
                    "env": env,
                    "control": SimulatorControl(base_url, SIMULATED_KEY, token),
                }
                ctx["user"], ctx["project"], ctx["references"] = make_project(
                    username="bench", credits=100_000
                )
                print(
                    f"lease {lease} s (renewed every {lease / 3:.0f} s), recovery sweep every {sweep:.0f} s"
                )
                for number in range(1, args.runs + 1):
                    figures = run(ctx, lease=lease)
                    print(f"run {number}: " + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items() if k != "versions")
                          + f", film versions {figures['versions']:.0f}")  # fmt: skip
            finally:
                simulator.stop()


if __name__ == "__main__":
    main()
