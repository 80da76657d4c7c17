"""Writing a hand-made shop straight into validated partitions, for tests of the stages after validation."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ecom_tasks import contract, storage
from ecom_tasks.contract import EVENTS, ITEMS, USERS


def write_validated(
    root: str, start: dt.date, n_days: int, ev: pd.DataFrame, it: pd.DataFrame, us: pd.DataFrame
) -> None:
    """Each day's events, and the full item and user tables as every day's snapshot."""
    day_of = ev[contract.TS].dt.date
    for d in range(n_days):
        day = start + dt.timedelta(days=d)
        part = ev[day_of == day].reset_index(drop=True)
        storage.write_partition(part, storage.partition_uri(root, "validated", EVENTS, day), source="test")
        for table, frame in ((ITEMS, it), (USERS, us)):
            storage.write_partition(
                frame, storage.partition_uri(root, "validated", table, day), source="test"
            )
