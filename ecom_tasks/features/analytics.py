"""Behaviour analytics for the analyst: daily funnel, monthly cohort retention, repeat purchase,
basket sizes, co-purchased pairs and hour-of-week activity.

Everything comes from the running state: cumulative tables from its cumulative summaries, basket
sizes and co-purchase pairs from the order lines of its trailing window (``basket_days``).
Rates with a zero denominator are 0 (the counts beside them say why).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.encode import DAY_US, NAT, day_us, dense_codes, group_sum, string_codes, to_ts, ts_us
from ecom_tasks.features.state import FeatureState

ORDER_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 9), (10, None))
BASKET_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 10), (11, 20), (21, 50), (51, None))


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def _label(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else (str(lo) if lo == hi else f"{lo}-{hi}")


def _bucket_counts(
    values: np.ndarray, buckets: tuple[tuple[int, int | None], ...]
) -> tuple[list[str], np.ndarray]:
    labels, counts = [], []
    for lo, hi in buckets:
        mask = values >= lo if hi is None else (values >= lo) & (values <= hi)
        labels.append(_label(lo, hi))
        counts.append(int(mask.sum()))
    return labels, np.asarray(counts, dtype=np.int64)


def month_label(months: np.ndarray) -> np.ndarray:
    """Months since 1970-01 as ``YYYY-MM`` strings."""
    return np.datetime_as_string(np.asarray(months, dtype=np.int64).astype("datetime64[M]"), unit="M")


def funnel_daily(state: FeatureState) -> pd.DataFrame:
    """One row per day from the first day with events to ``state.through`` (zeros on quiet days):
    sessions reaching view, cart and purchase, the conversion between steps, orders, revenue,
    active users, buyers and first-time buyers."""
    daily = state.daily
    end = day_us(state.through) // DAY_US
    start = ts_us(daily[fc.DAY]).min() // DAY_US if len(daily) else end
    days = np.arange(start, end + 1)
    pos = ts_us(daily[fc.DAY]) // DAY_US - start
    out: dict[str, object] = {fc.DAY: to_ts(days * DAY_US)}
    for col in daily.columns:
        if col != fc.DAY:
            full = np.zeros(len(days), dtype=daily[col].dtype)
            full[pos] = daily[col].to_numpy()
            out[col] = full
    first = ts_us(state.customers[fc.FIRST_PURCHASE_TS])
    first = first[first != NAT] // DAY_US - start
    out[fc.N_NEW_BUYERS] = group_sum(first[(first >= 0) & (first < len(days))], len(days))
    frame = pd.DataFrame(out)
    frame[fc.VIEW_TO_CART_RATE] = _rate(frame[fc.SESSIONS_CART], frame[fc.SESSIONS_VIEW])
    frame[fc.CART_TO_PURCHASE_RATE] = _rate(frame[fc.SESSIONS_PURCHASE], frame[fc.SESSIONS_CART])
    frame[fc.SESSION_CONVERSION] = _rate(frame[fc.SESSIONS_PURCHASE], frame[fc.N_SESSIONS])
    return frame


def cohort_retention(state: FeatureState) -> pd.DataFrame:
    """Long-form monthly retention matrix: for each first-purchase month (cohort) and each month
    after it (``period`` 0, 1, ...), the cohort's size and how many of it bought in that month."""
    cm = state.customer_months
    if not cm[fc.N_ORDERS].gt(0).any():
        return _empty([fc.COHORT, fc.PERIOD, fc.COHORT_SIZE, fc.N_CUSTOMERS, fc.RETENTION])
    user, _ = string_codes(cm[contract.USER_ID])
    month = cm[fc.MONTH].to_numpy(np.int64)
    ordered = cm[fc.N_ORDERS].to_numpy() > 0
    user, month = user[ordered], month[ordered]
    n_users = int(user.max()) + 1
    first = np.full(n_users, np.iinfo(np.int64).max)
    np.minimum.at(first, user, month)
    cohort = first[user]
    key, n = dense_codes([cohort - cohort.min(), month - cohort])
    rep = np.zeros(n, dtype=np.int64)
    rep[key] = np.arange(len(key))
    g_cohort, g_period = cohort[rep], (month - cohort)[rep]
    seen = first[first != np.iinfo(np.int64).max]
    c_months, c_sizes = np.unique(seen, return_counts=True)
    size = c_sizes[np.searchsorted(c_months, g_cohort)]
    active = group_sum(key, n)
    return pd.DataFrame(
        {
            fc.COHORT: pd.array(month_label(g_cohort), dtype=contract.STRING_DTYPE),
            fc.PERIOD: g_period.astype(np.int64),
            fc.COHORT_SIZE: size.astype(np.int64),
            fc.N_CUSTOMERS: active,
            fc.RETENTION: _rate(active, size),
        }
    )


