"""Benchmark: generate a synthetic shop of N events (default 10 million) and write it day by day.

Each day's events, items and users are written as raw/{table}/ds=YYYY-MM-DD partitions with
``ecom_tasks.storage.write_partition`` under a temporary root, as the ingest task would. Prints wall
time (split into generating and writing), events per second and peak RSS.

Usage:
    .venv/bin/python bench/bench_synthetic.py                    # 10M events, 200k users, ~60 days
    .venv/bin/python bench/bench_synthetic.py --events 1000000   # a smaller run
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import resource
import sys
import tempfile
import time

from ecom_tasks.contract import EVENTS, ITEMS, USERS
from ecom_tasks.sources.synthetic import SyntheticShopConfig, generate
from ecom_tasks.storage import partition_uri, write_partition

log = logging.getLogger("bench_synthetic")
EVENTS_PER_USER_SESSION = 7.0  # ~6 events a session, plus the anonymous sessions that come along


def bench_config(n_events: int, days: int, seed: int) -> SyntheticShopConfig:
    """A shop sized so that ``n_events`` take about ``days`` days: 50 events per customer."""
    users = max(2_000, n_events // 50)
    return SyntheticShopConfig(
        seed=seed,
        n_users=users,
        n_items=max(400, users // 10),
        signups_per_day=users / 1_000,
        new_items_per_day=users / 20_000,
        sessions_per_user_day=n_events / days / (users * EVENTS_PER_USER_SESSION),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events to generate")
    parser.add_argument("--days", type=int, default=60, help="days the events should span (roughly)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--root", default=None, help="data root (default: a temporary folder)")
    parser.add_argument("--no-write", action="store_true", help="generate only, write nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("ecom_tasks.storage").setLevel(logging.WARNING)  # one line per partition is noise here
    cfg = bench_config(args.events, args.days, args.seed)
    log.info(
        "config: users=%d items=%d sessions/user/day=%.4f",
        cfg.n_users,
        cfg.n_items,
        cfg.sessions_per_user_day,
    )
    with tempfile.TemporaryDirectory(prefix="bench_synthetic_") as tmp:
        root = args.root or tmp
        total, days = 0, 0
        gen_s = 0.0
        written = dict.fromkeys((EVENTS, ITEMS, USERS), 0)
        write_s = dict.fromkeys((EVENTS, ITEMS, USERS), 0.0)
        start = time.perf_counter()
        end = cfg.opening + dt.timedelta(days=10 * args.days)  # open-ended: stop at the event count
        tick = time.perf_counter()
        for day, tables in generate(cfg, cfg.opening, end):
            gen_s += time.perf_counter() - tick
            if not args.no_write:
                for table in (EVENTS, ITEMS, USERS):
                    df = getattr(tables, table)
                    uri = partition_uri(root, "raw", table, day)
                    t0 = time.perf_counter()
                    write_partition(
                        df, uri, source="synthetic", extra=tables.stats if table == EVENTS else None
                    )
                    write_s[table] += time.perf_counter() - t0
                    written[table] += len(df)
            total += len(tables.events)
            days += 1
            if total >= args.events:
                break
            tick = time.perf_counter()
        wall = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log.info(
        "days=%d events=%d last-day users=%d items=%d", days, total, len(tables.users), len(tables.items)
    )
    log.info("rows written: %s", written)
    log.info("wall %.1f s (generate %.1f s, write %.1f s)", wall, gen_s, sum(write_s.values()))
    log.info("write seconds by table: %s", {k: round(v, 1) for k, v in write_s.items()})
    log.info("%.0f events/s overall, %.0f events/s generating", total / wall, total / max(gen_s, 1e-9))
    log.info("peak RSS %.0f MiB", peak_mib)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
