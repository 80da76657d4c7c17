"""What was typical before each day: item prices and quantities, customers' habits, first orders.

Every statistic here is computed from the shop's real lines and stamped with the day it holds
*through* (the end of that day). An order of day ``D`` is compared with the latest stamp before
``D`` (:func:`asof`), so it never sees its own day or anything later: point in time by
construction, also for injected orders, which never enter these statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.contract import COUNTRY, ITEM_ID, ORDER_ID, QUANTITY, TS, UNIT_PRICE, USER_ID

# Item statistics (as of the end of their day).
PRICE_MEDIAN, QTY_MEDIAN, QTY_P99, ITEM_LINES = "price_median", "qty_median", "qty_p99", "item_lines"
# Order-level columns and customer statistics.
VALUE, LINES, UNITS = "order_value", "lines", "units"
PRIOR_ORDERS, USUAL_VALUE, USUAL_COUNTRY = "prior_orders", "usual_value", "usual_country"
PRIOR_DUPLICATES = "prior_duplicates"  # the customer's earlier orders that repeated a basket
# The earlier order with the same basket (see :func:`same_basket`) and the minutes since it.
SINCE_SAME_BASKET, SAME_BASKET_ORDER = "minutes_since_same_basket", "same_basket_order"
FIRST_ORDER_MEDIAN = "first_order_median"
CUSTOMER_MAX_QTY = "customer_max_quantity"  # the largest quantity of a line the customer bought before


@dataclass
class Reference:
    """Statistics stamped with the day they hold through (see the module docstring)."""

    items: pd.DataFrame  # item_id, day, price_median, qty_median, qty_p99, item_lines
    channel_items: pd.DataFrame  # the same per item and channel (item_id holds channel_key)
    customers: pd.DataFrame  # user_id, day, prior_orders, usual_value, usual_country
    first_orders: pd.DataFrame  # day, first_order_median
    customer_lines: pd.DataFrame  # user_id, day, customer_max_quantity


def orders_of(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per order: time, day, customer (first known), country, value, lines and units."""
    value = lines[QUANTITY].to_numpy(np.float64) * lines[UNIT_PRICE].to_numpy(np.float64)
    frame = lines.assign(_value=value)
    grouped = frame.groupby(ORDER_ID, sort=False)
    orders = grouped.agg(
        **{
            TS: (TS, "min"),
            DAY: (DAY, "min"),
            USER_ID: (USER_ID, "first"),
            COUNTRY: (COUNTRY, "first"),
            VALUE: ("_value", "sum"),
            LINES: (ITEM_ID, "size"),
            UNITS: (QUANTITY, "sum"),
        }
    ).reset_index()
    return orders.sort_values([TS, ORDER_ID], kind="stable").reset_index(drop=True)


def channel_key(lines: pd.DataFrame) -> pd.Series:
    """Item and channel of each line: anonymous buyers and customers with an account often pay
    different prices and buy different quantities (Online Retail II: retail against wholesale)."""
    channel = lines[USER_ID].isna().map({True: "|anonymous", False: "|customer"}).astype("string")
    return lines[ITEM_ID].astype("string") + channel


