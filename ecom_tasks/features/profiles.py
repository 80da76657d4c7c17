"""Customer profiles as of the end of a day: RFM with quintile scores and segments, tenure,
order value, returns, category affinity, inter-purchase times, activity trend, preferred
hour/weekday and funnel rates.

One row per known customer (in the users snapshot or with events). Model inputs never hold NaN:
every fill value is chosen deliberately and listed here, with an indicator where it matters.

- No purchase yet (``has_purchase`` = 0, also a customer with only returns): ``recency_days`` =
  ``tenure_days`` (the time we have watched them without a purchase, a lower bound of the true
  recency), frequency/monetary/AOV/gap statistics 0, R/F/M scores 0, segment ``no_purchase``.
- Fewer than two orders (``has_repeat`` = 0): gap statistics 0.
- Month rhythm (activity.py): ``n_active_months``, ``active_month_share`` and
  ``orders_per_active_month`` are 0 without a purchase.
- No views / no carts (``has_views``/``has_carts`` = 0, e.g. a shop that only logs orders):
  funnel rates 0.
- No events other than returns: preferred hour and weekday -1 (``has_events`` = 0 when none at all).
- Return rate = units returned / max(units bought, units returned): 1.0 for a customer with only
  returns (everything we saw of them came back), 0 with neither.
- ``monetary`` is net of returns and floored at 0 (returns of orders placed before our history
  would otherwise make it negative); ``gross_value`` and ``returned_value`` keep both sides.
- Missing country or category: ``unknown``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.activity import month_activity, trend, window_sums
from ecom_tasks.features.config import DEFAULT_FEATURES, FeatureConfig
from ecom_tasks.features.encode import (
    DAY_US,
    NAT,
    day_us,
    dense_codes,
    group_sum,
    positions,
    rows_for,
    sorted_union,
    string_codes,
    ts_us,
)
from ecom_tasks.features.state import HOUR_COLS, WEEKDAY_COLS, FeatureState

CHAMPIONS, LOYAL, POTENTIAL_LOYALISTS, NEW = "champions", "loyal", "potential_loyalists", "new"
PROMISING, NEED_ATTENTION, ABOUT_TO_SLEEP = "promising", "need_attention", "about_to_sleep"
AT_RISK, CANT_LOSE, HIBERNATING, LOST = "at_risk", "cant_lose", "hibernating", "lost"
NO_PURCHASE = "no_purchase"
# The standard RF segment map (rows: R score 1..5, columns: F score 1..5), with "lost" split out
# of "hibernating" for the least recent one-off buyers.
SEGMENT_GRID = np.array(
    [
        [LOST, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE],
        [HIBERNATING, HIBERNATING, AT_RISK, AT_RISK, CANT_LOSE],
        [ABOUT_TO_SLEEP, ABOUT_TO_SLEEP, NEED_ATTENTION, LOYAL, LOYAL],
        [PROMISING, POTENTIAL_LOYALISTS, POTENTIAL_LOYALISTS, LOYAL, LOYAL],
        [NEW, POTENTIAL_LOYALISTS, POTENTIAL_LOYALISTS, CHAMPIONS, CHAMPIONS],
    ],
    dtype=object,
)
SEGMENTS: tuple[str, ...] = (
    CHAMPIONS, LOYAL, POTENTIAL_LOYALISTS, NEW, PROMISING, NEED_ATTENTION,
    ABOUT_TO_SLEEP, AT_RISK, CANT_LOSE, HIBERNATING, LOST, NO_PURCHASE,
)  # fmt: skip


def quintile_score(values: np.ndarray, *, ties_high: bool = False) -> np.ndarray:
    """Scores 1..5 by rank (higher value, higher score); equal values share one score.

    Ties share the lower score by default, so the mass of one-order customers all get F = 1
    instead of being split arbitrarily; with ``ties_high`` they share the higher one.
    """
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.int64)
    if ties_high:
        ranks = pd.Series(values).rank(method="max").to_numpy()
        return np.clip(np.ceil(5 * ranks / n), 1, 5).astype(np.int64)
    ranks = pd.Series(values).rank(method="min").to_numpy()
    return np.clip(1 + np.floor(5 * (ranks - 1) / n), 1, 5).astype(np.int64)


def rfm_scores(recency: np.ndarray, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """R, F, M quintile scores (an ``n x 3`` array) of buyers; recent = high R.

    Recency ties share the higher score, frequency and monetary ties the lower: a history with a
    single buyer scores R5 F1 ("new"), and one-order customers score F1.
    """
    return np.column_stack(
        [quintile_score(-recency, ties_high=True), quintile_score(frequency), quintile_score(monetary)]
    )


def rfm_segment(r: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Segment names from R and F scores; score 0 (no purchase) maps to ``no_purchase``."""
    r, f = np.asarray(r), np.asarray(f)
    out = np.full(len(r), NO_PURCHASE, dtype=object)
    ok = (r >= 1) & (f >= 1)
    out[ok] = SEGMENT_GRID[r[ok] - 1, f[ok] - 1]
    return out


