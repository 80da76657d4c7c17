"""Turn a simulated day into the canonical tables, with ids, strings and the configured dirt.

Strings are built with pyarrow compute kernels (no Python loop over rows); id strings of users and
items are cached across days and only extended for newcomers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_ID,
    EVENT_TYPE,
    EVENT_TYPES,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    ORDER_ID,
    PRICE,
    QUANTITY,
    SESSION_ID,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    conform,
)
from ecom_tasks.sources.base import ShopTables
from ecom_tasks.sources.synthetic import vocab
from ecom_tasks.sources.synthetic.day import BUY, DayEvents, st_date
from ecom_tasks.sources.synthetic.state import ShopState

# Stats keys reported in ShopTables.stats.
DIRT_DUPLICATES = "dirt_duplicates"
DIRT_MISSING_USER = "dirt_missing_user"
DIRT_ZERO_PRICE = "dirt_zero_price"
DIRT_UNKNOWN_ITEM = "dirt_unknown_item"
STAT_EVENTS, STAT_SESSIONS, STAT_ORDERS = "events", "sessions", "orders"
STAT_PURCHASES, STAT_RETURNS = "purchases", "returns"
STAT_USERS, STAT_ITEMS = "users", "items"


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by each number zero-padded to ``width`` (longer numbers stay unique)."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _day_strings(st: ShopState, days: np.ndarray) -> pa.Array:
    """``YYYYMMDD`` of each day index."""
    dates = np.datetime64(st.cfg.opening, "D") + days.astype("timedelta64[D]")
    return pc.replace_substring(pa.array(np.datetime_as_string(dates, unit="D")), "-", "")


class FrameBuilder:
    """Builds ShopTables for simulated days, caching the id and title strings of users and items."""

    def __init__(self, st: ShopState) -> None:
        self.st = st
        self.user_ids = pa.array([], pa.string())
        self.item_ids = pa.array([], pa.string())
        self.titles = pa.array([], pa.string())
        self.category_names = pa.array([s.name for s in st.specs])
        self.countries = pa.array(vocab.COUNTRIES)
        self.event_types = pa.array(EVENT_TYPES)
        self._digit_cache: dict[int, pa.Array] = {}

    def _extend_caches(self) -> None:
        st = self.st
        if len(self.user_ids) < st.users.n:
            new = ids("u", np.arange(len(self.user_ids), st.users.n), 6)
            self.user_ids = pa.concat_arrays([self.user_ids, new])
        if len(self.item_ids) < st.items.n:
            start = len(self.item_ids)
            self.item_ids = pa.concat_arrays([self.item_ids, ids("i", np.arange(start, st.items.n), 5)])
            self.titles = pa.concat_arrays([self.titles, self._titles(start)])

    def _titles(self, start: int) -> pa.Array:
        """ "Adjective Material Noun" from the category's vocabulary, e.g. "Rustic Oak Serving Bowl"."""
        words = self.st.items.words[start:].astype(np.int64)
        cat = self.st.items.category[start:].astype(np.int64)
        materials = pa.array([m for s in self.st.specs for m in s.materials])
        nouns = pa.array([w for s in self.st.specs for w in s.nouns])
        return pc.binary_join_element_wise(
            pa.array(vocab.ADJECTIVES).take(words[:, 0]),
            materials.take(cat * 5 + words[:, 1]),
            nouns.take(cat * 5 + words[:, 2]),
            " ",
        )

    def build(self, day: int, ev: DayEvents) -> ShopTables:
        """The canonical tables of ``day`` from its simulated events and the state after it."""
        self._extend_caches()
        events, dirt = self._events(day, ev)
        stats = {
            STAT_EVENTS: len(events),
            STAT_SESSIONS: ev.n_sessions,
            STAT_ORDERS: ev.n_orders,
            STAT_PURCHASES: int((ev.event_type == BUY).sum()),
            STAT_RETURNS: int((ev.quantity < 0).sum()),
            **dirt,
        }
        items, users = self.snapshots()
        stats[STAT_ITEMS], stats[STAT_USERS] = len(items), len(users)
        return ShopTables(events=events, items=items, users=users, stats=stats)

    def snapshots(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every item launched and every customer seen so far, attributes as first seen."""
        self._extend_caches()
        it, us = self.st.items, self.st.users
        items = pd.DataFrame(
            {
                ITEM_ID: _strings(self.item_ids),
                TITLE: _strings(self.titles),
                CATEGORY: _strings(self.category_names.take(it.category.astype(np.int64))),
                PRICE: it.price.copy(),
                FIRST_SEEN: _timestamps(it.first_seen_us),
            }
        )
        seen = np.flatnonzero(us.first_seen_us >= 0)
        users = pd.DataFrame(
            {
                USER_ID: _strings(self.user_ids.take(seen)),
                FIRST_SEEN: _timestamps(us.first_seen_us[seen]),
                COUNTRY: _strings(self.countries.take(us.country[seen].astype(np.int64))),
            }
        )
        return conform(items, ITEMS, where="synthetic items"), conform(users, USERS, where="synthetic users")

    def _digits(self, width: int, n: int) -> pa.Array:
        """Zero-padded "0..n-1" strings, cached because every day needs the same ones again."""
        have = self._digit_cache.get(width)
        if have is None or len(have) < n:
            have = ids("", np.arange(max(n, 2 * len(have) if have is not None else 0)), width)
            self._digit_cache[width] = have
        return have.slice(0, n)

    def _order_ids(self, day: int, stamp: str, ev: DayEvents) -> pa.Array:
        """Order ids per event: null for views and carts; returns carry the id of the original order."""
        today = _join(f"o{stamp}-", self._digits(6, ev.n_orders))
        earlier = np.flatnonzero((ev.order_seq >= 0) & (ev.order_day != day))
        old = pc.binary_join_element_wise(
            "o", _day_strings(self.st, ev.order_day[earlier]), "-", ids("", ev.order_seq[earlier], 6), ""
        )
        # Index into [today's orders, then the earlier ones]; null where an event has no order.
        pos = np.where(ev.order_day == day, ev.order_seq, -1)
        pos[earlier] = ev.n_orders + np.arange(len(earlier))
        return pa.concat_arrays([today, old]).take(pa.array(pos, mask=pos < 0))

    def _events(self, day: int, ev: DayEvents) -> tuple[pd.DataFrame, dict[str, int]]:
        cfg = self.st.cfg
        rng = np.random.default_rng([cfg.seed, 2, day])  # dirt has its own stream: it never alters the shop
        n = len(ev.ts_us)
        stamp = _day_strings(self.st, np.array([day]))[0].as_py()
        is_buy = ev.event_type == BUY
        unknown = rng.random(n) < cfg.unknown_item_rate
        lost_user = is_buy & (rng.random(n) < cfg.missing_user_rate)
        free = is_buy & (rng.random(n) < cfg.zero_price_rate)
        dup = rng.random(n) < cfg.duplicate_rate
        rows = np.repeat(np.arange(n), 1 + dup)  # a duplicate sits right after its original

        item = self.item_ids.take(ev.item.astype(np.int64))
        if unknown.any():
            fake = ids("iz", rng.integers(0, 100_000, size=int(unknown.sum())), 5)
            item = pc.replace_with_mask(item, pa.array(unknown), fake)
        user_idx = pa.array(ev.user.astype(np.int64), mask=(ev.user < 0) | lost_user)
        sessions = _join(f"s{stamp}-", self._digits(7, ev.n_sessions))
        order = self._order_ids(day, stamp, ev)
        cols = {
            EVENT_ID: _join(f"e{stamp}-", self._digits(8, n)),
            TS: ev.ts_us,
            USER_ID: self.user_ids.take(user_idx),
            SESSION_ID: sessions.take(ev.session),
            ITEM_ID: item,
            EVENT_TYPE: self.event_types.take(ev.event_type.astype(np.int64)),
            QUANTITY: ev.quantity,
            UNIT_PRICE: np.where(free, 0.0, ev.price),
            ORDER_ID: order,
            COUNTRY: self.countries.take(ev.country.astype(np.int64)),
        }
        frame = {}
        for name, col in cols.items():
            if isinstance(col, pa.Array):
                frame[name] = _strings(col.take(rows) if len(rows) != n else col)
            elif name == TS:
                frame[name] = _timestamps(col[rows])
            else:
                frame[name] = col[rows]
        dirt = {
            DIRT_DUPLICATES: int(dup.sum()),
            DIRT_MISSING_USER: int(lost_user.sum()),
            DIRT_ZERO_PRICE: int(free.sum()),
            DIRT_UNKNOWN_ITEM: int(unknown.sum()),
        }
        day_label = st_date(self.st, day).isoformat()
        return conform(pd.DataFrame(frame), EVENTS, where=f"synthetic events {day_label}"), dirt


def _join(prefix: str, digits: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(prefix, digits, "")


def _strings(arr: pa.Array) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(arr))


def _timestamps(us: np.ndarray) -> pd.Series:
    return pd.Series(us.astype("datetime64[us]")).dt.tz_localize("UTC")
