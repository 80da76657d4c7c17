"""One simulated day: customers arrive, browse, buy, return and drift away, all as numpy arrays.

The day's randomness comes from its own generator seeded by ``(seed, day)``, and its only input
besides that is the carried :class:`ShopState`, so a day is the same whichever range is requested.
Days that are not wanted are simulated by this same code (to carry the state forward) but never
turned into frames, which is where most of the cost would be.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from ecom_tasks.sources.synthetic import vocab
from ecom_tasks.sources.synthetic.config import SyntheticShopConfig
from ecom_tasks.sources.synthetic.state import DAY_US, NEVER, ShopState

VIEW, CART, BUY, RETURN = 0, 1, 2, 3  # positions in contract.EVENT_TYPES
_SECOND = 1_000_000
_EVENT_ARRAYS = (
    "ts_us",
    "user",
    "session",
    "item",
    "event_type",
    "quantity",
    "price",
    "order_day",
    "order_seq",
    "country",
)
_BROWSE = 0.01  # add-to-cart rate of a browsing session relative to a shopping trip
_HOURS = np.asarray(vocab.HOURLY_WEIGHTS) / np.sum(vocab.HOURLY_WEIGHTS)


@dataclass
class DayEvents:
    """The events of one day as parallel numpy arrays, sorted by time; ids are positions."""

    ts_us: np.ndarray  # int64, microseconds since the epoch
    user: np.ndarray  # int32, -1 for anonymous visitors
    session: np.ndarray  # int64, session number within the day
    item: np.ndarray  # int32
    event_type: np.ndarray  # int8: VIEW, CART, BUY, RETURN
    quantity: np.ndarray  # int64, negative for returns
    price: np.ndarray  # float64
    order_day: np.ndarray  # int32 day index of the order, -1 for views and carts
    order_seq: np.ndarray  # int64 order number within order_day, -1 for views and carts
    country: np.ndarray  # int8 index into vocab.COUNTRIES
    n_sessions: int
    n_orders: int


def season(cfg: SyntheticShopConfig, day: int) -> float:
    """Multiplier of day ``day``'s traffic: weekend uplift and a slow linear trend."""
    date = cfg.opening + dt.timedelta(days=day)
    weekend = 1.0 + cfg.weekend_uplift if date.weekday() >= 5 else 1.0
    return weekend * (1.0 + cfg.trend_per_year * day / 365.0)


