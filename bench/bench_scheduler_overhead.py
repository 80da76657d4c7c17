"""Benchmark: scheduler overhead of one nightly run, LocalExecutor against CeleryExecutor.

For each executor, starts a real deployment on loopback (tests/ops/topology.py: PostgreSQL, plus
Redis and a Celery worker for Celery; api-server, scheduler, dag-processor), triggers ``ecom_nightly``
for the small synthetic shop through the REST API, and compares the sum of the task instances' run
times (end - start, from /api/v2) with the run's wall time (the DAG run's end - start). The
difference is what scheduling, queueing, worker start-up and state reporting cost. ``--repeat``
runs the following days on the same deployment, so the first (cold) run can be told from warm ones.

Usage:
    .venv/bin/python bench/bench_scheduler_overhead.py                       # both executors, 1 run each
    .venv/bin/python bench/bench_scheduler_overhead.py --repeat 2 --executors CeleryExecutor
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.ops.topology lives in the repo

from tests.ops.topology import (
    RUN_DS,
    SMALL_SHOP,
    airflow_stack,
    missing_prerequisites,
    run_nightly,
    task_seconds,
)

log = logging.getLogger("bench_scheduler_overhead")
EXECUTORS = ("LocalExecutor", "CeleryExecutor")


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return float("nan")
    return (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)).total_seconds()


def measure(run: dict[str, Any], tis: list[dict[str, Any]], trigger_to_done: float) -> dict[str, float]:
    """Wall time, summed task time, their difference, and the mean queued -> running delay."""
    wall = _seconds(run["start_date"], run["end_date"])
    busy = sum(task_seconds(ti) for ti in tis)
    waits = [_seconds(ti.get("queued_when"), ti.get("start_date")) for ti in tis if ti.get("queued_when")]
    return {
        "tasks": len(tis),
        "wall_s": wall,
        "task_sum_s": busy,
        "overhead_s": wall - busy,
        "overhead_pct": 100 * (wall - busy) / wall if wall else float("nan"),
        "mean_queue_wait_s": sum(waits) / len(waits) if waits else float("nan"),
        "trigger_to_done_s": trigger_to_done,
    }


def bench_executor(executor: str, repeat: int) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"bench_overhead_{executor}_") as tmp:
        began = time.monotonic()
        with airflow_stack(Path(tmp), executor=executor) as stack:
            startup = time.monotonic() - began
            for i in range(repeat):
                ds = (dt.date.fromisoformat(RUN_DS) + dt.timedelta(days=i)).isoformat()
                result = run_nightly(stack, ds, SMALL_SHOP, timeout=600)
                if result.run["state"] != "success":
                    log.error(
                        "%s run for %s ended %s\n%s", executor, ds, result.run["state"], stack.diagnostics()
                    )
                    raise SystemExit(1)
                row = {"executor": executor, "ds": ds, "startup_s": startup if i == 0 else float("nan")}
                row.update(measure(result.run, result.task_instances, result.seconds_to_finish))
                rows.append(row)
                log.info("%s ds=%s: %s", executor, ds, {k: v for k, v in row.items() if k != "executor"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executors", nargs="+", default=list(EXECUTORS), choices=EXECUTORS)
    parser.add_argument(
        "--repeat", type=int, default=1, help="nightly runs per executor (days from 2024-01-05)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    for name in ("httpx", "tests.ops.services", "tests.ops.topology"):
        logging.getLogger(name).setLevel(logging.WARNING)

    rows = []
    for executor in args.executors:
        missing = missing_prerequisites(executor)
        if missing:
            log.warning("skipping %s: needs %s (scripts/ci_services.sh installs them)", executor, missing)
            continue
        rows += bench_executor(executor, args.repeat)

    log.info("\nshop: %s; one row per nightly run", SMALL_SHOP)
    header = (
        f"{'executor':<15} {'ds':<10} {'tasks':>5} {'wall s':>7} {'task sum s':>10} "
        f"{'overhead s':>10} {'overhead %':>10} {'queue wait s':>12} {'trigger->done s':>15} {'startup s':>9}"
    )
    log.info(header)
    for r in rows:
        log.info(
            f"{r['executor']:<15} {r['ds']:<10} {r['tasks']:>5} {r['wall_s']:>7.1f} {r['task_sum_s']:>10.1f} "
            f"{r['overhead_s']:>10.1f} {r['overhead_pct']:>10.0f} {r['mean_queue_wait_s']:>12.1f} "
            f"{r['trigger_to_done_s']:>15.1f} {r['startup_s']:>9.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
