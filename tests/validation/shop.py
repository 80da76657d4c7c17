"""Small canonical shop days for the validation tests: built inline, written as raw partitions."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks import storage

DS = "2024-03-10"
N_ITEMS = 10
N_USERS = 10


def events_frame(ds: str = DS, n: int = 100) -> pd.DataFrame:
    """``n`` valid events spread over the day: views, carts, purchases, a return every 20th."""
    start = pd.Timestamp(ds, tz="UTC")
    i = np.arange(n)
    kinds = np.array([c.VIEW, c.VIEW, c.ADD_TO_CART, c.PURCHASE, c.VIEW], dtype=object)[i % 5]
    kinds[i % 20 == 19] = c.RETURN
    users = pd.array([f"u{k % N_USERS}" for k in i], dtype="string")
    users[i % 10 == 9] = pd.NA  # 10% anonymous visitors
    ordered = np.isin(kinds, [c.PURCHASE, c.RETURN])
    df = pd.DataFrame(
        {
            c.EVENT_ID: [f"e{ds}-{k}" for k in i],
            c.TS: start + pd.to_timedelta(i * 10, unit="min"),
            c.USER_ID: users,
            c.SESSION_ID: [f"s{ds}-{k // 5}" for k in i],
            c.ITEM_ID: [f"i{k % N_ITEMS}" for k in i],
            c.EVENT_TYPE: kinds,
            c.QUANTITY: np.where(kinds == c.RETURN, -1, 1 + i % 3),
            c.UNIT_PRICE: 2.5 + i % N_ITEMS,
            c.ORDER_ID: pd.array([f"o{ds}-{k // 5}" if o else None for k, o in zip(i, ordered, strict=True)]),
            c.COUNTRY: "GB",
        }
    )
    return c.conform(df, c.EVENTS)


def items_frame(ds: str = DS) -> pd.DataFrame:
    seen = pd.Timestamp(ds, tz="UTC") - pd.Timedelta(days=30)
    df = pd.DataFrame(
        {
            c.ITEM_ID: [f"i{k}" for k in range(N_ITEMS)],
            c.TITLE: [f"item {k}" for k in range(N_ITEMS)],
            c.CATEGORY: ["mugs"] * N_ITEMS,
            c.PRICE: [2.5 + k for k in range(N_ITEMS)],
            c.FIRST_SEEN: seen,
        }
    )
    return c.conform(df, c.ITEMS)


def users_frame(ds: str = DS) -> pd.DataFrame:
    seen = pd.Timestamp(ds, tz="UTC") - pd.Timedelta(days=30)
    df = pd.DataFrame({c.USER_ID: [f"u{k}" for k in range(N_USERS)], c.FIRST_SEEN: seen, c.COUNTRY: "GB"})
    return c.conform(df, c.USERS)


def write_day(
    root: str,
    ds: str = DS,
    events: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
) -> None:
    """Land one day as raw partitions (frames default to a clean day)."""
    frames = {
        c.EVENTS: events_frame(ds) if events is None else events,
        c.ITEMS: items_frame(ds) if items is None else items,
        c.USERS: users_frame(ds) if users is None else users,
    }
    for table, df in frames.items():
        storage.write_partition(df, storage.partition_uri(root, "raw", table, ds), source="test")


def raw_fingerprint(root: str) -> dict[str, str]:
    """sha256 of every file under ``raw/``: equal before and after means landed data is untouched."""
    base = Path(root) / "raw"
    return {
        str(p.relative_to(base)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(base.rglob("*"))
        if p.is_file()
    }


def day_before(ds: str, days: int) -> str:
    return (dt.date.fromisoformat(ds) - dt.timedelta(days=days)).isoformat()