def simulate_day(st: ShopState, day: int) -> DayEvents:
    """Advance ``st`` by one day (``day`` must be ``st.day + 1``) and return that day's events."""
    if day != st.day + 1:
        raise AssertionError(f"days must be simulated in order: expected {st.day + 1}, got {day}")
    cfg = st.cfg
    rng = np.random.default_rng([cfg.seed, 1, day])
    if day > 0:  # the opening catalogue and customers were created with the state
        st.add_items(rng, int(rng.poisson(cfg.new_items_per_day)), day)
        st.add_users(rng, int(rng.poisson(cfg.signups_per_day)), day)
    st.refresh_sampler(day)
    u = st.users

    # Drift towards churn: a hazard, higher for customers who have not bought recently.
    since_buy = np.where(u.last_purchase_day < 0, NEVER, day - u.last_purchase_day)
    hazard = cfg.churn_hazard * np.where(since_buy <= 30, 0.5, np.where(since_buy == NEVER, 1.5, 1.0))
    steady = (u.decline_start == NEVER) & (u.signup_day < day)
    u.decline_start[steady & (rng.random(u.n) < hazard)] = day
    fading = np.clip((day - u.decline_start.astype(np.int64) + 1) / cfg.churn_decline_days, 0.0, 1.0)
    gone = u.decline_start.astype(np.int64) + cfg.churn_decline_days <= day
    lam = u.activity * season(cfg, day)
    lam = np.where(gone, 0.0, lam * (1.0 - 0.9 * fading))
    counts = rng.poisson(lam)
    if day > 0:  # signing up is a visit (the opening's customers come at their own pace)
        counts[u.signup_day == day] = np.maximum(counts[u.signup_day == day], 1)

    # Consumables due again: bought in a short dedicated session, or the habit lapses.
    due = np.flatnonzero((u.repl_item >= 0) & (u.repl_due <= day) & ~gone)
    again = due[rng.random(len(due)) < cfg.repurchase_prob]
    repl_items = u.repl_item[again].copy()
    u.repl_item[due] = -1

    n_user = int(counts.sum())
    n_anon = int(rng.poisson(cfg.anonymous_share / (1.0 - cfg.anonymous_share) * (n_user + len(again))))
    s_user = np.concatenate(
        [
            np.repeat(np.arange(u.n, dtype=np.int32), counts),
            again.astype(np.int32),
            np.full(n_anon, -1, np.int32),
        ]
    )
    s_repl = np.concatenate([np.full(n_user, -1, np.int32), repl_items, np.full(n_anon, -1, np.int32)])
    n_sess = len(s_user)
    is_repl = s_repl >= 0
    n_views = 1 + rng.poisson(np.where(is_repl, 0.5, cfg.views_per_session - 1.0))
    s_cat = _category_from_prefs(st, rng, s_user)

    # Views: mostly within the session's category, sometimes the last thing the customer bought.
    v_sess = np.repeat(np.arange(n_sess), n_views)
    v_user = s_user[v_sess]
    starts = np.cumsum(n_views) - n_views
    stray = rng.random(len(v_sess)) >= cfg.session_focus
    v_cat = s_cat[v_sess]
    v_cat[stray] = _category_from_prefs(st, rng, v_user[stray])
    v_item = st.sampler.sample(v_cat, rng.random(len(v_sess)))
    known = v_user >= 0
    last = np.where(known, u.last_item[np.maximum(v_user, 0)], -1)
    revisit = (last >= 0) & (rng.random(len(v_sess)) < cfg.revisit_prob)
    v_item[revisit] = last[revisit]
    v_item[starts[is_repl]] = s_repl[is_repl]
    v_cat = st.items.category[v_item].astype(np.int64)

    # Add to cart: mostly in shopping trips (browsing sessions rarely add anything) and in categories
    # the customer likes; normalised so the overall rate stays at view_to_cart.
    share = np.where(s_user >= 0, u.buying[np.maximum(s_user, 0)], cfg.buying_share)
    trip = (rng.random(n_sess) < share)[v_sess]
    like = np.where(known, st.users.pref[np.maximum(v_user, 0), v_cat] * cfg.n_categories, 1.0)
    appeal = (0.5 + np.minimum(like, 4.0)) * np.where(trip, 1.0, _BROWSE)
    appeal *= _first_in_session(v_sess, v_item)  # the same item twice in a session is one cart line
    p_cart = _scaled_to_mean(appeal, cfg.view_to_cart, cap=0.95)
    carted = rng.random(len(v_sess)) < p_cart
    carted[starts[is_repl]] = True

    # Checkout: logged-in sessions with a cart buy everything in it; anonymous visitors never buy.
    has_cart = np.bincount(v_sess[carted], minlength=n_sess) > 0
    checkout = has_cart & (s_user >= 0) & (is_repl | (rng.random(n_sess) < cfg.cart_to_purchase))

    # Times: sessions start by an hourly profile; events follow each other by tens of seconds.
    gaps = rng.exponential(40 * _SECOND, size=len(v_sess)).astype(np.int64) + _SECOND
    offset = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[starts] - gaps[starts], n_views)
    duration = offset[starts + n_views - 1] + 120 * _SECOND
    hour = rng.choice(24, size=n_sess, p=_HOURS)
    start = hour * 3600 * _SECOND + rng.integers(0, 3600 * _SECOND, size=n_sess)
    start = np.minimum(start, DAY_US - duration - 1) + st.opening_us + day * DAY_US
    v_ts = start[v_sess] + offset
    c_idx = np.flatnonzero(carted)
    c_qty = 1 + rng.poisson(np.where(st.consumable[v_cat[c_idx]], 0.6, 0.2))
    c_ts = v_ts[c_idx] + rng.integers(5 * _SECOND, 30 * _SECOND, size=len(c_idx))
    b_idx = c_idx[checkout[v_sess[c_idx]]]
    b_qty = c_qty[checkout[v_sess[c_idx]]]
    b_ts = start[v_sess[b_idx]] + duration[v_sess[b_idx]] - 30 * _SECOND

    # Session and order numbers follow start time, so ids read in time order.
    sess_seq = np.empty(n_sess, np.int64)
    sess_seq[np.argsort(start, kind="stable")] = np.arange(n_sess)
    order_of_sess = np.full(n_sess, -1, np.int64)
    buyers = np.flatnonzero(checkout)
    order_of_sess[buyers[np.argsort(sess_seq[buyers], kind="stable")]] = np.arange(len(buyers))
    b_sess = v_sess[b_idx]
    b_user, b_item = s_user[b_sess], v_item[b_idx]
    b_price = st.items.price[b_item]

    r = _returns_due(st, rng, day, gone, n_sess)
    _schedule_returns(st, rng, day, b_user, b_item, b_qty, b_price, order_of_sess[b_sess])
    _remember_purchases(st, rng, day, b_user, b_item)

    s_country = np.where(s_user >= 0, u.country[np.maximum(s_user, 0)], -1).astype(np.int8)
    anon = s_user < 0
    s_country[anon] = rng.choice(len(vocab.COUNTRIES), size=int(anon.sum()), p=_country_p())
    n_v, n_c, n_b = len(v_sess), len(c_idx), len(b_idx)
    sess = np.concatenate([v_sess, v_sess[c_idx], b_sess])
    ev = DayEvents(
        ts_us=np.concatenate([v_ts, c_ts, b_ts, r["ts"]]),
        user=np.concatenate([s_user[sess], r["user"]]),
        session=np.concatenate([sess_seq[sess], r["session"]]),
        item=np.concatenate([v_item, v_item[c_idx], b_item, r["item"]]),
        event_type=np.repeat(np.array([VIEW, CART, BUY, RETURN], np.int8), [n_v, n_c, n_b, len(r["ts"])]),
        quantity=np.concatenate([np.ones(n_v, np.int64), c_qty, b_qty, -r["quantity"]]),
        price=np.concatenate([st.items.price[v_item], st.items.price[v_item[c_idx]], b_price, r["price"]]),
        order_day=np.concatenate(
            [np.full(n_v + n_c, -1, np.int32), np.full(n_b, day, np.int32), r["order_day"]]
        ),
        order_seq=np.concatenate([np.full(n_v + n_c, -1, np.int64), order_of_sess[b_sess], r["order_seq"]]),
        country=np.concatenate([s_country[sess], u.country[r["user"]]]),
        n_sessions=n_sess + len(r["ts"]),
        n_orders=len(buyers),
    )
    order = np.lexsort((ev.event_type, ev.session, ev.ts_us))
    for name in _EVENT_ARRAYS:
        setattr(ev, name, getattr(ev, name)[order])
    _remember_first_visits(st, ev)
    st.day = day
    return ev


