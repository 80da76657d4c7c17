"""One function per running-state table: each summarises encoded events (see aggregate.py).

Everything runs on integer codes: each table is a few ``np.bincount`` calls over packed keys, and
distinct counts (orders, sessions, active users) are counts of de-duplicated packed keys.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.encode import (
    DAY_US,
    HOUR_US,
    SECOND_US,
    Encoded,
    dense_codes,
    group_fmax,
    group_fmin,
    group_max_us,
    group_min_us,
    group_reduce,
    group_sum,
    representatives,
    to_ts,
)
from ecom_tasks.features.state import HOUR_COLS, KEYS, WEEKDAY_COLS, typed_frame

VIEW, CART, PURCHASE, RETURN = range(4)  # positions in contract.EVENT_TYPES
_TYPE_COLUMNS = (
    (fc.N_VIEWS, VIEW),
    (fc.N_CARTS, CART),
    (fc.N_PURCHASE_LINES, PURCHASE),
    (fc.N_RETURN_LINES, RETURN),
)


def customers(e: Encoded) -> pd.DataFrame:
    """Per customer: event counts by type, units and value bought and returned, first/last event
    and order, inter-order gap sums, and activity by UTC hour and weekday."""
    n = len(e.users)
    known = e.user >= 0
    u, et = e.user[known], e.et[known]
    out: dict[str, object] = {contract.USER_ID: e.users}
    by_type = group_sum(u * 4 + et, n * 4).reshape(n, 4)  # one pass for every event type
    out[fc.N_EVENTS] = by_type.sum(axis=1)
    for col, t in _TYPE_COLUMNS:
        out[col] = by_type[:, t]
    buy, ret = e.buy[e.user[e.buy] >= 0], e.ret[e.user[e.ret] >= 0]
    ub, ur = e.user[buy], e.user[ret]
    out[fc.UNITS_PURCHASED] = group_sum(ub, n, e.qty[buy]).round()
    out[fc.UNITS_RETURNED] = group_sum(ur, n, -e.qty[ret]).round()
    out[fc.GROSS_VALUE] = group_sum(ub, n, e.value[buy])
    out[fc.RETURNED_VALUE] = group_sum(ur, n, -e.value[ret])
    out[fc.FIRST_EVENT_TS] = to_ts(group_min_us(u, n, e.ts[known]))
    out[fc.LAST_EVENT_TS] = to_ts(group_max_us(u, n, e.ts[known]))
    # Orders and the gaps between a customer's consecutive orders.
    has_user = e.o_user >= 0
    o_user, o_ts = e.o_user[has_user], e.o_ts[has_user]
    out[fc.N_ORDERS] = group_sum(o_user, n)
    out[fc.FIRST_PURCHASE_TS] = to_ts(group_min_us(o_user, n, o_ts))
    out[fc.LAST_PURCHASE_TS] = to_ts(group_max_us(o_user, n, o_ts))
    order = np.lexsort((o_ts, o_user))
    su, st = o_user[order], o_ts[order]
    same = su[1:] == su[:-1]
    g_user, gap = su[1:][same], (st[1:] - st[:-1])[same] / SECOND_US
    out[fc.GAP_SUM] = group_sum(g_user, n, gap)
    out[fc.GAP_SUMSQ] = group_sum(g_user, n, gap * gap)
    out[fc.GAP_MIN] = group_fmin(g_user, n, gap)
    out[fc.GAP_MAX] = group_fmax(g_user, n, gap)
    # When a customer is active: events (returns aside) by UTC hour and weekday (0 = Monday).
    ret_k = et == RETURN  # returns go to an extra bucket that is dropped (no copies of 10M rows)
    hours = group_sum(u * 25 + np.where(ret_k, 24, e.hour[known]), n * 25).reshape(n, 25)
    weekdays = group_sum(u * 8 + np.where(ret_k, 7, e.weekday[known]), n * 8).reshape(n, 8)
    out.update({c: hours[:, h] for h, c in enumerate(HOUR_COLS)})
    out.update({c: weekdays[:, d] for d, c in enumerate(WEEKDAY_COLS)})
    return typed_frame("customers", out)


def customer_items(e: Encoded) -> pd.DataFrame:
    """Per (customer, item) bought: orders containing it, units and value."""
    buy = np.flatnonzero((e.et == PURCHASE) & (e.user >= 0))
    pair, n = dense_codes([e.user[buy], e.item[buy]])
    rep = buy[representatives(pair, n)]
    line, n_line = dense_codes([e.order[buy], e.item[buy]], sort=False)  # once per order
    line_pair = pair[representatives(line, n_line)]
    return typed_frame(
        "customer_items",
        {
            contract.USER_ID: e.users[e.user[rep]],
            contract.ITEM_ID: e.items[e.item[rep]],
            fc.N_ORDERS: group_sum(line_pair, n),
            fc.UNITS: group_sum(pair, n, e.qty[buy]).round(),
            fc.VALUE: group_sum(pair, n, e.value[buy]),
        },
    )


def customer_daily(e: Encoded, start_us: int) -> pd.DataFrame:
    """Per (customer, day) from ``start_us`` on: events, orders and purchase value."""
    rows = np.flatnonzero((e.user >= 0) & (e.ts >= start_us))
    o_user, o_day = e.o_user, e.o_day
    o_keep = (o_user >= 0) & (o_day * DAY_US >= start_us)
    # Events and orders share the (user, day) groups: every order's lines are events of that day.
    users = np.concatenate([e.user[rows], o_user[o_keep]])
    days = np.concatenate([e.day[rows], o_day[o_keep]])
    key, n = dense_codes([users, days - days.min(initial=0)])
    ev_key, o_key = key[: len(rows)], key[len(rows) :]
    rep = representatives(ev_key, n)
    buy = e.et[rows] == PURCHASE
    return typed_frame(
        "customer_daily",
        {
            contract.USER_ID: e.users[users[rep]],
            fc.DAY: to_ts(days[rep] * DAY_US),
            fc.N_EVENTS: group_sum(ev_key, n),
            fc.N_ORDERS: group_sum(o_key, n),
            fc.VALUE: group_sum(ev_key[buy], n, e.value[rows][buy]),
        },
    )


def _months(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def customer_months(e: Encoded) -> pd.DataFrame:
    """Per (customer, month) with purchases: orders and purchase value (for cohorts)."""
    o_user, o_day = e.o_user, e.o_day
    has = o_user >= 0
    buy = np.flatnonzero((e.et == PURCHASE) & (e.user >= 0))
    users = np.concatenate([o_user[has], e.user[buy]])
    months = _months(np.concatenate([o_day[has], e.day[buy]]))
    key, n = dense_codes([users, months - months.min(initial=0)])
    rep = representatives(key, n)
    n_o = int(has.sum())
    return typed_frame(
        "customer_months",
        {
            contract.USER_ID: e.users[users[rep]],
            fc.MONTH: months[rep],
            fc.N_ORDERS: group_sum(key[:n_o], n),
            fc.VALUE: group_sum(key[n_o:], n, e.value[buy]),
        },
    )


def items(e: Encoded) -> pd.DataFrame:
    """Per item: views, carts, purchase lines, orders, units, value, returns and sums for price
    statistics over purchase lines with a positive price."""
    n = len(e.items)
    # Take the purchase and return rows once: masking 10M-row arrays again per column is slow.
    ib, qb, vb, pb, tb = e.item[e.buy], e.qty[e.buy], e.value[e.buy], e.price[e.buy], e.ts[e.buy]
    ir = e.item[e.ret]
    paid = pb > 0
    ip, pp = ib[paid], pb[paid]
    line, n_line = dense_codes([e.order[e.buy], ib], sort=False)
    out: dict[str, object] = {contract.ITEM_ID: e.items}
    by_type = group_sum(e.item * 4 + e.et, n * 4).reshape(n, 4)
    out[fc.N_VIEWS], out[fc.N_CARTS] = by_type[:, VIEW], by_type[:, CART]
    out[fc.N_PURCHASE_LINES], out[fc.N_RETURN_LINES] = by_type[:, PURCHASE], by_type[:, RETURN]
    out[fc.N_ORDERS] = group_sum(ib[representatives(line, n_line)], n)
    out[fc.UNITS] = group_sum(ib, n, qb).round()
    out[fc.VALUE] = group_sum(ib, n, vb)
    out[fc.UNITS_RETURNED] = group_sum(ir, n, -e.qty[e.ret]).round()
    out[fc.PRICE_N] = group_sum(ip, n)
    out[fc.N_ZERO_PRICE_LINES] = group_sum(ib[~paid], n)
    out[fc.PRICE_SUM] = group_sum(ip, n, pp)
    out[fc.PRICE_SUMSQ] = group_sum(ip, n, pp**2)
    out[fc.PRICE_MIN] = group_fmin(ip, n, pp)
    out[fc.PRICE_MAX] = group_fmax(ip, n, pp)
    out[fc.FIRST_EVENT_TS] = to_ts(group_min_us(e.item, n, e.ts))
    out[fc.LAST_EVENT_TS] = to_ts(group_max_us(e.item, n, e.ts))
    out[fc.LAST_PURCHASE_TS] = to_ts(group_max_us(ib, n, tb))
    return typed_frame("items", out)


def item_daily(e: Encoded, start_us: int) -> pd.DataFrame:
    """Per (item, day) from ``start_us`` on: views, carts, purchase lines and units."""
    rows = np.flatnonzero(e.ts >= start_us)
    key, n = dense_codes([e.item[rows], e.day[rows]])
    rep = rows[representatives(key, n)]
    et = e.et[rows]
    return typed_frame(
        "item_daily",
        {
            contract.ITEM_ID: e.items[e.item[rep]],
            fc.DAY: to_ts(e.day[rep] * DAY_US),
            fc.N_VIEWS: group_sum(key[et == VIEW], n),
            fc.N_CARTS: group_sum(key[et == CART], n),
            fc.N_PURCHASE_LINES: group_sum(key[et == PURCHASE], n),
            fc.UNITS: group_sum(key[et == PURCHASE], n, e.qty[rows][et == PURCHASE]).round(),
        },
    )


_PRESENCE_CELLS = 1 << 27  # largest (ids x days) presence table, in bytes


def _groups_per_day(
    ids: np.ndarray, n_ids: int, et: np.ndarray, offset: np.ndarray, size: int, types: tuple[int, ...]
) -> dict[int | None, np.ndarray]:
    """Distinct ``ids`` per day offset, overall (key ``None``) and with an event of each of ``types``.

    Avoids hashing 10M keys: a presence table when (ids x days) is small (users), else ids that
    stay within one day (nearly every session) are counted on that day and only the rest grouped.
    """
    out: dict[int | None, np.ndarray] = {}
    if n_ids * size <= _PRESENCE_CELLS:
        key = ids * size + offset
        for t in (None, *types):
            present = np.zeros(n_ids * size, dtype=bool)
            present[key if t is None else key[et == t]] = True
            out[t] = np.bincount(np.flatnonzero(present) % size, minlength=size)
        return out
    first = np.full(n_ids, size, dtype=np.int64)
    np.minimum.at(first, ids, offset)
    last = np.full(n_ids, -1, dtype=np.int64)
    np.maximum.at(last, ids, offset)
    single = first == last  # never true for an id without rows (size != -1)
    one_day = single[ids]
    has = group_sum(ids[one_day] * 4 + et[one_day], n_ids * 4).reshape(n_ids, 4) > 0
    out[None] = group_sum(first[single], size)
    for t in types:
        out[t] = group_sum(first[single & has[:, t]], size)
    multi = ~one_day
    if multi.any():
        m_ids, m_off, m_et = ids[multi], offset[multi], et[multi]
        key, n = dense_codes([m_ids, m_off], sort=False)
        g_off = m_off[representatives(key, n)]
        m_has = group_sum(key * 4 + m_et, n * 4).reshape(n, 4) > 0
        out[None] = out[None] + group_sum(g_off, size)
        for t in types:
            out[t] = out[t] + group_sum(g_off[m_has[:, t]], size)
    return out


def daily(e: Encoded) -> pd.DataFrame:
    """Per day: events, sessions reaching each funnel step, orders, revenue, active users, buyers."""
    days = np.unique(e.day)
    first = days[0] if len(days) else 0
    offset, where = e.day - first, days - first
    size = int(where[-1]) + 1 if len(days) else 0

    def per_day(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return group_sum(offset[mask], size, weights)[where]

    et, known = e.et, e.user >= 0
    n_sessions = int(e.session.max()) + 1 if len(e.session) else 0
    sessions = _groups_per_day(e.session, n_sessions, et, offset, size, (VIEW, CART, PURCHASE))
    users = _groups_per_day(e.user[known], len(e.users), et[known], offset[known], size, (PURCHASE,))
    out: dict[str, object] = {fc.DAY: to_ts(days * DAY_US)}
    out[fc.N_EVENTS] = group_sum(offset, size)[where]
    out[fc.N_SESSIONS] = sessions[None][where]
    out[fc.SESSIONS_VIEW] = sessions[VIEW][where]
    out[fc.SESSIONS_CART] = sessions[CART][where]
    out[fc.SESSIONS_PURCHASE] = sessions[PURCHASE][where]
    by_type = group_sum(offset * 4 + et, size * 4).reshape(size, 4)[where]
    for col, t in _TYPE_COLUMNS:
        out[col] = by_type[:, t]
    out[fc.N_ORDERS] = group_sum(e.o_day - first, size)[where]
    out[fc.REVENUE] = per_day(et == PURCHASE, e.value[et == PURCHASE])
    out[fc.RETURNED_VALUE] = per_day(et == RETURN, -e.value[et == RETURN])
    out[fc.N_ACTIVE_USERS] = users[None][where]
    out[fc.N_BUYERS_DAY] = users[PURCHASE][where]
    return typed_frame("daily", out)


def hour_of_week(e: Encoded) -> pd.DataFrame:
    """Per hour of the week (0 = Monday 00:00 UTC): events by type and orders."""
    by_type = group_sum((e.weekday * 24 + e.hour) * 4 + e.et, 168 * 4).reshape(168, 4)
    o_how = ((e.o_day + 3) % 7) * 24 + (e.o_ts // HOUR_US) % 24
    out: dict[str, object] = {fc.HOUR_OF_WEEK: np.arange(168)}
    for col, t in _TYPE_COLUMNS:
        out[col] = by_type[:, t]
    out[fc.N_ORDERS] = group_sum(o_how, 168)
    return typed_frame("hour_of_week", out)


def basket_lines(e: Encoded, start_us: int) -> pd.DataFrame:
    """Distinct (order, item) purchase lines from ``start_us`` on, with how many lines each had."""
    rows = e.buy[e.ts[e.buy] >= start_us]
    key, n = dense_codes([e.order[rows], e.item[rows]], sort=False)
    rep = rows[representatives(key, n)]
    lines = pd.DataFrame(
        {
            contract.USER_ID: _take(e.users, e.user[rep]),
            contract.ORDER_ID: _take(e.order_ids, e.order_id[rep]),
            fc.DAY: to_ts(e.day[rep] * DAY_US),
            contract.ITEM_ID: _take(e.items, e.item[rep]),
            fc.N_PURCHASE_LINES: group_sum(key, n),
        }
    )
    # Sorted by key exactly as state.combine sorts, so a fold equals a full summary.
    return typed_frame("basket_lines", group_reduce(lines, KEYS["basket_lines"], sums=[fc.N_PURCHASE_LINES]))


def _take(uniques: pd.array, codes: np.ndarray) -> pd.array:
    """``uniques[codes]`` with missing values where a code is -1."""
    return pd.Series(uniques, dtype=contract.STRING_DTYPE).reindex(codes).array
