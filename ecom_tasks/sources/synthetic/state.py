"""The carried state of the synthetic shop: numpy columns over users and items, grown in place.

Everything here is O(users + items) plus the returns still pending; a day's events are never kept.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from ecom_tasks.sources.synthetic import vocab
from ecom_tasks.sources.synthetic.config import SyntheticShopConfig

NEVER = np.iinfo(np.int32).max  # "no such day" in int32 day columns
DAY_US = 86_400_000_000
_EPOCH = dt.date(1970, 1, 1)


def day_start_us(day: dt.date) -> int:
    """Microseconds since the Unix epoch at 00:00 UTC of ``day``."""
    return (day - _EPOCH).days * DAY_US


class Columns:
    """Equal-length numpy columns with spare capacity, so daily appends do not copy everything."""

    def __init__(self, **empty: np.ndarray) -> None:
        self.n = 0
        self._data = {name: np.zeros((16, *a.shape[1:]), dtype=a.dtype) for name, a in empty.items()}

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self.__dict__["_data"][name][: self.__dict__["n"]]
        except KeyError:
            raise AttributeError(name) from None

    def append(self, **cols: np.ndarray) -> None:
        k = len(next(iter(cols.values())))
        if self.n + k > len(next(iter(self._data.values()))):
            cap = max(2 * (self.n + k), 16)
            for name, arr in self._data.items():
                grown = np.zeros((cap, *arr.shape[1:]), dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self._data[name] = grown
        for name, arr in self._data.items():
            arr[self.n : self.n + k] = cols[name]
        self.n += k


class ShopState:
    """Users, items and pending returns of the shop at the end of the last simulated day."""

    def __init__(self, cfg: SyntheticShopConfig) -> None:
        self.cfg = cfg
        self.opening_us = day_start_us(cfg.opening)
        self.specs = vocab.category_specs(cfg.n_categories)
        self.consumable = np.array([s.consumable for s in self.specs], dtype=bool)
        k = cfg.n_categories
        self.users = Columns(
            country=np.zeros(0, np.int8),
            activity=np.zeros(0, np.float64),
            buying=np.zeros(0, np.float64),  # chance a session is a shopping trip rather than browsing
            pref=np.zeros((0, k), np.float32),
            signup_day=np.zeros(0, np.int32),
            first_seen_us=np.zeros(0, np.int64),  # -1 until the first event
            decline_start=np.zeros(0, np.int32),  # NEVER unless drifting away
            last_purchase_day=np.zeros(0, np.int32),  # -1 before the first purchase
            last_item=np.zeros(0, np.int32),  # last item bought, -1 if none
            repl_item=np.zeros(0, np.int32),  # consumable due to be bought again, -1 if none
            repl_due=np.zeros(0, np.int32),
        )
        self.items = Columns(
            category=np.zeros(0, np.int16),
            price=np.zeros(0, np.float64),
            popularity=np.zeros(0, np.float64),
            first_seen_us=np.zeros(0, np.int64),
            available_day=np.zeros(0, np.int32),
            words=np.zeros((0, 3), np.int8),  # adjective, material, noun of the title
        )
        self.pending = _empty_pending()
        self.sampler: ItemSampler | None = None
        self.day = -1  # index of the last simulated day (0 = opening day)
        rng = np.random.default_rng([cfg.seed, 0])
        self.add_items(rng, cfg.n_items, day=0, initial=True)
        self.add_users(rng, cfg.n_users, day=0)

    def add_users(self, rng: np.random.Generator, n: int, day: int) -> None:
        """Sign up ``n`` customers with random preferences, activity and country."""
        cfg = self.cfg
        sigma = cfg.activity_spread
        weights = np.asarray(vocab.COUNTRY_WEIGHTS)
        self.users.append(
            country=rng.choice(len(vocab.COUNTRIES), size=n, p=weights / weights.sum()).astype(np.int8),
            activity=cfg.sessions_per_user_day * rng.lognormal(-(sigma**2) / 2, sigma, size=n),
            buying=_buying_propensity(rng, cfg.buying_share, n),
            pref=rng.dirichlet(np.full(cfg.n_categories, cfg.preference_concentration), size=n),
            signup_day=np.full(n, day, np.int32),
            first_seen_us=np.full(n, -1, np.int64),
            decline_start=np.full(n, NEVER, np.int32),
            last_purchase_day=np.full(n, -1, np.int32),
            last_item=np.full(n, -1, np.int32),
            repl_item=np.full(n, -1, np.int32),
            repl_due=np.full(n, NEVER, np.int32),
        )

    def add_items(self, rng: np.random.Generator, n: int, day: int, *, initial: bool = False) -> None:
        """Launch ``n`` items; the opening catalogue has at least one item in every category."""
        k = self.cfg.n_categories
        category = rng.integers(0, k, size=n)
        if initial:
            category[:k] = np.arange(k)
        medians = np.array([s.median_price for s in self.specs])[category]
        raw_price = rng.lognormal(np.log(medians), 0.45)
        price = np.maximum(np.round(raw_price) - 0.01, 0.99)  # shop prices end in .99
        # Zipf law over a random rank among the opening catalogue's size (launches land anywhere).
        popularity = (1.0 + rng.random(n) * self.cfg.n_items) ** -self.cfg.popularity_skew
        launch = np.zeros(n, np.int64) if initial else rng.integers(0, DAY_US, size=n)
        words = np.stack(
            [
                rng.integers(0, len(vocab.ADJECTIVES), size=n),
                rng.integers(0, 5, size=n),  # every category has five materials and five nouns
                rng.integers(0, 5, size=n),
            ],
            axis=1,
        )
        self.items.append(
            category=category.astype(np.int16),
            price=price,
            popularity=popularity,
            first_seen_us=self.opening_us + day * DAY_US + launch,
            available_day=np.full(n, day if initial else day + 1, np.int32),
            words=words.astype(np.int8),
        )

    def refresh_sampler(self, day: int) -> None:
        """Rebuild the item sampler when the set of buyable items changed."""
        available = self.items.available_day <= day
        if self.sampler is None or self.sampler.n_available != int(available.sum()):
            self.sampler = ItemSampler(self.items.category, self.items.popularity, available)


class ItemSampler:
    """Draws items of given categories in proportion to their popularity, with one searchsorted."""

    def __init__(self, category: np.ndarray, popularity: np.ndarray, available: np.ndarray) -> None:
        idx = np.flatnonzero(available)
        order = idx[np.lexsort((idx, category[idx]))]
        cats = category[order].astype(np.int64)
        weights = popularity[order]
        csum = np.cumsum(weights)
        first = np.r_[True, cats[1:] != cats[:-1]]
        last = np.r_[cats[1:] != cats[:-1], True]
        base = np.repeat(csum[first] - weights[first], np.diff(np.r_[np.flatnonzero(first), len(cats)]))
        totals = np.repeat(csum[last] - base[last], np.diff(np.r_[np.flatnonzero(first), len(cats)]))
        # Keys of category c lie in (c, c+1]; the last is exactly c+1 so rounding cannot spill over.
        keys = cats + (csum - base) / totals
        keys[last] = cats[last] + 1.0
        self.keys, self.order, self.n_available = keys, order, len(idx)

    def sample(self, category: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Item indices for ``category`` (int array) given uniforms ``u`` in [0, 1)."""
        pos = np.searchsorted(self.keys, category + u, side="right")
        return self.order[np.minimum(pos, len(self.keys) - 1)].astype(np.int32)


def _buying_propensity(rng: np.random.Generator, share: float, n: int) -> np.ndarray:
    """Per-customer chance that a session is a shopping trip: Beta with mean ``share``, skewed so a
    minority of customers do most of the buying."""
    if share <= 0.0 or share >= 1.0:
        return np.full(n, share)
    return rng.beta(0.6, 0.6 * (1.0 - share) / share, size=n)


def _empty_pending() -> dict[str, np.ndarray]:
    return {
        "due": np.zeros(0, np.int32),
        "user": np.zeros(0, np.int32),
        "item": np.zeros(0, np.int32),
        "quantity": np.zeros(0, np.int64),
        "price": np.zeros(0, np.float64),
        "order_day": np.zeros(0, np.int32),
        "order_seq": np.zeros(0, np.int64),
    }