def _last_per_day(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.drop_duplicates(keys, keep="last").reset_index(drop=True)


def item_stats(lines: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    """Each item's median price (zero prices left out), median and 99th-percentile quantity and line
    count over the trailing ``item_window_days``, through the end of every day it sold."""
    frame = lines[[ITEM_ID, TS, DAY, UNIT_PRICE, QUANTITY]].sort_values([ITEM_ID, TS], kind="stable")
    frame = frame.assign(_price=frame[UNIT_PRICE].where(frame[UNIT_PRICE] > 0))
    frame = frame.reset_index(drop=True)
    window = f"{config.item_window_days}D"
    rolling = frame.groupby(ITEM_ID, sort=False).rolling(window, on=TS)
    out = pd.DataFrame(
        {
            ITEM_ID: frame[ITEM_ID].to_numpy(),
            DAY: frame[DAY].to_numpy(),
            PRICE_MEDIAN: rolling["_price"].median().to_numpy(),
            QTY_MEDIAN: rolling[QUANTITY].median().to_numpy(),
            QTY_P99: rolling[QUANTITY].quantile(0.99).to_numpy(),
            ITEM_LINES: rolling[QUANTITY].count().to_numpy(),
        }
    )
    return _last_per_day(out, [ITEM_ID, DAY])


def customer_stats(orders: pd.DataFrame, repeated: np.ndarray) -> pd.DataFrame:
    """Each identified customer's orders so far, median order value, latest country and repeated
    baskets (``repeated``: 1 per order of ``orders`` that repeats an earlier one), per day."""
    known = orders.assign(_rep=repeated)
    known = known[known[USER_ID].notna()].sort_values([USER_ID, TS], kind="stable").reset_index(drop=True)
    grouped = known.groupby(USER_ID, sort=False)
    out = pd.DataFrame(
        {
            USER_ID: known[USER_ID].to_numpy(),
            DAY: known[DAY].to_numpy(),
            PRIOR_ORDERS: grouped.cumcount().to_numpy() + 1,
            USUAL_VALUE: grouped[VALUE].expanding().median().to_numpy(),
            USUAL_COUNTRY: known[COUNTRY].to_numpy(),
            PRIOR_DUPLICATES: grouped["_rep"].cumsum().to_numpy(),
        }
    )
    return _last_per_day(out, [USER_ID, DAY])


def customer_line_stats(lines: pd.DataFrame) -> pd.DataFrame:
    """The largest quantity of any line each identified customer has bought so far, per day."""
    known = lines.loc[lines[USER_ID].notna(), [USER_ID, TS, DAY, QUANTITY]]
    known = known.sort_values([USER_ID, TS], kind="stable").reset_index(drop=True)
    out = pd.DataFrame(
        {
            USER_ID: known[USER_ID].to_numpy(),
            DAY: known[DAY].to_numpy(),
            CUSTOMER_MAX_QTY: known.groupby(USER_ID, sort=False)[QUANTITY].cummax().to_numpy(),
        }
    )
    return _last_per_day(out, [USER_ID, DAY])


def first_order_stats(orders: pd.DataFrame) -> pd.DataFrame:
    """The median value of customers' first orders so far, through the end of each day."""
    known = orders[orders[USER_ID].notna()]
    first = known.drop_duplicates(USER_ID, keep="first").sort_values(TS, kind="stable")
    out = pd.DataFrame(
        {DAY: first[DAY].to_numpy(), FIRST_ORDER_MEDIAN: first[VALUE].expanding().median().to_numpy()}
    )
    return _last_per_day(out, [DAY])


def build(lines: pd.DataFrame, config: AnomalyConfig) -> Reference:
    """All reference statistics from the shop's real purchase lines."""
    orders = orders_of(lines)
    return Reference(
        items=item_stats(lines, config),
        channel_items=item_stats(lines.assign(**{ITEM_ID: channel_key(lines)}), config),
        customers=customer_stats(orders, duplicates(orders, lines, config.duplicate_window)),
        first_orders=first_order_stats(orders),
        customer_lines=customer_line_stats(lines),
    )


def asof(left: pd.DataFrame, right: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """``left`` (any order) with the columns of the latest row of ``right`` strictly before its day."""
    position = np.arange(len(left))
    keyed = left.assign(_pos=position).sort_values(DAY, kind="stable")
    stats = right.sort_values(DAY, kind="stable")
    if by is not None:
        keyed = keyed.assign(_by=keyed[by].astype("string").fillna("\x00"))
        stats = stats.assign(_by=stats[by].astype("string")).drop(columns=[by])
    joined = pd.merge_asof(
        keyed,
        stats,
        on=DAY,
        by="_by" if by is not None else None,
        allow_exact_matches=False,
        direction="backward",
    )
    joined = joined.sort_values("_pos", kind="stable").reset_index(drop=True)
    return joined.drop(columns=[c for c in ("_pos", "_by") if c in joined.columns])


def same_basket(orders: pd.DataFrame, lines: pd.DataFrame, window: pd.Timedelta) -> pd.DataFrame:
    """Per order of ``orders``: the latest *earlier* order of the same buyer with exactly the same basket
    within ``window``, and the minutes between them (NaN and <NA> where there is none).

    The buyer is the customer; anonymous orders are compared within their country. The basket is a
    sum of line hashes (item, quantity, unit price), so the order of the lines does not matter.
    "Earlier" is by time, then by position in ``orders`` (sorted by time and order id): an order never
    points at a later one, so a repeat placed afterwards never marks the order it repeats.
    """
    line_hash = pd.util.hash_pandas_object(
        lines[[ITEM_ID, QUANTITY, UNIT_PRICE]].reset_index(drop=True), index=False
    ).to_numpy()
    basket = pd.Series(line_hash, dtype="uint64").groupby(lines[ORDER_ID].to_numpy()).sum()
    who = orders[USER_ID].astype("string").fillna("anonymous|" + orders[COUNTRY].astype("string").fillna(""))
    ts = orders[TS].to_numpy()
    position = np.lexsort((np.arange(len(orders)), ts))  # time, then the frame's own order
    rank = np.empty(len(orders), dtype=np.int64)
    rank[position] = np.arange(len(orders))
    order = np.lexsort((rank, orders[ORDER_ID].map(basket).to_numpy(), who.to_numpy()))
    w, b = who.to_numpy()[order], orders[ORDER_ID].map(basket).to_numpy()[order]
    gap = ts[order][1:] - ts[order][:-1]
    same = (w[1:] == w[:-1]) & (b[1:] == b[:-1]) & (gap <= window.to_timedelta64())
    minutes = np.full(len(orders), np.nan)
    earlier = pd.array([pd.NA] * len(orders), dtype="string")
    later = order[1:][same]
    minutes[later] = gap[same] / np.timedelta64(1, "m")
    earlier[later] = orders[ORDER_ID].astype("string").to_numpy()[order[:-1][same]]
    return pd.DataFrame({SINCE_SAME_BASKET: minutes, SAME_BASKET_ORDER: earlier}, index=orders.index)


def duplicates(orders: pd.DataFrame, lines: pd.DataFrame, window: pd.Timedelta) -> np.ndarray:
    """1 where an earlier order of the same buyer within ``window`` has the same basket."""
    return same_basket(orders, lines, window)[SINCE_SAME_BASKET].notna().to_numpy(np.float64)
