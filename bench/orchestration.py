"""Figures for the take pipeline under load (not a test): `.venv/bin/python bench/orchestration.py [--quick]`.

N takes in flight against the simulator (its own process; tasks pend 1 s then run for max(20, N/6) s,
within Runway's real 30-120 s for the larger N, so that all N submissions fit in one task's run,
plus up to one poll interval of jitter; clips rendered at a tenth of their size; no concurrency
limit), carried two ways in the same run:

- sweep: the real design. One qcluster (2 workers) submits and downloads; `manage.py runway_poller`
  polls every in-flight take in one sweep per RUNWAY_POLL_INTERVAL (5 s, Runway's cadence).
- naive: the same qcluster, but in place of the poller one thread per take, each blocked in
  GET + sleep(interval) until its task leaves PENDING/RUNNING, recording it with the same code
  (pipeline.apply_task_state). This is "one worker per take" at its cheapest: threads, not processes.

For each: lag from the simulated task finishing (its SUCCEEDED event, wall clock) to the take leaving
PENDING/RUNNING (seen by reading the database every 0.1 s), p50 and p95; CPU (user + system, from
/proc) of the polling process and of the qcluster tree over the run, per take; the polling process's
threads and peak RSS. Target: p95 lag <= interval + 1 s at N = 200.

Takes are unstitched gen4_turbo shots of 2 s with a reference image, started with
pipeline.start_sequence, 10 shots per sequence. A scratch SQLite file (or `--database-url
postgres://postgres@127.0.0.1:5432/<new name>`, created and dropped) and a temporary MEDIA_ROOT.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    Child,
    make_project,
    manage,
    migrate,
    percentile,
    scratch_database,
    setup_django,
    status_value,
    temp_folder,
    tree_cpu_seconds,
)

SIMULATED_KEY = "key_" + "0" * 128
SHOTS_PER_SEQUENCE = 10
DB_READ_EVERY = 0.1
IN_FLIGHT = ("pending", "throttled", "running")
NOT_YET = ("queued", "submitting", *IN_FLIGHT)
FINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Run:
    n: int
    design: str
    running_seconds: float
    submit_span: float  # from the first start_sequence to the last take reaching Runway
    peak_in_flight: int
    lags: list[float]
    polling_cpu: float
    cluster_cpu: float
    simulator_cpu: float
    polling_threads: int
    polling_rss_mb: float
    window: float
    failures: list[str]


# --- the naive design: one blocked poller per take (runs as a child process) ---------------------


def naive_poller(interval: float) -> None:
    """Watch for takes that reached Runway; give each its own thread doing GET + sleep until done."""
    setup_django()
    from django.db import connection

    from generation import pipeline, runway
    from generation.models import Take

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # SQLite connections are cheap to keep, one per thread. PostgreSQL allows ~100 in all, so there
    # each thread gives its connection back after every write, and at most 50 write at once.
    keep_connections = connection.vendor == "sqlite"
    writers = threading.BoundedSemaphore(50)

    def watch(take: Take) -> None:
        client = runway.client_from_settings(max_retries=0)
        while not stop.wait(interval):
            try:
                state = client.get_task(take.runway_task_id)
            except runway.RunwayError as exc:
                state = exc
            with writers:
                pipeline.apply_task_state(take, state)
                if not keep_connections:
                    connection.close()
            if isinstance(state, runway.TaskState) and state.status.lower() not in IN_FLIGHT:
                return

    threads: dict[int, threading.Thread] = {}
    while not stop.wait(0.2):
        ids = set(
            Take.objects.filter(status__in=IN_FLIGHT, runway_task_id__isnull=False).values_list(
                "pk", flat=True
            )
        )
        for take in Take.objects.filter(pk__in=ids - threads.keys()):
            threads[take.pk] = threading.Thread(target=watch, args=(take,), daemon=True)
            threads[take.pk].start()
    for thread in threads.values():
        thread.join(interval + 5)


# --- one run ------------------------------------------------------------------------------------


def make_sequences(n: int, *, user, project, reference_set, interval: float) -> list:
    from projects.models import Sequence, Shot

    images = list(reference_set.images.all())
    # Runway's tasks take varying times. With one fixed duration every take would finish at the same
    # point of its poll cycle and the lag would measure that point, not the design; so each task
    # runs up to one poll interval longer (the simulator's `[sim:slow=s]` prompt marker).
    rng = random.Random(n)
    sequences = []
    for first in range(0, n, SHOTS_PER_SEQUENCE):
        sequence = Sequence.objects.create(
            project=project,
            title=f"Bench {uuid.uuid4().hex[:6]}",
            model="gen4_turbo",
            ratio="1280:720",
            is_stitched=False,
            has_audio=False,
            reference_set=reference_set,
            created_by=user,
        )
        for position in range(min(SHOTS_PER_SEQUENCE, n - first)):
            Shot.objects.create(
                sequence=sequence,
                position=position,
                prompt=f"A slow push through room {position + 1} [sim:slow={rng.uniform(0, interval):.2f}]",
                duration=2,
                first_frame=Shot.FirstFrame.REFERENCE,
                first_frame_image=images[position % len(images)],
            )
        sequences.append(sequence)
    return sequences


def succeeded_at(task: dict) -> float | None:
    for event in task["events"]:
        if event["status"] == "SUCCEEDED" and event["at"]:
            moment = dt.datetime.strptime(event["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
            return moment.timestamp()
    return None


def run(n: int, design: str, *, ctx: dict, interval: float, running_seconds: float) -> Run:
    from generation import pipeline
    from generation.models import Take
    from projects.models import Sequence

    folder: Path = ctx["folder"]
    control = ctx["control"]
    configure_simulator(control, running_seconds=running_seconds)
    sequences = make_sequences(
        n, user=ctx["user"], project=ctx["project"], reference_set=ctx["references"], interval=interval
    )
    cluster = Child(f"qcluster-{n}-{design}", manage("qcluster"), env=ctx["env"], log_dir=folder)
    if design == "sweep":
        polling = Child(f"poller-{n}", manage("runway_poller"), env=ctx["env"], log_dir=folder)
    else:
        args = [sys.executable, __file__, "--naive-poller", "--interval", str(interval)]
        polling = Child(f"naive-{n}", args, env=ctx["env"], log_dir=folder)
    try:
        wait_for_log(cluster, "running.")
        time.sleep(1.0)  # the poller's imports, at the same time as the cluster's
        cpu_before = (
            tree_cpu_seconds(cluster.pid),
            tree_cpu_seconds(polling.pid),
            tree_cpu_seconds(ctx["simulator_pid"]),
        )
        started = time.monotonic()
        for sequence in sequences:
            pipeline.start_sequence(sequence, user=ctx["user"])

        left_at: dict[int, float] = {}
        submitted_by = started
        peak_in_flight = peak_threads = 0
        deadline = started + 120 + 0.6 * n + 3 * running_seconds
        takes = Take.objects.filter(shot__sequence__in=sequences)
        while time.monotonic() < deadline:
            seen, seen_clock = time.time(), time.monotonic()
            rows = list(takes.values_list("pk", "status", "runway_task_id"))
            for pk, status, _ in rows:
                if status not in NOT_YET:
                    left_at.setdefault(pk, seen)
            in_flight = sum(1 for _, status, _ in rows if status in IN_FLIGHT)
            peak_in_flight = max(peak_in_flight, in_flight)
            if submitted_by == started and all(task_id or status in FINAL for _, status, task_id in rows):
                submitted_by = seen_clock
            peak_threads = max(peak_threads, status_value(polling.pid, "Threads"))
            if len(rows) == n and all(status in FINAL for _, status, _ in rows):
                break
            time.sleep(DB_READ_EVERY)
        else:
            print(f"  ! N={n} {design}: not every take finished in time", file=sys.stderr)
        window = time.monotonic() - started
        cluster_cpu = tree_cpu_seconds(cluster.pid) - cpu_before[0]
        polling_cpu = tree_cpu_seconds(polling.pid) - cpu_before[1]
        simulator_cpu = tree_cpu_seconds(ctx["simulator_pid"]) - cpu_before[2]
        polling_rss = status_value(polling.pid, "VmHWM") / 1024
        # Let assemblies finish so that no queued work leaks into the next run's cluster.
        finish_by = time.monotonic() + 120
        while (
            time.monotonic() < finish_by
            and Sequence.objects.filter(
                pk__in=[s.pk for s in sequences], status__in=("running", "assembling")
            ).exists()
        ):
            time.sleep(0.5)
    finally:
        polling.stop()
        cluster.stop()

    finished = {task["id"]: succeeded_at(task) for task in control.tasks()}
    lags = []
    for take in Take.objects.filter(shot__sequence__in=sequences, status="succeeded"):
        runway_done = finished.get(take.runway_task_id)
        if runway_done is not None and take.pk in left_at:
            lags.append(left_at[take.pk] - runway_done)
    control.reset()  # keeps the simulator's per-request work small for the next run
    return Run(
        n=n,
        design=design,
        running_seconds=running_seconds,
        submit_span=submitted_by - started,
        peak_in_flight=peak_in_flight,
        lags=lags,
        polling_cpu=polling_cpu,
        cluster_cpu=cluster_cpu,
        simulator_cpu=simulator_cpu,
        polling_threads=peak_threads,
        polling_rss_mb=polling_rss,
        window=window,
        failures=[
            f"{code}: {message}"
            for code, message in takes.exclude(status="succeeded").values_list(
                "failure_code", "failure_message"
            )
        ],
    )


# --- setup and report ---------------------------------------------------------------------------


def configure_simulator(control, *, running_seconds: float) -> None:
    from generation.simulator.config import SIMULATED_MODELS

    unlimited = {"max_concurrent_generations": 1_000_000, "max_daily_generations": 1_000_000}
    control.configure(
        pending_seconds=1.0,
        running_seconds=running_seconds,
        render_scale=0.1,
        credit_balance=100_000_000,
        max_monthly_credit_spend=100_000_000,
        limits={model: unlimited for model in SIMULATED_MODELS},
    )


def wait_for_log(child: Child, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = child.log_path.read_text(errors="replace")
        if text in log:
            return log
        if child.proc.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"{child.name} did not log {text!r}:\n{child.log_tail()}")


def start_simulator(folder: Path, env: dict[str, str]) -> tuple[Child, str]:
    simulator = Child("simulator", manage("runway_simulator", "--port", "0"), env=env, log_dir=folder)
    try:
        log = wait_for_log(simulator, "listening on")
    except SystemExit:
        simulator.stop()
        raise
    return simulator, re.search(r"listening on (http://\S+)", log).group(1)


def print_report(runs: list[Run], *, interval: float) -> None:
    print(
        f"\n{'N':>4} {'design':<6} {'run':>4} {'peak':>5} {'submit':>7} {'lag p50':>8} {'lag p95':>8} "
        f"{'poll CPU':>9} {'cluster CPU':>12} {'threads':>8} {'poll RSS':>9} {'window':>7} {'failed':>6}"
    )
    print(
        f"{'':>4} {'':<6} {'s':>4} {'in fl.':>5} {'s':>7} {'s':>8} {'s':>8} {'ms/take':>9} {'ms/take':>12} "
        f"{'peak':>8} {'MB':>9} {'s':>7} {'':>6}"
    )
    for r in runs:
        print(
            f"{r.n:>4} {r.design:<6} {r.running_seconds:>4.0f} {r.peak_in_flight:>5} {r.submit_span:>7.1f} "
            f"{percentile(r.lags, 0.5):>8.2f} {percentile(r.lags, 0.95):>8.2f} "
            f"{1000 * r.polling_cpu / r.n:>9.1f} {1000 * r.cluster_cpu / r.n:>12.1f} "
            f"{r.polling_threads:>8} {r.polling_rss_mb:>9.0f} {r.window:>7.0f} {len(r.failures):>6}"
        )
    for r in runs:
        for failure in sorted(set(r.failures)):
            print(f"  N={r.n} {r.design} failed {r.failures.count(failure)}x: {failure[:200]}")
    print("\nnaive / sweep (polling process only):")
    by_key = {(r.n, r.design): r for r in runs}
    for n in sorted({r.n for r in runs}):
        sweep, naive = by_key.get((n, "sweep")), by_key.get((n, "naive"))
        if sweep and naive:
            print(
                f"  N={n:>3}: CPU x{naive.polling_cpu / max(sweep.polling_cpu, 1e-9):.2f}, "
                f"threads x{naive.polling_threads / max(sweep.polling_threads, 1):.0f}, "
                f"RSS x{naive.polling_rss_mb / max(sweep.polling_rss_mb, 1e-9):.2f}, "
                f"p95 lag {percentile(naive.lags, 0.95):.2f} s vs {percentile(sweep.lags, 0.95):.2f} s"
            )
    print("\nWhere the CPU went (2 cores; the simulator renders every clip with ffmpeg on the same cores):")
    for r in runs:
        used = r.polling_cpu + r.cluster_cpu + r.simulator_cpu
        print(
            f"  N={r.n:>4} {r.design}: simulator {r.simulator_cpu:.0f} s, qcluster {r.cluster_cpu:.0f} s, "
            f"polling {r.polling_cpu:.0f} s: {100 * used / (2 * r.window):.0f}% of both cores over the {r.window:.0f} s window"
        )
    target = interval + 1
    for r in runs:
        if r.design == "sweep" and r.n == 200:
            p95 = percentile(r.lags, 0.95)
            verdict = "met" if p95 <= target else "MISSED"
            print(f"\nTarget p95 lag <= {target:.0f} s at N=200 (sweep): {p95:.2f} s, {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=50 only, 8 s tasks (about a minute)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 400])
    parser.add_argument("--database-url", help="postgres://user@host:port/<new database> (default: SQLite)")
    parser.add_argument("--interval", type=float, default=5.0, help="RUNWAY_POLL_INTERVAL (default 5)")
    parser.add_argument("--running-seconds", type=float, help="task run time (default: max(20, N/6))")
    parser.add_argument("--designs", nargs="+", default=["sweep", "naive"], choices=["sweep", "naive"])
    parser.add_argument("--naive-poller", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_poller:
        naive_poller(args.interval)
        return
    sizes = [50] if args.quick else args.sizes

    with temp_folder("bench-orchestration-") as tmp:
        folder = Path(tmp)
        with scratch_database(args.database_url, folder=folder) as database_url:
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("RUNWAY_", "PIPELINE_"))},
                "DJANGO_SETTINGS_MODULE": "videogen.settings",
                "DATABASE_URL": database_url,
                "MEDIA_ROOT": str(folder / "media"),
                "RUNWAY_POLL_INTERVAL": str(args.interval),
                "Q_NAME": f"bench-{uuid.uuid4().hex[:8]}",
                "Q_WORKERS": "2",
                # The bench arms the simulator's faults through its control endpoints.
                "RUNWAY_SIMULATOR_CONTROL_TOKEN": secrets.token_urlsafe(32),
            }
            simulator, base_url = start_simulator(folder, env)
            try:
                env["RUNWAY_API_BASE"] = base_url
                # The bench's own enqueue messages would drown the figures; the children keep INFO.
                setup_django(**env, LOG_LEVEL="WARNING")
                migrate()
                from generation.simulator import SimulatorControl

                control = SimulatorControl(
                    base_url, SIMULATED_KEY, control_token=env["RUNWAY_SIMULATOR_CONTROL_TOKEN"]
                )
                user, project, references = make_project(username="bench", credits=10_000_000)
                ctx = {
                    "folder": folder,
                    "env": env,
                    "control": control,
                    "user": user,
                    "project": project,
                    "references": references,
                    "simulator_pid": simulator.pid,
                }
                print(
                    f"{os.cpu_count()} CPUs; database {database_url.split(':')[0]}; poll interval {args.interval} s; "
                    "qcluster with 2 workers"
                )
                runs = []
                for n in sizes:
                    for design in args.designs:
                        running = args.running_seconds or (8.0 if args.quick else max(20.0, n / 6))
                        result = run(n, design, ctx=ctx, interval=args.interval, running_seconds=running)
                        print(
                            f"  N={n} {design}: {len(result.lags)} lags, p95 {percentile(result.lags, 0.95):.2f} s, "
                            f"window {result.window:.0f} s",
                            flush=True,
                        )
                        runs.append(result)
                print_report(runs, interval=args.interval)
            finally:
                simulator.stop()
                from django.db import connections

                connections.close_all()


if __name__ == "__main__":
    main()
