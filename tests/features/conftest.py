"""Builders for small canonical shops used by the feature tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract, storage
from ecom_tasks.contract import EVENTS, ITEMS, USERS

START = dt.date(2024, 1, 1)


def events(rows: list[tuple]) -> pd.DataFrame:
    """Canonical events from ``(event_id, ts, user, session, item, type, qty, price, order, country)``."""
    return contract.conform(pd.DataFrame(rows, columns=contract.columns(EVENTS)), EVENTS)


def items(rows: list[tuple]) -> pd.DataFrame:
    """Canonical items from ``(item_id, title, category, price, first_seen)``."""
    return contract.conform(pd.DataFrame(rows, columns=contract.columns(ITEMS)), ITEMS)


def users(rows: list[tuple]) -> pd.DataFrame:
    """Canonical users from ``(user_id, first_seen, country)``."""
    return contract.conform(pd.DataFrame(rows, columns=contract.columns(USERS)), USERS)


def random_shop(n_days: int = 12, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small random shop: views, carts, purchases in orders, returns, anonymous visitors, items
    without a title or category, zero prices, a quiet day (views only) and an empty day."""
    rng = np.random.default_rng(seed)
    rows = []
    k = 0
    for d in range(n_days):
        day = pd.Timestamp(START + dt.timedelta(days=d), tz="UTC")
        if d == 4:
            continue  # an empty day
        for s in range(int(rng.integers(4, 9))):
            user = None if rng.random() < 0.2 else f"u{int(rng.integers(0, 12)):02d}"
            t = day + pd.Timedelta(minutes=int(rng.integers(0, 23 * 60)))
            order = f"o{d:02d}{s}"
            for _ in range(int(rng.integers(1, 6))):
                item = f"i{int(rng.integers(0, 9))}"
                et = rng.choice(["view", "add_to_cart", "purchase", "return"], p=[0.5, 0.2, 0.25, 0.05])
                if d == 6 and et in ("purchase", "return"):
                    et = "view"  # a day with no purchases
                qty = int(rng.integers(1, 4))
                price = 0.0 if item == "i8" else float(rng.integers(1, 20))
                oid = order if et == "purchase" else (f"c{order}" if et == "return" else None)
                rows.append(
                    (
                        f"e{k}",
                        t,
                        user,
                        f"s{d}{s}",
                        item,
                        et,
                        -qty if et == "return" else qty,
                        price,
                        oid,
                        "GB",
                    )
                )
                k += 1
                t += pd.Timedelta(seconds=int(rng.integers(0, 600)))
    ev = events(rows)
    it = items(
        [
            (
                f"i{i}",
                None if i in (3, 8) else f"Item {i} Mug",
                None if i == 5 else f"cat{i % 3}",
                0.0 if i == 8 else 5.0,
                "2023-12-01T00:00Z",
            )
            for i in range(9)
        ]
        + [("i9", "Never Sold", "cat0", 3.0, "2024-01-05T00:00Z")]
    )
    us = users(
        [(f"u{u:02d}", f"2023-12-{u + 1:02d}T00:00Z", "GB" if u % 2 else None) for u in range(12)]
        + [("u99", "2024-01-03T00:00Z", "FR")]
    )
    return ev, it, us


def write_shop(root: str, ev: pd.DataFrame, it: pd.DataFrame, us: pd.DataFrame, days: list[dt.date]) -> None:
    """Write validated partitions: the day's events and the snapshots as of the end of each day."""
    day_of = ev[contract.TS].dt.date
    for d in days:
        end = pd.Timestamp(d + dt.timedelta(days=1), tz="UTC")
        part = ev[day_of == d].reset_index(drop=True)
        storage.write_partition(part, storage.partition_uri(root, "validated", EVENTS, d), source="test")
        for table, frame in ((ITEMS, it), (USERS, us)):
            snap = frame[frame[contract.FIRST_SEEN] < end].reset_index(drop=True)
            storage.write_partition(snap, storage.partition_uri(root, "validated", table, d), source="test")


def shop_days(n_days: int = 12) -> list[dt.date]:
    return [START + dt.timedelta(days=d) for d in range(n_days)]


@pytest.fixture
def shop() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return random_shop()
