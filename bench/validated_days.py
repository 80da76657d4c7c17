"""A source's canonical tables written as validated daily partitions, as the nightly's validate
step leaves them: what the stage benchmarks start from (Online Retail II for bench_heads_,
bench_forecast_ and bench_anomalies_online_retail.py; the large synthetic shop for
bench_anomalies_ and bench_forecast_synthetic.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.contract import EVENTS, ITEMS, USERS
from ecom_tasks.features import store
from ecom_tasks.sources.online_retail import read_online_retail
from ecom_tasks.sources.synthetic import generate


def write_validated(root: str, source: Path) -> dt.date:
    """Online Retail II's tables as validated daily partitions under ``root``; returns the last day.

    A root that already holds the last day is reused as it is (a rerun of a benchmark).
    """
    tables = read_online_retail(source)
    events = tables.events
    day_of = events[contract.TS].dt.date
    days = sorted(set(day_of))
    first, last = days[0], days[-1]
    if storage.read_manifest(storage.partition_uri(root, "validated", EVENTS, last)) is not None:
        return last
    for d in (first + dt.timedelta(days=i) for i in range((last - first).days + 1)):
        end = pd.Timestamp(d + dt.timedelta(days=1), tz="UTC")
        part = events[(day_of == d).to_numpy()].reset_index(drop=True)
        storage.write_partition(part, storage.partition_uri(root, "validated", EVENTS, d), source="bench")
        for table, frame in ((ITEMS, tables.items), (USERS, tables.users)):
            snap = frame[frame[contract.FIRST_SEEN] < end].reset_index(drop=True)
            storage.write_partition(snap, storage.partition_uri(root, "validated", table, d), source="bench")
    return last


def write_synthetic(root: str, n_events: int, days: int, seed: int) -> list[dt.date]:
    """bench_synthetic's shop of ``n_events`` over about ``days`` days as validated partitions.

    What validation keeps is written (duplicate event ids and unknown items dropped); returns the days.
    A root that already holds validated days is reused as it is (a rerun of a benchmark).
    """
    from bench.bench_synthetic import bench_config

    have = store.event_days(root, None, dt.date(2100, 1, 1))
    if have:
        return have
    cfg = bench_config(n_events, days, seed)
    total, written = 0, []
    for day, tables in generate(cfg, cfg.opening, cfg.opening + dt.timedelta(days=10 * days)):
        items = tables.items
        events = tables.events.drop_duplicates(contract.EVENT_ID)
        events = events[events[contract.ITEM_ID].isin(items[contract.ITEM_ID])].reset_index(drop=True)
        for table, frame in ((EVENTS, events), (ITEMS, items), (USERS, tables.users)):
            uri = storage.partition_uri(root, catalog.VALIDATED, table, day)
            storage.write_partition(frame.reset_index(drop=True), uri, source="bench")
        total += len(events)
        written.append(day)
        if total >= n_events:
            break
    print(f"wrote {total:,} events over {len(written)} days")
    return written


def add_synthetic_arguments(parser: argparse.ArgumentParser, days: int) -> None:
    """``--root``, ``--events``, ``--days`` and ``--seed`` of a benchmark on the synthetic shop."""
    parser.add_argument("--root", default=None, help="data root to prepare or reuse (default: a temp dir)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--seed", type=int, default=7)


def prepare_synthetic(args: argparse.Namespace, prefix: str) -> tuple[str, list[dt.date]]:
    """The data root of ``args`` (a new temp dir by default) with its validated days, timed."""
    root = args.root or tempfile.mkdtemp(prefix=prefix)
    t = time.perf_counter()
    days = write_synthetic(root, args.events, args.days, args.seed)
    print(f"data root {root}: {len(days)} validated days ready in {time.perf_counter() - t:.1f} s")
    return root, days
