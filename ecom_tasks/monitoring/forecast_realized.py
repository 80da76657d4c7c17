"""Realized forecast accuracy: the published daily forecasts against the units sold, as they arrive.

Each night ``ds``, every demand forecast that was current after one of the nights ``ds - 1`` ..
``ds - H`` (``H`` the last of ``forecast_buckets``; point in time through the outputs pointer's
history) forecast ``ds`` at horizon ``ds - <its publication day>``: its rows for ``ds`` are judged
on ``ds``'s actual units per item, counted as the forecast stage counts its training data
(:func:`ecom_tasks.forecast.data.from_events`: purchases, ``|quantity|``; an item without a sale
that day sold zero). The figures, with the forecast stage's own definitions
(:mod:`ecom_tasks.forecast.metrics`):

- ``wape``: sum |p50 - actual| / sum actual over every judged item-day (all horizons), named as the
  forecast gate's metric so its threshold applies;
- ``wape_days_1_7`` ...: the same per horizon bucket (days 1-7 ahead ...), NaN when the bucket has no
  forecast or no sale;
- ``coverage_80``: share of the item-days whose actual lies in the published 80 % interval
  [p10, p90], and ``coverage_80_gap`` = |coverage_80 - 0.8| (the gate's);
- ``unforecast_units``: units of ``ds`` sold of items no judged forecast covered (new items).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.contract import ITEM_ID
from ecom_tasks.forecast import metrics as fm
from ecom_tasks.forecast.data import DAY
from ecom_tasks.publish import outputs

HORIZON, ACTUAL = "horizon", "actual"
P50, P10, P90 = "p50", "p10", "p90"
WAPE, COVERAGE, COVERAGE_GAP = "wape", "coverage_80", "coverage_80_gap"
ITEM_DAYS, ACTUAL_UNITS, UNFORECAST_UNITS = "item_days", "actual_units", "unforecast_units"
FORECASTS_JUDGED = "forecasts_judged"


def bucket_columns(buckets: tuple[int, ...]) -> list[tuple[str, int, int]]:
    """``(column, first day, last day)`` of each horizon bucket: ``wape_days_1_7`` ..."""
    firsts = (1, *(b + 1 for b in buckets[:-1]))
    return [(f"{WAPE}_days_{a}_{b}", a, b) for a, b in zip(firsts, buckets, strict=True)]


def figures(judged: pd.DataFrame, buckets: tuple[int, ...]) -> dict[str, float]:
    """The realized figures of ``judged`` (``horizon, p50, p10, p90, actual`` per item-day)."""
    y = judged[ACTUAL].to_numpy(np.float64)
    out = {ITEM_DAYS: float(len(judged)), ACTUAL_UNITS: float(y.sum()),
           WAPE: fm.wape(y, judged[P50].to_numpy(np.float64))}  # fmt: skip
    for column, first, last in bucket_columns(buckets):
        part = judged[(judged[HORIZON] >= first) & (judged[HORIZON] <= last)]
        out[column] = fm.wape(part[ACTUAL].to_numpy(np.float64), part[P50].to_numpy(np.float64))
    cov = fm.coverage(y, judged[P10].to_numpy(np.float64), judged[P90].to_numpy(np.float64))
    out[COVERAGE], out[COVERAGE_GAP] = cov, abs(cov - fm.NOMINAL_80)
    return out


def judged_rows(forecasts: list[tuple[int, pd.DataFrame]], actual: pd.Series) -> pd.DataFrame:
    """Each forecast's rows for the day with its ``horizon`` and the item's ``actual`` units (0 unsold).

    Args:
        forecasts: ``(horizon, rows)`` with ``item_id, p50, p10, p90`` of the judged day.
        actual: units sold that day per item id (str).
    """
    parts = [rows.assign(**{HORIZON: h}) for h, rows in forecasts if len(rows)]
    if not parts:
        return pd.DataFrame(columns=[ITEM_ID, HORIZON, P50, P10, P90, ACTUAL])
    frame = pd.concat(parts, ignore_index=True)
    frame[ACTUAL] = frame[ITEM_ID].astype(str).map(actual).fillna(0.0).to_numpy(np.float64)
    return frame


def published(root: str, day: dt.date, max_horizon: int) -> list[tuple[dict[str, Any], pd.DataFrame]]:
    """Every demand forecast current after one of the ``max_horizon`` nights before ``day`` (newest
    first, once each) with its rows for ``day`` (``item_id, p50, p10, p90``)."""
    found: dict[str, dict[str, Any]] = {}
    history = outputs.read_history(root)  # once for the max_horizon nights asked about
    for back in range(1, max_horizon + 1):
        night = day - dt.timedelta(days=back)
        entry = outputs.current_as_of(root, night, table=catalog.DEMAND_FORECAST, history=history)
        if entry is None:  # nothing published by that night, nor by any earlier one
            break
        if (day - dt.date.fromisoformat(entry["ds"])).days <= max_horizon:
            found.setdefault(entry["ds"], entry)
    out = []
    for ds, entry in found.items():
        uri = outputs.output_uri(root, catalog.DEMAND_FORECAST, ds)
        frame = storage.read_partition(uri, [ITEM_ID, DAY, P50, P10, P90])
        days = frame[DAY]  # dates as the forecast stage writes them; datetimes from elsewhere
        rows = frame[(days == day) if days.dtype == object else (days.dt.date == day)]
        out.append((entry, rows[[ITEM_ID, P50, P10, P90]].reset_index(drop=True)))
    return out


def actual_units(root: str, day: dt.date) -> pd.Series:
    """Units sold on ``day`` per item id, counted as the forecast stage counts them (empty: none)."""
    from ecom_tasks.features import store
    from ecom_tasks.forecast.data import ForecastDataError, from_events

    cols = [contract.TS, ITEM_ID, contract.EVENT_TYPE, contract.QUANTITY, contract.UNIT_PRICE]
    events = store.read_events(root, [day], cols, event_types=[contract.PURCHASE])
    try:
        demand = from_events(events, None, day)
    except ForecastDataError:  # no purchase that day
        return pd.Series(dtype=np.float64)
    return pd.Series(demand.units[:, -1], index=demand.items.astype(str))
