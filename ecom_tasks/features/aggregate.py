"""Summarise a span of events into the running-state tables (see state.py for the definitions).

Ids are dictionary-encoded to integer codes once (:func:`encode`); summaries.py then builds each
table from the codes with ``np.bincount`` over packed keys. Distinct counts (orders, sessions,
active users) are counts of de-duplicated packed keys, never ``nunique`` on strings.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features import summaries
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.encode import (
    DAY_US,
    HOUR_US,
    NAT,
    Encoded,
    day_us,
    dense_codes,
    group_max_us,
    group_min_us,
    group_sum,
    representatives,
    string_codes,
    to_ts,
    ts_us,
)
from ecom_tasks.features.state import FeatureState, window_start_us
from ecom_tasks.features.summaries import PURCHASE


def encode(events: pd.DataFrame, end_us: int) -> Encoded:
    """Encode the events before ``end_us`` (later events are dropped: point-in-time guard)."""
    ts = ts_us(events[contract.TS])
    et_arr = pa.array(events[contract.EVENT_TYPE].astype(contract.STRING_DTYPE).array)
    et = pc.index_in(et_arr, value_set=pa.array(list(contract.EVENT_TYPES))).fill_null(-1)
    et = et.to_numpy(zero_copy_only=False).astype(np.int64)
    keep = (et >= 0) & (ts < end_us) & (ts != NAT)
    if not keep.all():
        events, et, ts = events[keep], et[keep], ts[keep]
    user, users = string_codes(events[contract.USER_ID])
    item, items = string_codes(events[contract.ITEM_ID])
    session, _ = string_codes(events[contract.SESSION_ID], sort=False)
    day = ts // DAY_US
    order = np.full(len(et), -1, dtype=np.int64)
    buy = np.flatnonzero(et == PURCHASE)
    n_orders = 0
    order_id = np.full(len(et), -1, dtype=np.int64)
    order_ids = pd.array([], dtype=contract.STRING_DTYPE)
    if len(buy):
        oid, order_ids = string_codes(events[contract.ORDER_ID].iloc[buy], sort=False)
        order_id[buy] = oid
        # A purchase line without an order id is an order of its own.
        missing = oid < 0
        oid[missing] = oid.max(initial=-1) + 1 + np.arange(int(missing.sum()))
        order[buy], n_orders = dense_codes([user[buy] + 1, oid, day[buy] - day[buy].min()], sort=False)
    rep = buy[representatives(order[buy], n_orders)]
    qty = events[contract.QUANTITY].to_numpy(np.int64)
    price = events[contract.UNIT_PRICE].to_numpy(np.float64)
    return Encoded(
        et=et,
        user=user,
        users=users,
        item=item,
        items=items,
        ts=ts,
        day=day,
        hour=(ts // HOUR_US) % 24,
        weekday=(day + 3) % 7,  # 1970-01-01 was a Thursday
        qty=qty,
        price=price,
        value=qty * price,
        session=session,
        order=order,
        order_id=order_id,
        order_ids=order_ids,
        buy=buy,
        ret=np.flatnonzero(et == summaries.RETURN),
        o_user=user[rep],
        o_ts=group_min_us(order[buy], n_orders, ts[buy]),
        o_day=day[rep],
    )


def summarise(events: pd.DataFrame, ds: dt.date | str, config: FeatureConfig) -> FeatureState:
    """Summarise ``events`` into running-state tables as of the end of ``ds``.

    Events at or after the end of ``ds`` are ignored, so the result never depends on later data.
    Summarising the whole history gives the full recompute; summarising one day's events gives
    the piece :func:`ecom_tasks.features.state.merge` adds to yesterday's state.
    """
    ds = pd.Timestamp(str(ds)[:10]).date()
    e = encode(events, day_us(ds) + DAY_US)
    return FeatureState(
        through=ds,
        customers=summaries.customers(e),
        customer_items=summaries.customer_items(e),
        customer_daily=summaries.customer_daily(e, window_start_us(ds, config.customer_history_days)),
        customer_months=summaries.customer_months(e),
        items=summaries.items(e),
        item_daily=summaries.item_daily(e, window_start_us(ds, config.item_history_days)),
        daily=summaries.daily(e),
        basket_lines=summaries.basket_lines(e, window_start_us(ds, config.basket_days)),
        hour_of_week=summaries.hour_of_week(e),
    )


def rfm_aggregate(events: pd.DataFrame) -> pd.DataFrame:
    """Recency, frequency and monetary inputs per customer from raw events, on its own.

    The same definitions as the customers state (orders = distinct (user, order, UTC day), value
    = quantity x unit price of purchase lines), computed on the purchase rows only: the
    stand-alone RFM core the benchmark sets against DuckDB.

    Returns:
        ``user_id``, ``last_purchase_ts``, ``n_orders``, ``gross_value`` (sorted by user id).
    """
    et = pa.array(events[contract.EVENT_TYPE].astype(contract.STRING_DTYPE).array)
    buy = pc.equal(et, contract.PURCHASE).fill_null(False).to_numpy(zero_copy_only=False)
    buy &= events[contract.USER_ID].notna().to_numpy()
    cols = [contract.USER_ID, contract.ORDER_ID, contract.TS, contract.QUANTITY, contract.UNIT_PRICE]
    rows = events[cols][buy]  # only the columns used: filtering every column would dominate
    user, users = string_codes(rows[contract.USER_ID])
    order, _ = string_codes(rows[contract.ORDER_ID], sort=False)
    order = np.where(order < 0, order.max(initial=-1) + 1 + np.arange(len(order)), order)
    ts = ts_us(rows[contract.TS])
    day = ts // DAY_US
    okey, n_orders = dense_codes([user, order, day - day.min(initial=0)], sort=False)
    n = len(users)
    value = rows[contract.QUANTITY].to_numpy(np.float64) * rows[contract.UNIT_PRICE].to_numpy(np.float64)
    o_user = user[representatives(okey, n_orders)]
    return pd.DataFrame(
        {
            contract.USER_ID: users,
            fc.LAST_PURCHASE_TS: to_ts(group_max_us(o_user, n, group_min_us(okey, n_orders, ts))),
            fc.N_ORDERS: group_sum(o_user, n),
            fc.GROSS_VALUE: group_sum(user, n, value),
        }
    )
