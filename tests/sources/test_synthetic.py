"""Tests of the built-in synthetic shop: determinism, contract, dirt accounting and realism."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.contract import (
    ADD_TO_CART,
    EVENT_ID,
    EVENT_TYPE,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    ORDER_ID,
    PURCHASE,
    QUANTITY,
    RETURN,
    SESSION_ID,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    VIEW,
    contract_problems,
)
from ecom_tasks.errors import ConfigError
from ecom_tasks.sources.synthetic import (
    DIRT_DUPLICATES,
    DIRT_MISSING_USER,
    DIRT_UNKNOWN_ITEM,
    DIRT_ZERO_PRICE,
    TRUE_CHURN_DATE,
    TRUE_CHURNED,
    TRUE_DECLINE_START,
    SyntheticShopConfig,
    generate,
    generate_day,
    ground_truth,
)

SMALL = SyntheticShopConfig(
    seed=3,
    n_users=600,
    n_items=120,
    n_categories=8,
    signups_per_day=4.0,
    new_items_per_day=0.5,
    churn_hazard=0.01,
    churn_decline_days=10,
).without_dirt()
OPENING = SMALL.opening
WEEKS = 6
LAST = OPENING + dt.timedelta(days=7 * WEEKS - 1)


@pytest.fixture(scope="module")
def days() -> list[tuple[dt.date, object]]:
    """Six clean weeks of the small shop, shared by the realism tests."""
    return list(generate(SMALL, OPENING, LAST))


@pytest.fixture(scope="module")
def events(days) -> pd.DataFrame:
    return pd.concat([t.events for _, t in days], ignore_index=True)


def _assert_tables_equal(a, b) -> None:
    for name in (EVENTS, ITEMS, USERS):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.stats == b.stats


# --- determinism ----------------------------------------------------------------------------------


def test_same_seed_gives_identical_frames_and_another_seed_does_not() -> None:
    cfg = dataclasses.replace(SMALL, n_users=100, n_items=30)
    day = OPENING + dt.timedelta(days=3)
    _assert_tables_equal(generate_day(cfg, day), generate_day(cfg, day))
    other = generate_day(dataclasses.replace(cfg, seed=4), day)
    assert not other.events.equals(generate_day(cfg, day).events)


def test_a_day_is_the_same_alone_or_inside_a_longer_range(days) -> None:
    day, in_range = days[9]
    _assert_tables_equal(generate_day(SMALL, day), in_range)
    ((_, from_middle),) = [(d, t) for d, t in generate(SMALL, day - dt.timedelta(days=2), day) if d == day]
    _assert_tables_equal(from_middle, in_range)


def test_generate_yields_each_day_of_the_range_inclusive(days) -> None:
    assert [d for d, _ in days] == [OPENING + dt.timedelta(days=i) for i in range(7 * WEEKS)]
    for day, tables in days:
        start = pd.Timestamp(day, tz="UTC")
        assert tables.events[TS].between(start, start + pd.Timedelta(days=1), inclusive="left").all()


def test_dirt_never_changes_the_simulated_shop() -> None:
    dirty = dataclasses.replace(SMALL, n_users=200, duplicate_rate=0.05, unknown_item_rate=0.05)
    clean = dirty.without_dirt()
    day = OPENING + dt.timedelta(days=4)
    a, b = generate_day(dirty, day), generate_day(clean, day)
    deduped = a.events.drop_duplicates(EVENT_ID, ignore_index=True)
    pd.testing.assert_series_equal(deduped[TS], b.events[TS])
    pd.testing.assert_frame_equal(a.users, b.users)


# --- contract and dirt ----------------------------------------------------------------------------


def test_clean_shop_conforms_to_the_contract(days) -> None:
    for _, tables in days:
        for name in (EVENTS, ITEMS, USERS):
            assert contract_problems(getattr(tables, name), name) == []
        assert all(tables.stats[k] == 0 for k in (DIRT_DUPLICATES, DIRT_MISSING_USER, DIRT_ZERO_PRICE))
        assert tables.stats[DIRT_UNKNOWN_ITEM] == 0
        assert tables.stats["events"] == len(tables.events)


def test_injected_dirt_is_exactly_what_appears() -> None:
    cfg = dataclasses.replace(
        SMALL,
        n_users=300,
        duplicate_rate=0.03,
        missing_user_rate=0.1,
        zero_price_rate=0.1,
        unknown_item_rate=0.02,
    )
    total = dict.fromkeys((DIRT_DUPLICATES, DIRT_MISSING_USER, DIRT_ZERO_PRICE, DIRT_UNKNOWN_ITEM), 0)
    for _, t in generate(cfg, OPENING + dt.timedelta(days=5), OPENING + dt.timedelta(days=7)):
        ev, stats = t.events, t.stats
        assert ev[EVENT_ID].duplicated().sum() == stats[DIRT_DUPLICATES]
        base = ev.drop_duplicates(EVENT_ID)
        assert len(ev.drop_duplicates()) == len(base), "duplicates are exact copies"
        buys = base[base[EVENT_TYPE] == PURCHASE]
        assert buys[USER_ID].isna().sum() == stats[DIRT_MISSING_USER]
        assert (base[UNIT_PRICE] == 0).sum() == (buys[UNIT_PRICE] == 0).sum() == stats[DIRT_ZERO_PRICE]
        assert (~base[ITEM_ID].isin(t.items[ITEM_ID])).sum() == stats[DIRT_UNKNOWN_ITEM]
        dup_problem = f"events.event_id: {stats[DIRT_DUPLICATES]} duplicate key value(s)"
        assert contract_problems(ev, EVENTS) == ([dup_problem] if stats[DIRT_DUPLICATES] else [])
        for key in total:
            total[key] += stats[key]
    assert all(v > 0 for v in total.values()), total


# --- realism --------------------------------------------------------------------------------------


def test_funnel_rates_are_plausible(events) -> None:
    counts = events[EVENT_TYPE].value_counts()
    view_sessions = events.loc[events[EVENT_TYPE] == VIEW, SESSION_ID].nunique()
    buy_sessions = events.loc[events[EVENT_TYPE] == PURCHASE, SESSION_ID].nunique()
    assert 3 <= counts[VIEW] / view_sessions <= 8
    assert 0.06 <= counts[ADD_TO_CART] / counts[VIEW] <= 0.16
    assert 0.25 <= counts[PURCHASE] / counts[ADD_TO_CART] <= 0.55
    assert 0.01 <= buy_sessions / view_sessions <= 0.12
    buys = events[events[EVENT_TYPE] == PURCHASE]
    assert buys[ORDER_ID].notna().all() and buys[USER_ID].notna().all()
    assert (buys[QUANTITY] > 0).all()
    assert buys.groupby(ORDER_ID).size().max() > 1, "orders group several lines"
    browse = events[events[EVENT_TYPE].isin([VIEW, ADD_TO_CART])]
    assert browse[ORDER_ID].isna().all()


def test_anonymous_visitors_browse_but_never_buy(events) -> None:
    anon = events[events[USER_ID].isna()]
    share = anon[SESSION_ID].nunique() / events[SESSION_ID].nunique()
    assert 0.08 <= share <= 0.25
    assert set(anon[EVENT_TYPE]) <= {VIEW, ADD_TO_CART}


def test_weekends_are_busier(events) -> None:
    per_day = events.groupby(events[TS].dt.date).size()
    weekend = np.array([d.weekday() >= 5 for d in per_day.index])
    assert per_day[weekend].mean() > 1.1 * per_day[~weekend].mean()


def test_repeat_purchases_and_returns_follow_their_purchases(events) -> None:
    buys = events[events[EVENT_TYPE] == PURCHASE]
    orders_per_pair = buys.groupby([USER_ID, ITEM_ID])[ORDER_ID].nunique()
    assert (orders_per_pair > 1).sum() >= 5, "customers buy the same item again"
    returns = events[events[EVENT_TYPE] == RETURN]
    assert len(returns) >= 5
    assert (returns[QUANTITY] < 0).all()
    joined = returns.merge(buys, on=[ORDER_ID, ITEM_ID, USER_ID], suffixes=("", "_buy"), validate="m:1")
    assert len(joined) == len(returns), "every return matches a purchase line of the same order"
    assert (joined[TS] - joined[f"{TS}_buy"] >= pd.Timedelta(days=1)).all()
    assert (-joined[QUANTITY] <= joined[f"{QUANTITY}_buy"]).all()
    assert (joined[UNIT_PRICE] == joined[f"{UNIT_PRICE}_buy"]).all()


def test_churned_customers_fade_then_stop(events) -> None:
    truth = ground_truth(SMALL, LAST)
    churned = truth[truth[TRUE_CHURNED]]
    assert len(churned) >= 10
    ev = events.dropna(subset=[USER_ID]).merge(churned, on=USER_ID)
    day = ev[TS].dt.tz_localize(None).dt.floor("D")
    assert (day < ev[TRUE_CHURN_DATE]).all(), "nothing after churning"
    # Fading is visible: fewer events per day while drifting away than before.
    before = (day < ev[TRUE_DECLINE_START]).sum() / _user_days(churned, OPENING, TRUE_DECLINE_START)
    fading = (day >= ev[TRUE_DECLINE_START]).sum() / (len(churned) * SMALL.churn_decline_days)
    assert fading < 0.8 * before


def _user_days(users: pd.DataFrame, opening: dt.date, until: str) -> float:
    return float((users[until] - pd.Timestamp(opening)).dt.days.clip(lower=1).sum())


def test_snapshots_grow_and_cover_each_days_events(days) -> None:
    prev_items = prev_users = None
    for day, t in days:
        end = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
        assert t.events[USER_ID].dropna().isin(t.users[USER_ID]).all()
        assert t.events[ITEM_ID].isin(t.items[ITEM_ID]).all()
        assert (t.users[FIRST_SEEN] < end).all() and (t.items[FIRST_SEEN] < end).all()
        first_today = t.events.dropna(subset=[USER_ID]).groupby(USER_ID)[TS].min()
        seen = t.users.set_index(USER_ID)[FIRST_SEEN].reindex(first_today.index)
        assert (seen <= first_today).all()
        if prev_users is not None:
            # Everything known stays, unchanged (attributes as first seen); only newcomers are added.
            _assert_extends(t.users, prev_users, USER_ID)
            _assert_extends(t.items, prev_items, ITEM_ID)
        prev_items, prev_users = t.items, t.users
    first, last = days[0][1], days[-1][1]
    assert len(last.users) > len(first.users) and len(last.items) > len(first.items)
    opening = pd.Timestamp(OPENING, tz="UTC")
    assert (last.items[FIRST_SEEN] > opening).any(), "some items are launched after the opening"


def _assert_extends(now: pd.DataFrame, before: pd.DataFrame, key: str) -> None:
    assert now[key].is_monotonic_increasing
    kept = now.set_index(key).loc[before[key]]
    pd.testing.assert_frame_equal(kept, before.set_index(key))


def test_new_customers_appear_with_their_first_event(days) -> None:
    for day, t in days[1:]:
        start = pd.Timestamp(day, tz="UTC")
        new = t.users[t.users[FIRST_SEEN] >= start]
        first = t.events.dropna(subset=[USER_ID]).groupby(USER_ID)[TS].min()
        assert (new.set_index(USER_ID)[FIRST_SEEN] == first.reindex(new[USER_ID])).all()


def test_ids_are_stable_and_unique_across_days(days, events) -> None:
    last = days[-1][1]
    assert last.users[USER_ID].str.fullmatch(r"u\d{6}").all()
    assert last.items[ITEM_ID].str.fullmatch(r"i\d{5}").all()
    assert last.items[TITLE].str.split().str.len().min() >= 3
    assert events[EVENT_ID].is_unique
    on_day = events.assign(day=events[TS].dt.floor("D"))
    assert not on_day.drop_duplicates([SESSION_ID, "day"])[SESSION_ID].duplicated().any()
    buys = on_day[on_day[EVENT_TYPE] == PURCHASE]
    assert not buys.drop_duplicates([ORDER_ID, "day"])[ORDER_ID].duplicated().any()


def test_a_tiny_quiet_shop_still_conforms() -> None:
    cfg = SyntheticShopConfig(
        n_users=1, n_items=1, n_categories=1, sessions_per_user_day=0.0, signups_per_day=0
    )
    t = generate_day(cfg, OPENING + dt.timedelta(days=2))
    assert len(t.events) == 0 and len(t.items) == 1 and len(t.users) == 0
    for name in (EVENTS, ITEMS, USERS):
        assert contract_problems(getattr(t, name), name) == []


# --- configuration --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("n_users", -5),
        ("n_items", 3),  # fewer than n_categories
        ("seed", -1),
        ("view_to_cart", 1.5),
        ("duplicate_rate", -0.1),
        ("anonymous_share", 1.0),
        ("sessions_per_user_day", -1.0),
        ("start_date", "2024-13-01"),
        ("n_categories", 2.5),
        ("churn_hazard", float("nan")),
    ],
)
def test_invalid_config_names_the_parameter(param: str, value: object) -> None:
    with pytest.raises(ConfigError, match=param):
        SyntheticShopConfig(**{param: value})


def test_days_before_the_opening_or_reversed_ranges_are_refused() -> None:
    with pytest.raises(ConfigError, match="start"):
        generate(SMALL, OPENING - dt.timedelta(days=1), OPENING)
    with pytest.raises(ConfigError, match="end"):
        generate(SMALL, OPENING + dt.timedelta(days=2), OPENING)
    with pytest.raises(ConfigError, match="start"):
        generate_day(SMALL, "2023-12-31")


def test_without_dirt_turns_every_rate_off() -> None:
    cfg = SyntheticShopConfig()
    assert cfg.dirty and not cfg.without_dirt().dirty