def repeat_purchase(state: FeatureState) -> pd.DataFrame:
    """Buyers by number of orders (1, 2, 3, 4, 5-9, 10+) with their share; the repeat-purchase
    rate is 1 minus the share of the first row."""
    orders = state.customers[fc.N_ORDERS].to_numpy()
    orders = orders[orders > 0]
    labels, counts = _bucket_counts(orders, ORDER_BUCKETS)
    return pd.DataFrame(
        {
            fc.ORDERS_BUCKET: pd.array(labels, dtype=contract.STRING_DTYPE),
            fc.N_CUSTOMERS: counts,
            fc.SHARE: _rate(counts, np.full(len(counts), counts.sum())),
        }
    )


def _window_orders(purchases: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, pd.array, int]:
    """Distinct (order, item) lines: order code, item code, item ids, number of orders.

    ``purchases`` holds purchase events (with ``ts``) or the ``basket_lines`` state (with ``day``).
    """
    if not len(purchases):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), pd.array([], dtype=contract.STRING_DTYPE), 0
    user, _ = string_codes(purchases[contract.USER_ID])
    order, _ = string_codes(purchases[contract.ORDER_ID])
    order = np.where(order < 0, order.max(initial=-1) + 1 + np.arange(len(order)), order)
    day = ts_us(purchases[fc.DAY] if fc.DAY in purchases.columns else purchases[contract.TS]) // DAY_US
    item, item_ids = string_codes(purchases[contract.ITEM_ID])
    okey, n_orders = dense_codes([user + 1, order, day - day.min()], sort=False)
    line, n_lines = dense_codes([okey, item], sort=False)
    rep = np.zeros(n_lines, dtype=np.int64)
    rep[line] = np.arange(len(line))
    return okey[rep], item[rep], item_ids, n_orders


def basket_sizes(purchases: pd.DataFrame) -> pd.DataFrame:
    """Orders by number of distinct items (1, 2, ..., 51+) in the purchase lines given."""
    okey, _, _, n_orders = _window_orders(purchases)
    sizes = group_sum(okey, n_orders)
    labels, counts = _bucket_counts(sizes, BASKET_BUCKETS)
    return pd.DataFrame(
        {
            fc.BASKET_ITEMS: pd.array(labels, dtype=contract.STRING_DTYPE),
            fc.N_ORDERS: counts,
            fc.SHARE: _rate(counts, np.full(len(counts), counts.sum())),
        }
    )


