"""The shop's stock from the landing folder and what the inventory plan makes of it.

A landing folder may hold, beside a day's events, ``ds=D/stock.{csv,csv.gz,parquet}`` (name:
``catalog.STOCK``) with the columns of ``contract.SCHEMAS[STOCK]``: ``item_id``, ``on_hand`` (units
in the warehouse at the end of D) and ``on_order`` (units ordered, not yet received). The plan for
``ds`` reads the file of ``ds`` itself (point in time: a stock count is a snapshot of one day, an
older one would be silently stale). With it, per item:

- ``inventory_position`` = ``on_hand`` + ``on_order``;
- ``order_quantity`` = max(0, ``order_up_to`` - ``inventory_position``): what to order today, a
  review day of the periodic-review, order-up-to policy;
- ``days_of_cover``: the days the units on hand last at the expected daily demand (``mean``), read
  off its running sum (beyond the horizon at the last week's rate); empty when the item is expected
  to sell nothing.

An item of the plan missing from the file gets empty stock columns (counted in the table's
metadata); rows for items the forecast does not know are ignored (counted too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote
from ecom_tasks.contract import ITEM_ID, ON_HAND, ON_ORDER, STOCK
from ecom_tasks.errors import SourceError
from ecom_tasks.sources.landing import DAY_PREFIX, read_landing_file

log = logging.getLogger(__name__)

POSITION, ORDER_QUANTITY, DAYS_OF_COVER = "inventory_position", "order_quantity", "days_of_cover"


@dataclass(frozen=True)
class Stock:
    """A day's stock file, checked: one row per item."""

    file: str
    frame: pd.DataFrame  # item_id (str), on_hand, on_order (float, >= 0)


def stock_file(folder: str, ds: str) -> str | None:
    """The stock file of day ``ds`` in the landing ``folder`` (None when there is none).

    Raises:
        SourceError: the day holds more than one stock file.
    """
    day = f"{folder.rstrip('/')}/{DAY_PREFIX}{ds}"
    names = [n for n in remote.glob_names(day, f"{catalog.STOCK}.*") if not n.startswith((".", "_"))]
    if len(names) > 1:
        raise SourceError(f"{day}/{names[1]}", f"a day holds one {catalog.STOCK} file, also found {names[0]}")
    return f"{day}/{names[0]}" if names else None


def check(frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """``frame`` (conformed to the stock schema) when every row makes sense; SourceError naming the
    file, the column and the first offending item otherwise (a negative count, a duplicate item)."""
    for column in (ON_HAND, ON_ORDER):
        values = frame[column].to_numpy(np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise SourceError(
                file,
                f"{int(bad.sum())} row(s) with a negative or non-finite count, first item "
                f"{frame[ITEM_ID].iloc[i]!r}: {float(values[i])} (units must be >= 0)",
                column=column,
            )
    dup = frame[ITEM_ID].duplicated()
    if dup.any():
        raise SourceError(
            file,
            f"item {frame[ITEM_ID][dup].iloc[0]!r} appears more than once ({int(dup.sum())} repeated row(s))",
            column=ITEM_ID,
        )
    return frame


def read(folder: str | None, ds: str) -> Stock | None:
    """The checked stock of ``ds`` from the landing ``folder``; None without a folder or a file.

    Raises:
        SourceError: the file is unreadable, lacks a column, has an extra one, a non-number, a
            negative count or a duplicate item (the message names the file and the column).
    """
    if not folder:
        return None
    file = stock_file(folder, ds)
    if file is None:
        return None
    frame = check(read_landing_file(file, STOCK), file)
    frame[ITEM_ID] = frame[ITEM_ID].astype(str)
    log.info("stock of %s: %d items (%s)", ds, len(frame), file)
    return Stock(file, frame)


def cover_days(mean: np.ndarray, on_hand: np.ndarray) -> np.ndarray:
    """Per item, the days ``on_hand`` units last at the daily expected demand ``mean`` ([items, h]):
    linear within the horizon, beyond it at the mean daily rate of its last 7 days; NaN when the
    item is expected to sell nothing."""
    h = mean.shape[1]
    cum = np.concatenate([np.zeros((mean.shape[0], 1)), np.cumsum(mean, axis=1)], axis=1)
    out = np.full(mean.shape[0], np.nan)
    rate = mean[:, -min(7, h) :].mean(axis=1)
    for i in range(mean.shape[0]):
        if on_hand[i] < cum[i, -1]:  # runs out within the horizon: where the running sum passes it
            out[i] = float(np.interp(on_hand[i], cum[i], np.arange(h + 1)))
        elif rate[i] > 0:
            out[i] = h + (on_hand[i] - cum[i, -1]) / rate[i]
    return out


def apply(plan: pd.DataFrame, mean: np.ndarray, stock: Stock) -> tuple[pd.DataFrame, dict]:
    """``plan`` with the stock columns (module docstring) and the metadata saying what was matched.

    ``mean`` is the daily expected demand ``[items, h]`` in the plan's row order."""
    table = stock.frame.set_index(ITEM_ID)
    ids = plan[ITEM_ID].astype(str)
    on_hand = table[ON_HAND].reindex(ids).to_numpy(np.float64)
    on_order = table[ON_ORDER].reindex(ids).to_numpy(np.float64)
    out = plan.copy()
    out[ON_HAND], out[ON_ORDER] = on_hand, on_order
    out[POSITION] = on_hand + on_order
    out[ORDER_QUANTITY] = np.maximum(out["order_up_to"].to_numpy() - out[POSITION].to_numpy(), 0.0)
    known = np.isfinite(on_hand)
    days = np.full(len(out), np.nan)
    days[known] = cover_days(mean[known], on_hand[known])
    out[DAYS_OF_COVER] = days
    meta = {
        "stock": f"stock file {stock.file}",
        "stock_items": int(known.sum()),
        "stock_items_missing": int((~known).sum()),
        "stock_rows_unknown_item": int((~table.index.isin(ids)).sum()),
    }
    return out, meta
