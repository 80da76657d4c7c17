"""Known anomalies injected into a copy of a window's orders: how the stage measures itself without labels.

Per day of the window (with at least :data:`MIN_DAY_ORDERS` orders), one of each order type:

- ``price_x10`` / ``price_div10``: one line of a real order at ten times (a tenth of) its price;
- ``quantity_x50``: one line of a real order at fifty times its quantity;
- ``duplicate_order``: a real order placed again by the same customer five minutes later;
- ``new_account_20x``: a new customer whose first basket is worth 20 times the shop's typical
  first order (a real basket, its quantities scaled).

The real data is never changed; the copy's injected orders are labelled by type. A metric drop
(:func:`drop_country`) removes a share of one country's orders of a day from another copy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.contract import COUNTRY, ITEM_ID, ORDER_ID, QUANTITY, TS, UNIT_PRICE, USER_ID

PRICE_UP, PRICE_DOWN, QUANTITY_UP = "price_x10", "price_div10", "quantity_x50"
DUPLICATE, NEW_ACCOUNT, METRIC_DROP = "duplicate_order", "new_account_20x", "metric_drop"
ORDER_TYPES: tuple[str, ...] = (PRICE_UP, PRICE_DOWN, QUANTITY_UP, DUPLICATE, NEW_ACCOUNT)
TYPES: tuple[str, ...] = (*ORDER_TYPES, METRIC_DROP)
MIN_DAY_ORDERS = 6
LABEL = "injected"  # the type of an injected order, "" for a real one


def _known_lines(lines: pd.DataFrame, reference: ref.Reference, config: AnomalyConfig) -> np.ndarray:
    joined = ref.asof(lines, reference.items, by=ITEM_ID)
    return (joined[ref.ITEM_LINES].fillna(0).to_numpy() >= config.min_item_lines) & (
        lines[UNIT_PRICE].to_numpy() > 0
    )


def inject(
    lines: pd.DataFrame, reference: ref.Reference, config: AnomalyConfig, seed: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A copy of ``lines`` (one window's purchase lines) with injected orders; ``{order_id: type}``."""
    rng = np.random.default_rng(seed)
    out = lines.reset_index(drop=True).copy()
    known = _known_lines(out, reference, config)
    first_median = ref.asof(
        pd.DataFrame({DAY: sorted(out[DAY].unique())}), reference.first_orders, by=None
    ).set_index(DAY)[ref.FIRST_ORDER_MEDIAN]
    labels: dict[str, str] = {}
    added: list[pd.DataFrame] = []
    order_ids = out[ORDER_ID].to_numpy()
    rows_of = out.groupby(ORDER_ID, sort=False).indices  # order id -> its line positions
    quantity, price = out[QUANTITY].to_numpy(np.float64).copy(), out[UNIT_PRICE].to_numpy(np.float64).copy()
    for day, rows in out.groupby(DAY, sort=True).indices.items():
        day_orders = pd.unique(order_ids[rows])
        with_known = pd.unique(order_ids[rows[known[rows]]])
        if len(day_orders) < MIN_DAY_ORDERS or len(with_known) < 3:
            continue
        changed = rng.choice(with_known, size=3, replace=False)
        for order_id, kind in zip(changed, (PRICE_UP, PRICE_DOWN, QUANTITY_UP), strict=True):
            own = rows_of[order_id]
            line = rng.choice(own[known[own]])
            if kind == QUANTITY_UP:
                quantity[line] *= 50
            else:
                price[line] *= 10.0 if kind == PRICE_UP else 0.1
            labels[str(order_id)] = kind
        rest = np.setdiff1d(day_orders, changed)
        original, template = rng.choice(rest, size=2, replace=False)
        copy = out.iloc[rows_of[original]].copy()
        copy[ORDER_ID] = f"{original}-dup"
        copy[TS] = copy[TS] + pd.Timedelta(minutes=5)
        added.append(copy)
        labels[f"{original}-dup"] = DUPLICATE
        basket = out.iloc[rows_of[template]].copy()
        value = float((basket[QUANTITY] * basket[UNIT_PRICE]).sum())
        typical = float(first_median.get(day, np.nan))
        if value > 0 and np.isfinite(typical) and typical > 0:
            factor = 20.0 * typical / value
            basket[QUANTITY] = np.maximum(np.round(basket[QUANTITY] * factor), 1.0)
            new_id = f"new-{pd.Timestamp(day).date()}-{template}"
            basket[ORDER_ID] = new_id
            basket[USER_ID] = f"new-account-{pd.Timestamp(day).date()}"
            added.append(basket)
            labels[new_id] = NEW_ACCOUNT
    out[QUANTITY], out[UNIT_PRICE] = quantity, price
    if added:
        out = pd.concat([out, *added], ignore_index=True)
    out[USER_ID] = out[USER_ID].astype("string")
    out[ORDER_ID] = out[ORDER_ID].astype("string")
    return out, labels


def drop_country(
    lines: pd.DataFrame, day: pd.Timestamp, country: str, share: float, seed: int
) -> pd.DataFrame:
    """A copy of ``lines`` without ``share`` of ``country``'s orders of ``day`` (a metric drop)."""
    rng = np.random.default_rng(seed)
    mask = (lines[DAY] == day) & (lines[COUNTRY] == country)
    orders = pd.unique(lines.loc[mask, ORDER_ID])
    gone = rng.choice(orders, size=round(share * len(orders)), replace=False) if len(orders) else []
    return lines[~lines[ORDER_ID].isin(list(gone))].reset_index(drop=True)
