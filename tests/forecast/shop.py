"""A tiny hand-made shop for the forecast tests: daily purchases of a few items, as canonical events."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.contract import EVENTS, ITEMS, USERS

START = dt.date(2024, 1, 1)


def events(
    units: dict[str, list[float]], start: dt.date = START, prices: dict[str, list[float]] | None = None
):
    """Canonical purchase events: ``units[item][d]`` units of ``item`` bought on day ``d``."""
    rows = []
    for item, per_day in units.items():
        for d, q in enumerate(per_day):
            if q > 0:
                price = prices[item][d] if prices else 2.0
                ts = pd.Timestamp(start + dt.timedelta(days=d), tz="UTC") + pd.Timedelta(hours=10)
                rows.append(
                    (f"{item}-{d}", ts, "u1", f"s{d}", item, contract.PURCHASE, int(q), price, f"o{d}", "UK")
                )
    frame = pd.DataFrame(rows, columns=contract.columns(EVENTS))
    return frame.astype(contract.dtypes(EVENTS))


def items(ids: list[str], category: str = "mugs") -> pd.DataFrame:
    return pd.DataFrame(
        {
            contract.ITEM_ID: pd.array(ids, dtype="string"),
            contract.TITLE: pd.array(ids, dtype="string"),
            contract.CATEGORY: pd.array([category] * len(ids), dtype="string"),
            contract.PRICE: 2.0,
            contract.FIRST_SEEN: pd.Timestamp(START, tz="UTC"),
        }
    ).astype({contract.FIRST_SEEN: contract.TS_DTYPE})


def users() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            contract.USER_ID: pd.array(["u1"], dtype="string"),
            contract.FIRST_SEEN: pd.Timestamp(START, tz="UTC"),
            contract.COUNTRY: pd.array(["UK"], dtype="string"),
        }
    )
    return frame.astype({contract.FIRST_SEEN: contract.TS_DTYPE})


def poisson_units(n_items: int, n_days: int, seed: int = 0) -> dict[str, list[float]]:
    """Weekly-seasonal Poisson demand of ``n_items`` items over ``n_days`` days."""
    rng = np.random.default_rng(seed)
    week = np.array([1.0, 1.0, 1.2, 1.2, 1.5, 0.6, 0.5])
    out = {}
    for i in range(n_items):
        rate = rng.uniform(0.3, 4.0) * week[np.arange(n_days) % 7]
        out[f"i{i:02d}"] = rng.poisson(rate).astype(float).tolist()
    return out


TABLES = (EVENTS, ITEMS, USERS)
