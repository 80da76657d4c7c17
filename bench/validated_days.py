"""A source's canonical tables written as validated daily partitions, as the nightly's validate
step leaves them: what the stage benchmarks on Online Retail II start from (shared by
bench_heads_, bench_forecast_ and bench_anomalies_online_retail.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from ecom_tasks import contract, storage
from ecom_tasks.contract import EVENTS, ITEMS, USERS
from ecom_tasks.sources.online_retail import read_online_retail


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
