"""Figures for the balance check (not a test): `.venv/bin/python bench/credits.py [--quick]`.

Latency of one reserve + settle (`credits.reserve` then `credits.settle`, each its own transaction,
with a project) for a user with 0, 100k and 1M ledger entries of history (--quick: 0 and 10k),
200 iterations per size after 20 warm-up ones: median and p95, and their ratio to the empty case.
Target: at 1M at most 1.5x the empty case, because the check reads running figures, not the ledger.

History is written fast: bulk_create of hold + settle pairs for the same user and project, dated
400 days back, then `recompute_figures(fix=True)` brings the running figures in line with it (as
`check_ledger --fix` would) and `recompute_figures()` is timed as the audit's cost. Sizes grow in
one database: each adds entries up to the next size. On PostgreSQL the tables are ANALYZEd after
filling, as autovacuum would do on a live database.

SQLite by default (a temporary file); `--database-url postgres://...` creates that database and
drops it at the end. Everything runs in this process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import migrate, percentile, scratch_database, setup_django, temp_folder  # noqa: E402

BATCH = 5_000


def fill_history(user, project, *, entries: int) -> None:
    """Add `entries` ledger rows (hold + settle pairs) dated 400 days back."""
    from django.db import transaction

    from generation.models import LedgerEntry

    Kind = LedgerEntry.Kind
    at = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    pairs = entries // 2
    for start in range(0, pairs, BATCH):
        size = min(BATCH, pairs - start)
        with transaction.atomic():
            holds = LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    user=user, project=project, kind=Kind.HOLD, credits=10, reason="history", created_at=at
                )
                for _ in range(size)
            )
            LedgerEntry.objects.bulk_create(
                LedgerEntry(
                    user=user,
                    project=project,
                    kind=Kind.SETTLE,
                    credits=10,
                    hold_id=hold.pk,
                    reason="history",
                    created_at=at,
                )
                for hold in holds
            )


def analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def measure(user, project, *, iterations: int, warm_up: int = 20) -> tuple[list[float], list[float]]:
    """Seconds per reserve + settle, and per reserve alone."""
    from generation import credits

    both, reserves = [], []
    for n in range(warm_up + iterations):
        started = time.perf_counter()
        hold = credits.reserve(user, credits=10, reason="bench", project=project)
        reserved = time.perf_counter()
        credits.settle(hold, credits=8, reason="bench")
        done = time.perf_counter()
        if n >= warm_up:
            both.append(done - started)
            reserves.append(reserved - started)
    return both, reserves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 0 and 10k, 50 iterations")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 100_000, 1_000_000])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--database-url", help="postgres://user@host:port/<new database> (default: SQLite)")
    args = parser.parse_args()
    sizes = [0, 10_000] if args.quick else sorted(args.sizes)
    iterations = 50 if args.quick else args.iterations

    with temp_folder("bench-credits-") as tmp:
        with scratch_database(args.database_url, folder=Path(tmp)) as database_url:
            setup_django(
                DATABASE_URL=database_url,
                LOG_LEVEL="WARNING",
                EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            )
            migrate()
            from django.contrib.auth import get_user_model

            from generation import credits
            from generation.models import LedgerEntry
            from projects.models import Membership, Project

            user = get_user_model().objects.create_user("bench", "bench@example.com")
            # Far from any alert level: the figures are the spend path, not mail.
            credits.set_monthly_limit(user, credits=1_000_000_000)
            project = Project.objects.create(name="Bench project", created_by=user)
            Membership.objects.create(project=project, user=user, role=Membership.Role.OWNER)
            credits.set_project_limit(project, credits=1_000_000_000)

            print(
                f"{os.cpu_count()} CPUs; database {database_url.split(':')[0]}; "
                f"{iterations} reserve + settle per size"
            )
            rows = []
            for size in sizes:
                missing = size - LedgerEntry.objects.filter(reason="history").count()
                fill_seconds = audit_seconds = 0.0
                if missing > 0:
                    started = time.perf_counter()
                    fill_history(user, project, entries=missing)
                    credits.recompute_figures(fix=True)
                    analyze()
                    fill_seconds = time.perf_counter() - started
                    started = time.perf_counter()
                    mismatches = credits.recompute_figures()
                    audit_seconds = time.perf_counter() - started
                    if mismatches:
                        print(f"  {len(mismatches)} running figures differ from the ledger", flush=True)
                both, reserves = measure(user, project, iterations=iterations)
                row = {
                    "size": size,
                    "entries": LedgerEntry.objects.count(),
                    "p50": statistics.median(both) * 1000,
                    "p95": percentile(both, 0.95) * 1000,
                    "reserve_p50": statistics.median(reserves) * 1000,
                    "fill": fill_seconds,
                    "audit": audit_seconds,
                }
                rows.append(row)
                print(
                    f"  {size:>9,} history entries: reserve + settle p50 {row['p50']:.2f} ms, "
                    f"p95 {row['p95']:.2f} ms (reserve alone p50 {row['reserve_p50']:.2f} ms); "
                    f"filled in {fill_seconds:.0f} s, check_ledger's recompute {audit_seconds:.1f} s",
                    flush=True,
                )
            base = rows[0]
            print("\nhistory    p50 ms   p95 ms   p50 / empty   p95 / empty")
            for row in rows:
                print(
                    f"{row['size']:>9,}  {row['p50']:7.2f}  {row['p95']:7.2f}  "
                    f"{row['p50'] / base['p50']:11.2f}  {row['p95'] / base['p95']:11.2f}"
                )


if __name__ == "__main__":
    main()