def co_purchase_pairs(purchases: pd.DataFrame, items: pd.DataFrame, config: FeatureConfig) -> pd.DataFrame:
    """Item pairs bought in the same order, with support, confidence both ways and lift.

    Support = orders with both / all orders; confidence a->b = orders with both / orders with a;
    lift = confidence a->b / share of orders with b. Orders with more than
    ``config.max_basket_items`` distinct items are left out of the pair counts (not of the
    denominators). Keeps pairs in at least ``config.min_pair_orders`` orders, top
    ``config.top_pairs`` by number of orders, then lift.
    """
    okey, item, item_ids, n_orders = _window_orders(purchases)
    cols = [
        fc.ITEM_A,
        fc.ITEM_B,
        fc.TITLE_A,
        fc.TITLE_B,
        fc.N_PAIR_ORDERS,
        fc.SUPPORT,
        fc.CONFIDENCE_AB,
        fc.CONFIDENCE_BA,
        fc.LIFT,
    ]
    item_orders = group_sum(item, len(item_ids))
    sizes = group_sum(okey, n_orders)
    keep = (sizes[okey] >= 2) & (sizes[okey] <= config.max_basket_items)
    order = np.lexsort((item[keep], okey[keep]))
    o, it = okey[keep][order], item[keep][order]
    # Pair every line with the later lines of its order.
    ends = np.searchsorted(o, o, side="right")
    partners = ends - np.arange(len(o)) - 1
    a = np.repeat(np.arange(len(o)), partners)
    b = a + 1 + np.arange(len(a)) - np.repeat(np.cumsum(partners) - partners, partners)
    if not len(a):
        return _empty(cols)
    pair, n_pairs = dense_codes([it[a], it[b]])
    counts = group_sum(pair, n_pairs)
    rep = np.zeros(n_pairs, dtype=np.int64)
    rep[pair] = np.arange(len(pair))
    ia, ib = it[a][rep], it[b][rep]
    ok = counts >= config.min_pair_orders
    ia, ib, counts = ia[ok], ib[ok], counts[ok]
    na, nb = item_orders[ia].astype(float), item_orders[ib].astype(float)
    lift = counts * n_orders / (na * nb)
    top = np.lexsort((ib, ia, -lift, -counts))[: config.top_pairs]
    titles = items.drop_duplicates(contract.ITEM_ID).set_index(contract.ITEM_ID)[contract.TITLE]
    ids_a, ids_b = item_ids[ia[top]], item_ids[ib[top]]
    return pd.DataFrame(
        {
            fc.ITEM_A: ids_a,
            fc.ITEM_B: ids_b,
            fc.TITLE_A: pd.array(titles.reindex(ids_a).fillna("").to_numpy(), dtype=contract.STRING_DTYPE),
            fc.TITLE_B: pd.array(titles.reindex(ids_b).fillna("").to_numpy(), dtype=contract.STRING_DTYPE),
            fc.N_PAIR_ORDERS: counts[top],
            fc.SUPPORT: counts[top] / n_orders,
            fc.CONFIDENCE_AB: counts[top] / na[top],
            fc.CONFIDENCE_BA: counts[top] / nb[top],
            fc.LIFT: lift[top],
        }
    )


_DTYPES = {fc.N_PAIR_ORDERS: "int64", fc.PERIOD: "int64", fc.COHORT_SIZE: "int64", fc.N_CUSTOMERS: "int64"}
_DTYPES |= dict.fromkeys([fc.SUPPORT, fc.CONFIDENCE_AB, fc.CONFIDENCE_BA, fc.LIFT, fc.RETENTION], "float64")


def _empty(cols: list[str]) -> pd.DataFrame:
    dtypes = _DTYPES
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, contract.STRING_DTYPE)) for c in cols})


def hour_of_week(state: FeatureState) -> pd.DataFrame:
    """Activity by weekday (0 = Monday) and UTC hour over the whole history."""
    how = state.hour_of_week.copy()
    how.insert(1, fc.WEEKDAY, how[fc.HOUR_OF_WEEK] // 24)
    how.insert(2, fc.HOUR, how[fc.HOUR_OF_WEEK] % 24)
    return how


def build_analytics(
    state: FeatureState, items: pd.DataFrame, config: FeatureConfig
) -> dict[str, pd.DataFrame]:
    """All analytics tables as of ``state.through`` (baskets over its ``basket_lines`` window)."""
    purchases = state.basket_lines
    return {
        catalog.FUNNEL_DAILY: funnel_daily(state),
        catalog.COHORT_RETENTION: cohort_retention(state),
        catalog.REPEAT_PURCHASE: repeat_purchase(state),
        catalog.BASKET_SIZES: basket_sizes(purchases),
        catalog.CO_PURCHASE_PAIRS: co_purchase_pairs(purchases, items, config),
        catalog.HOUR_OF_WEEK: hour_of_week(state),
    }
