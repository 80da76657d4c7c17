"""Training data of the forecast stage, point in time: daily units per item as of the end of ``ds``.

Read from the validated ``events`` partitions of the shop's days up to ``ds`` (explicit dates, never
"latest") and the ``items`` snapshot of ``ds``:

- ``units[i, t]``: units purchased of item ``i`` on day ``t``; every day of an item's life (from its
  first sale to ``ds``) is present, zeros included (most real series are intermittent); a day with
  no partition or no events is a day of zero demand, counted in ``days_without_data``;
- ``returns[i, t]``: units returned, kept apart (demand is what was bought; returns are reported);
- ``price[i, t]``: the mean unit price paid on days with sales (NaN otherwise; a zero price, a free
  line, counts as demand but not as a price);
- aggregates per category, country and the whole shop, what a planner looks at.

Items that never sold up to ``ds`` have no series (nothing to learn from); they are forecast zero.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_TYPE,
    ITEM_ID,
    PURCHASE,
    QUANTITY,
    RETURN,
    TS,
    UNIT_PRICE,
)
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.features import store

log = logging.getLogger(__name__)

DAY = "day"
UNITS = "units"
RETURNS = "returns"
NO_CATEGORY = "(no category)"  # an item without a category: all of them form one group
NO_COUNTRY = "(no country)"


class ForecastDataError(NotEnoughDataError):
    """Too little sales history for an honest backtest: the stage steps aside with this reason."""

    retryable = False


@dataclass
class Demand:
    """Daily demand of every item that sold up to ``ds`` (rows: items, columns: days)."""

    items: np.ndarray  # item ids (str), one per row
    days: pd.DatetimeIndex  # first sale in the shop .. ds, daily
    units: np.ndarray  # [items, days] float64, purchases
    returns: np.ndarray  # [items, days] float64
    price: np.ndarray  # [items, days] float64, NaN without a priced sale
    first: np.ndarray  # [items] column of the item's first sale
    category: np.ndarray  # [items] str
    by_country: pd.DataFrame = field(default_factory=pd.DataFrame)  # day x country units
    days_without_data: int = 0
    uris: list[str] = field(default_factory=list)

    @property
    def alive(self) -> np.ndarray:
        """``[items, days]``: the day is in the item's life (on or after its first sale)."""
        return np.arange(len(self.days))[None, :] >= self.first[:, None]

    def column(self, day: dt.date | pd.Timestamp) -> int:
        """The column of ``day`` (its index in :attr:`days`)."""
        return int(self.days.get_loc(pd.Timestamp(day)))

    def by_category(self) -> pd.DataFrame:
        """Daily units per category (days x categories)."""
        frame = pd.DataFrame(self.units.T, index=self.days, columns=self.category)
        return frame.T.groupby(level=0).sum().T

    def shop(self) -> pd.Series:
        """Daily units of the whole shop."""
        return pd.Series(self.units.sum(axis=0), index=self.days, name=UNITS)


def from_events(events: pd.DataFrame, items: pd.DataFrame | None, ds: dt.date) -> Demand:
    """Build :class:`Demand` from purchase and return events (canonical columns) up to ``ds``."""
    end = pd.Timestamp(ds + dt.timedelta(days=1), tz="UTC")
    events = events[events[TS] < end]  # point in time, whatever the caller passed
    day = events[TS].dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    qty = events[QUANTITY].astype("float64").abs()
    is_buy = (events[EVENT_TYPE] == PURCHASE).to_numpy()
    buys = pd.DataFrame(
        {ITEM_ID: events[ITEM_ID].astype(str).to_numpy(), DAY: day.to_numpy(), UNITS: qty.to_numpy()}
    )
    buys["price"] = events[UNIT_PRICE].astype("float64").to_numpy()
    if COUNTRY in events.columns:
        buys[COUNTRY] = events[COUNTRY].astype("string").fillna(NO_COUNTRY).to_numpy()
    rets, buys = buys[~is_buy], buys[is_buy]
    if buys.empty:
        raise ForecastDataError(f"no purchases up to ds={ds}: nothing to forecast")
    ids = np.array(sorted(buys[ITEM_ID].unique()))
    days = pd.date_range(buys[DAY].min(), pd.Timestamp(ds), freq="D")
    row = pd.Index(ids)

    def matrix(frame: pd.DataFrame, values: pd.Series) -> np.ndarray:
        out = np.zeros((len(ids), len(days)))
        r, c = row.get_indexer(frame[ITEM_ID]), days.get_indexer(frame[DAY])
        keep = (r >= 0) & (c >= 0)
        np.add.at(out, (r[keep], c[keep]), values.to_numpy()[keep])
        return out

    units = matrix(buys, buys[UNITS])
    returns = matrix(rets, rets[UNITS])
    priced = buys[buys["price"] > 0]  # a free line is demand, not a price
    revenue = matrix(priced, priced["price"] * priced[UNITS])
    priced_units = matrix(priced, priced[UNITS])
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(priced_units > 0, revenue / priced_units, np.nan)
    first = np.argmax(units > 0, axis=1)
    category = np.full(len(ids), NO_CATEGORY, dtype=object)
    if items is not None and CATEGORY in items.columns:
        cats = items.drop_duplicates(ITEM_ID).set_index(items.drop_duplicates(ITEM_ID)[ITEM_ID].astype(str))[
            CATEGORY
        ]
        category = cats.reindex(ids).astype("string").fillna(NO_CATEGORY).to_numpy(dtype=object)
    by_country = pd.DataFrame()
    if COUNTRY in buys.columns:
        by_country = buys.pivot_table(index=DAY, columns=COUNTRY, values=UNITS, aggfunc="sum").reindex(days)
        by_country = by_country.fillna(0.0)
    return Demand(ids, days, units, returns, price, first, category.astype(str), by_country)


def load(root: str, ds: dt.date) -> Demand:
    """The demand of every item as of the end of ``ds`` from the validated partitions up to ``ds``.

    Raises:
        ForecastDataError: no validated events up to ``ds``, or no purchase among them.
    """
    days = store.event_days(root, None, ds)
    if not days:
        raise ForecastDataError(
            f"{storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, ds)}: "
            f"no validated events up to ds={ds}"
        )
    cols = [TS, ITEM_ID, EVENT_TYPE, QUANTITY, UNIT_PRICE, COUNTRY]
    events = store.read_events(root, days, cols, event_types=(PURCHASE, RETURN))
    items = store.read_snapshot(root, contract.ITEMS, ds, latest_before=True)
    demand = from_events(events, items, ds)
    have = {pd.Timestamp(d) for d in days}
    demand.days_without_data = sum(1 for d in demand.days if d not in have)
    demand.uris = [storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, d) for d in days]
    log.info(
        "demand as of %s: %d items over %d days (%d without data), %.0f units, %.0f returned",
        ds,
        len(demand.items),
        len(demand.days),
        demand.days_without_data,
        demand.units.sum(),
        demand.returns.sum(),
    )
    return demand


def caps(units: np.ndarray, alive: np.ndarray, multiplier: float | None) -> np.ndarray:
    """Per item, the most units one day may count for training: ``multiplier`` times the 90th
    percentile of its non-zero days (inf without a cap or without sales).

    Computed from the history it is given only (the caller passes the days before its cutoff).
    """
    out = np.full(units.shape[0], np.inf)
    if multiplier is None:
        return out
    for i in range(units.shape[0]):
        sold = units[i][alive[i] & (units[i] > 0)]
        if len(sold) >= 3:  # one or two sales say nothing about what is unusual
            out[i] = multiplier * float(np.quantile(sold, 0.9))
    return out