def st_date(st: ShopState, day: int) -> dt.date:
    """The calendar date of day index ``day``."""
    return st.cfg.opening + dt.timedelta(days=day)


def _country_p() -> np.ndarray:
    w = np.asarray(vocab.COUNTRY_WEIGHTS)
    return w / w.sum()


def _category_from_prefs(st: ShopState, rng: np.random.Generator, users: np.ndarray) -> np.ndarray:
    """A category per row drawn from that customer's preferences (uniform for anonymous rows)."""
    k = st.cfg.n_categories
    pref = np.where((users >= 0)[:, None], st.users.pref[np.maximum(users, 0)], np.float32(1.0 / k))
    cum = np.cumsum(pref, axis=1)
    draw = rng.random(len(users)) * cum[:, -1]
    return np.minimum((cum < draw[:, None]).sum(axis=1), k - 1).astype(np.int64)


def _scaled_to_mean(weight: np.ndarray, target: float, cap: float) -> np.ndarray:
    """Probabilities proportional to ``weight``, capped at ``cap``, whose mean is ``target`` if reachable."""
    p = weight
    for _ in range(4):  # a few fixed-point steps give back the mass that the cap removed
        mean = p.mean() if len(p) else 1.0
        p = np.minimum(p * (target / mean if mean > 0 else 0.0), cap)
    return p


