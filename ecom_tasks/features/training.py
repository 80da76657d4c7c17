"""Point-in-time training data: retrieval interactions and labelled examples for the task heads.

An example's features are the customer's profile as of the end of the cutoff day, computed from
the running state of that day, so nothing after the cutoff can reach them (tested by changing
every later event). Labels look only at purchases after the cutoff:

- ``label_churn`` = 1 when the customer makes no purchase within ``churn_horizon_days``;
- ``label_repurchase`` = 1 when they purchase within ``repurchase_days``; ``label_orders`` and
  ``label_spend`` count their orders and gross value in that window (expected-orders target);
- ``training_next_items``: the items each known customer bought within ``next_items_days``.

The population is every customer with at least one purchase before the cutoff (churn and
repurchase are only defined for someone who has bought).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import TrainingDataConfig
from ecom_tasks.features.encode import (
    DAY_US,
    day_us,
    dense_codes,
    group_min_us,
    group_sum,
    positions,
    string_codes,
    to_ts,
    ts_us,
)


def cutoff_us(cutoff: dt.date) -> int:
    """The cutoff instant: the end of the cutoff day (features use events strictly before it)."""
    return day_us(cutoff) + DAY_US


def interactions(events: pd.DataFrame, config: TrainingDataConfig) -> pd.DataFrame:
    """Retrieval interactions: known user, item, time, event type and weight, oldest first.

    Anonymous events and event types with weight 0 (returns, by default) are left out.
    """
    weights = {
        contract.VIEW: config.view_weight,
        contract.ADD_TO_CART: config.cart_weight,
        contract.PURCHASE: config.purchase_weight,
        contract.RETURN: config.return_weight,
    }
    et = events[contract.EVENT_TYPE].astype(contract.STRING_DTYPE)
    weight = et.map(weights).astype("float64").fillna(0.0).to_numpy()
    keep = (weight > 0) & events[contract.USER_ID].notna().to_numpy()
    ts = ts_us(events[contract.TS])[keep]
    order = np.argsort(ts, kind="stable")
    rows = np.flatnonzero(keep)[order]
    return pd.DataFrame(
        {
            contract.USER_ID: events[contract.USER_ID].iloc[rows].astype(contract.STRING_DTYPE).to_numpy(),
            contract.ITEM_ID: events[contract.ITEM_ID].iloc[rows].astype(contract.STRING_DTYPE).to_numpy(),
            contract.TS: events[contract.TS].iloc[rows].to_numpy(),
            contract.EVENT_TYPE: et.iloc[rows].to_numpy(),
            fc.WEIGHT: weight[rows],
        }
    ).astype({contract.TS: contract.TS_DTYPE})


def _future_orders(future: pd.DataFrame, start_us: int) -> pd.DataFrame:
    """Orders of known users after ``start_us``: user, timestamp (earliest line), gross value."""
    buy = future
    if contract.EVENT_TYPE in future.columns:
        buy = buy[buy[contract.EVENT_TYPE] == contract.PURCHASE]
    buy = buy[buy[contract.USER_ID].notna().to_numpy() & (ts_us(buy[contract.TS]) >= start_us)]
    user, users = string_codes(buy[contract.USER_ID])
    order, _ = string_codes(buy[contract.ORDER_ID])
    order = np.where(order < 0, order.max(initial=-1) + 1 + np.arange(len(order)), order)
    ts = ts_us(buy[contract.TS])
    day = ts // DAY_US
    key, n = dense_codes([user, order, day - day.min(initial=0)]) if len(buy) else (np.zeros(0, np.int64), 0)
    rep = np.zeros(n, dtype=np.int64)
    rep[key] = np.arange(len(key))
    value = buy[contract.QUANTITY].to_numpy(np.float64) * buy[contract.UNIT_PRICE].to_numpy(np.float64)
    return pd.DataFrame(
        {
            contract.USER_ID: users[user[rep]] if n else pd.array([], dtype=contract.STRING_DTYPE),
            contract.TS: group_min_us(key, n, ts),
            fc.VALUE: group_sum(key, n, value),
        }
    )


def label_examples(
    profiles_at_cutoff: pd.DataFrame, future: pd.DataFrame, cutoff: dt.date, config: TrainingDataConfig
) -> pd.DataFrame:
    """Buyers as of the cutoff with their profile features and the labels of the horizon after it.

    Args:
        profiles_at_cutoff: ``customer_profiles`` of the state as of the end of ``cutoff``.
        future: purchase events after the cutoff (at least ``config.horizon_days`` of them).
        cutoff: the cutoff day.
        config: horizons.
    """
    start = cutoff_us(cutoff)
    ex = profiles_at_cutoff[profiles_at_cutoff[fc.HAS_PURCHASE] == 1].reset_index(drop=True)
    orders = _future_orders(future, start)
    pos = positions(orders[contract.USER_ID], ex[contract.USER_ID])
    known = pos >= 0
    ts, value, pos = orders[contract.TS].to_numpy()[known], orders[fc.VALUE].to_numpy()[known], pos[known]
    n = len(ex)
    in_churn = ts < start + config.churn_horizon_days * DAY_US
    in_repurchase = ts < start + config.repurchase_days * DAY_US
    orders_r = group_sum(pos[in_repurchase], n)
    ex.insert(1, fc.CUTOFF, to_ts(np.full(n, start)).astype(contract.TS_DTYPE))
    ex[fc.LABEL_CHURN] = (group_sum(pos[in_churn], n) == 0).astype(np.int8)
    ex[fc.LABEL_REPURCHASE] = (orders_r > 0).astype(np.int8)
    ex[fc.LABEL_ORDERS] = orders_r
    ex[fc.LABEL_SPEND] = group_sum(pos[in_repurchase], n, value[in_repurchase])
    return ex


def next_items(
    future: pd.DataFrame, profiles_at_cutoff: pd.DataFrame, cutoff: dt.date, config: TrainingDataConfig
) -> pd.DataFrame:
    """Items bought by customers known at the cutoff within ``next_items_days`` after it:
    user, item, orders containing it, units and the first purchase time."""
    start = cutoff_us(cutoff)
    ts = ts_us(future[contract.TS]) if len(future) else np.zeros(0, np.int64)
    keep = (ts >= start) & (ts < start + config.next_items_days * DAY_US)
    keep &= future[contract.USER_ID].isin(profiles_at_cutoff[contract.USER_ID]).to_numpy()
    if contract.EVENT_TYPE in future.columns:
        keep &= (future[contract.EVENT_TYPE] == contract.PURCHASE).to_numpy()
    buy = future[keep]
    user, users = string_codes(buy[contract.USER_ID])
    item, items = string_codes(buy[contract.ITEM_ID])
    order, _ = string_codes(buy[contract.ORDER_ID])
    ts = ts[keep]
    pair, n = dense_codes([user, item]) if len(buy) else (np.zeros(0, np.int64), 0)
    line, n_line = (
        dense_codes([pair, order + 1, ts // DAY_US - (ts.min() // DAY_US if len(ts) else 0)])
        if n
        else (pair, 0)
    )
    rep = np.zeros(n, dtype=np.int64)
    rep[pair] = np.arange(len(pair))
    line_rep = np.zeros(n_line, dtype=np.int64)
    line_rep[line] = np.arange(len(line))
    return pd.DataFrame(
        {
            contract.USER_ID: users[user[rep]] if n else pd.array([], dtype=contract.STRING_DTYPE),
            contract.ITEM_ID: items[item[rep]] if n else pd.array([], dtype=contract.STRING_DTYPE),
            fc.N_ORDERS: group_sum(pair[line_rep], n),
            fc.UNITS: group_sum(pair, n, buy[contract.QUANTITY].to_numpy()).round().astype(np.int64),
            fc.FIRST_TS: to_ts(group_min_us(pair, n, ts)).astype(contract.TS_DTYPE),
        }
    )