def _days(delta_us: np.ndarray) -> np.ndarray:
    return delta_us / DAY_US


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` capped at 1, 0 where ``den`` is 0."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.minimum(np.divide(num, den, out=np.zeros_like(num), where=den > 0), 1.0)


def slug(name: str) -> str:
    """A column-name-safe form of a category name."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_") or "blank"


def category_affinity(
    state: FeatureState, items: pd.DataFrame, ids: pd.array, top_k: int, pinned: tuple[str, ...] | None = None
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Distinct items/categories, top category and shares over the ``top_k`` most-bought categories
    (or over the ``pinned`` ones).

    Shares count orders containing an item of the category (one per item and order), so a
    wholesale quantity does not swamp the profile. Returns the columns and the categories used.
    """
    ci = state.customer_items
    items = items.drop_duplicates(contract.ITEM_ID)
    n = len(ids)
    u = positions(ci[contract.USER_ID], ids)
    weight = ci[fc.N_ORDERS].to_numpy(np.float64)
    cat_codes, cat_names = string_codes(items[contract.CATEGORY])
    pos = positions(ci[contract.ITEM_ID], items[contract.ITEM_ID])
    cat = np.where(pos >= 0, cat_codes[np.maximum(pos, 0)], -1) if len(cat_codes) else np.full(len(ci), -1)
    total = group_sum(u, n, weight)
    known = cat >= 0
    pair, n_pair = dense_codes([u[known], cat[known]]) if known.any() else (np.zeros(0, np.int64), 0)
    rep = np.zeros(n_pair, dtype=np.int64)
    rep[pair] = np.flatnonzero(known)
    pair_w = group_sum(pair, n_pair, weight[known])
    pair_u, pair_c = u[rep], cat[rep]
    # Favourite category: most orders, ties to the first name.
    best = np.lexsort((pair_c, -pair_w, pair_u))
    first = np.ones(len(best), dtype=bool)
    first[1:] = pair_u[best][1:] != pair_u[best][:-1]
    top_cat = np.full(n, fc.UNKNOWN, dtype=object)
    top_cat[pair_u[best][first]] = np.asarray(cat_names, dtype=object)[pair_c[best][first]]
    out: dict[str, np.ndarray] = {
        fc.N_DISTINCT_ITEMS: group_sum(u, n),
        fc.N_DISTINCT_CATEGORIES: group_sum(pair_u, n),
        fc.TOP_CATEGORY: top_cat,
    }
    if pinned is None:
        popularity = group_sum(pair_c, len(cat_names), pair_w)
        ranked = sorted(range(len(cat_names)), key=lambda c: (-popularity[c], str(cat_names[c])))
        top = [str(cat_names[c]) for c in ranked if popularity[c] > 0][:top_k]
    else:
        top = list(pinned)
    code_of = {str(name): c for c, name in enumerate(cat_names)}
    shares_sum = np.zeros(n)
    used: set[str] = set()
    for name in top:
        col = fc.CAT_SHARE_PREFIX + slug(name)
        while col in used or col == fc.CAT_SHARE_OTHER:
            col += "_"
        used.add(col)
        mine = pair_c == code_of.get(name, -1)
        share = np.divide(group_sum(pair_u[mine], n, pair_w[mine]), total, out=np.zeros(n), where=total > 0)
        out[col] = share
        shares_sum += share
    out[fc.CAT_SHARE_OTHER] = np.where(total > 0, np.clip(1.0 - shares_sum, 0.0, 1.0), 0.0)
    return out, top


def customer_profiles(
    state: FeatureState, users: pd.DataFrame, items: pd.DataFrame, config: FeatureConfig = DEFAULT_FEATURES
) -> tuple[pd.DataFrame, list[str]]:
    """Profiles of every known customer as of the end of ``state.through``.

    Args:
        state: running state as of the day (see state.py).
        users: the users snapshot as of the same day (canonical ``users`` table).
        items: the items snapshot as of the same day (for categories).
        config: feature parameters (trend window, number of affinity categories).

    Returns:
        The profiles (sorted by user id, no NaN) and the categories given a ``cat_share_*`` column.
    """
    as_of = day_us(state.through) + DAY_US
    cs = state.customers
    ids = sorted_union(cs[contract.USER_ID], users[contract.USER_ID])
    n = len(ids)
    c = rows_for(cs, contract.USER_ID, ids)
    snap = rows_for(users.drop_duplicates(contract.USER_ID), contract.USER_ID, ids)

    def num(col: str) -> np.ndarray:
        return c[col].fillna(0).to_numpy(np.float64)

    def stamp(series: pd.Series) -> np.ndarray:
        return ts_us(series) if len(series) else np.zeros(0, dtype=np.int64)

    first_event, first_seen = stamp(c[fc.FIRST_EVENT_TS]), stamp(snap[contract.FIRST_SEEN])
    big = np.iinfo(np.int64).max
    first = np.minimum(
        np.where(first_event == NAT, big, first_event), np.where(first_seen == NAT, big, first_seen)
    )
    first = np.where(first == big, as_of, first)
    orders = num(fc.N_ORDERS)
    buyer = orders > 0
    tenure = _days(as_of - first)
    last_buy, first_buy = stamp(c[fc.LAST_PURCHASE_TS]), stamp(c[fc.FIRST_PURCHASE_TS])
    recency = np.where(buyer, _days(as_of - last_buy), tenure)
    gross, returned = num(fc.GROSS_VALUE), num(fc.RETURNED_VALUE)
    monetary = np.maximum(gross - returned, 0.0)
    scores = np.zeros((n, 3), dtype=np.int64)
    scores[buyer] = rfm_scores(recency[buyer], orders[buyer], monetary[buyer])
    n_gaps = np.maximum(orders - 1, 0)
    gap_mean = np.divide(num(fc.GAP_SUM), n_gaps, out=np.zeros(n), where=n_gaps > 0)
    gap_var = np.divide(num(fc.GAP_SUMSQ), n_gaps, out=np.zeros(n), where=n_gaps > 0) - gap_mean**2
    units_in, units_out = num(fc.UNITS_PURCHASED), num(fc.UNITS_RETURNED)
    views, carts, lines = num(fc.N_VIEWS), num(fc.N_CARTS), num(fc.N_PURCHASE_LINES)
    hours = c[HOUR_COLS].fillna(0).to_numpy()
    weekdays = c[WEEKDAY_COLS].fillna(0).to_numpy()
    active = hours.sum(axis=1) > 0
    span = config.trend_days * DAY_US
    recent = window_sums(state, ids, as_of - span, as_of)
    prior = window_sums(state, ids, as_of - 2 * span, as_of - span)
    months = month_activity(state, ids, orders)
    affinity, top_categories = category_affinity(
        state, items, ids, config.top_categories, config.affinity_categories
    )
    country = snap[contract.COUNTRY].astype(contract.STRING_DTYPE).fillna(fc.UNKNOWN)
    out = {
        contract.USER_ID: pd.array(ids, dtype=contract.STRING_DTYPE),
        contract.COUNTRY: country.to_numpy(),
        contract.FIRST_SEEN: pd.to_datetime(first, unit="us", utc=True),
        fc.HAS_EVENTS: (num(fc.N_EVENTS) > 0).astype(np.int8),
        fc.HAS_PURCHASE: buyer.astype(np.int8),
        fc.TENURE_DAYS: tenure,
        fc.RECENCY_DAYS: recency,
        fc.FREQUENCY: orders.astype(np.int64),
        fc.MONETARY: monetary,
        fc.GROSS_VALUE: gross,
        fc.RETURNED_VALUE: returned,
        fc.R_SCORE: scores[:, 0].astype(np.int8),
        fc.F_SCORE: scores[:, 1].astype(np.int8),
        fc.M_SCORE: scores[:, 2].astype(np.int8),
        fc.RFM_CELL: (scores[:, 0] * 100 + scores[:, 1] * 10 + scores[:, 2]).astype(np.int64),
        fc.SEGMENT: rfm_segment(scores[:, 0], scores[:, 1]),
        fc.AVG_ORDER_VALUE: np.divide(gross, orders, out=np.zeros(n), where=buyer),
        fc.UNITS_PURCHASED: units_in.astype(np.int64),
        fc.UNITS_RETURNED: units_out.astype(np.int64),
        fc.RETURN_RATE: _ratio(units_out, np.maximum(units_in, units_out)),
        fc.HAS_RETURNS: (num(fc.N_RETURN_LINES) > 0).astype(np.int8),
        **{k: v for k, v in affinity.items() if not k.startswith(fc.CAT_SHARE_PREFIX)},
        fc.DAYS_SINCE_FIRST_PURCHASE: np.where(buyer, _days(as_of - first_buy), 0.0),
        fc.HAS_REPEAT: (orders >= 2).astype(np.int8),
        fc.GAP_MEAN_DAYS: gap_mean / 86_400,
        fc.GAP_STD_DAYS: np.sqrt(np.maximum(gap_var, 0.0)) / 86_400,
        fc.GAP_MIN_DAYS: np.where(n_gaps > 0, c[fc.GAP_MIN].fillna(0).to_numpy(np.float64), 0.0) / 86_400,
        fc.GAP_MAX_DAYS: np.where(n_gaps > 0, c[fc.GAP_MAX].fillna(0).to_numpy(np.float64), 0.0) / 86_400,
        fc.EVENTS_RECENT: recent[fc.N_EVENTS].astype(np.int64),
        fc.EVENTS_PRIOR: prior[fc.N_EVENTS].astype(np.int64),
        fc.ORDERS_RECENT: recent[fc.N_ORDERS].astype(np.int64),
        fc.ORDERS_PRIOR: prior[fc.N_ORDERS].astype(np.int64),
        fc.SPEND_RECENT: recent[fc.VALUE],
        fc.SPEND_PRIOR: prior[fc.VALUE],
        fc.ACTIVITY_TREND: trend(recent[fc.N_EVENTS], prior[fc.N_EVENTS]),
        fc.ORDER_TREND: trend(recent[fc.N_ORDERS], prior[fc.N_ORDERS]),
        **months,
        fc.PREFERRED_HOUR: np.where(active, hours.argmax(axis=1), -1).astype(np.int8),
        fc.PREFERRED_WEEKDAY: np.where(active, weekdays.argmax(axis=1), -1).astype(np.int8),
        fc.N_EVENTS: num(fc.N_EVENTS).astype(np.int64),
        fc.N_VIEWS: views.astype(np.int64),
        fc.N_CARTS: carts.astype(np.int64),
        fc.N_PURCHASE_LINES: lines.astype(np.int64),
        fc.N_RETURN_LINES: num(fc.N_RETURN_LINES).astype(np.int64),
        fc.HAS_VIEWS: (views > 0).astype(np.int8),
        fc.HAS_CARTS: (carts > 0).astype(np.int8),
        fc.VIEW_TO_CART: _ratio(carts, views),
        fc.CART_TO_PURCHASE: _ratio(lines, carts),
        fc.VIEW_TO_PURCHASE: _ratio(lines, views),
        **{k: v for k, v in affinity.items() if k.startswith(fc.CAT_SHARE_PREFIX)},
    }
    frame = pd.DataFrame(out)
    frame[contract.FIRST_SEEN] = frame[contract.FIRST_SEEN].astype(contract.TS_DTYPE)
    frame[fc.SEGMENT] = frame[fc.SEGMENT].astype(contract.STRING_DTYPE)
    frame[fc.TOP_CATEGORY] = frame[fc.TOP_CATEGORY].astype(contract.STRING_DTYPE)
    return frame, top_categories