def _first_in_session(sess: np.ndarray, item: np.ndarray) -> np.ndarray:
    """True where (session, item) appears for the first time (rows are in session order)."""
    key = sess.astype(np.int64) * (np.int64(item.max(initial=0)) + 1) + item
    _, first = np.unique(key, return_index=True)
    mask = np.zeros(len(key), bool)
    mask[first] = True
    return mask


def _schedule_returns(
    st: ShopState,
    rng: np.random.Generator,
    day: int,
    user: np.ndarray,
    item: np.ndarray,
    qty: np.ndarray,
    price: np.ndarray,
    order_seq: np.ndarray,
) -> None:
    """Some purchased lines come back (partly) a few days later under the same order."""
    back = np.flatnonzero(rng.random(len(user)) < st.cfg.return_rate)
    delay = 1 + rng.poisson(st.cfg.return_delay_days - 1.0, size=len(back))
    returned = 1 + (rng.random(len(back)) * qty[back]).astype(np.int64)  # 1..quantity
    new = {
        "due": (day + delay).astype(np.int32),
        "user": user[back],
        "item": item[back],
        "quantity": returned,
        "price": price[back],
        "order_day": np.full(len(back), day, np.int32),
        "order_seq": order_seq[back],
    }
    st.pending = {k: np.concatenate([st.pending[k], new[k]]) for k in st.pending}


def _returns_due(
    st: ShopState, rng: np.random.Generator, day: int, gone: np.ndarray, n_sess: int
) -> dict[str, np.ndarray]:
    """Pop today's returns; customers who have left send nothing back (their returns are dropped)."""
    p = st.pending
    today = p["due"] <= day
    keep = today & ~gone[p["user"]]
    out = {k: v[keep] for k, v in p.items()}
    st.pending = {k: v[~today] for k, v in p.items()}
    n = int(keep.sum())
    out["ts"] = st.opening_us + day * DAY_US + np.sort(rng.integers(0, DAY_US, size=n))
    out["session"] = n_sess + np.arange(n, dtype=np.int64)  # a return is its own visit
    return out


def _remember_purchases(
    st: ShopState, rng: np.random.Generator, day: int, user: np.ndarray, item: np.ndarray
) -> None:
    """Carry what the next days need: last purchase day and item, and when a consumable is due."""
    u = st.users
    u.last_purchase_day[user] = day
    u.last_item[user] = item
    cons = st.consumable[st.items.category[item]]
    interval = st.cfg.consumable_interval_days * rng.lognormal(0.0, 0.25, size=int(cons.sum()))
    u.repl_item[user[cons]] = item[cons]
    u.repl_due[user[cons]] = day + np.maximum(1, np.round(interval)).astype(np.int32)


def _remember_first_visits(st: ShopState, ev: DayEvents) -> None:
    """Record each customer's first event time; events are sorted, so the first row is the earliest."""
    known = ev.user >= 0
    users, first = np.unique(ev.user[known], return_index=True)
    new = st.users.first_seen_us[users] < 0
    st.users.first_seen_us[users[new]] = ev.ts_us[known][first[new]]
