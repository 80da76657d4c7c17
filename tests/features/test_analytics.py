"""Analytics tables: funnel, cohorts, repeat purchase, basket sizes, co-purchase, hour of week."""

from __future__ import annotations

import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.analytics import (
    basket_sizes,
    co_purchase_pairs,
    cohort_retention,
    funnel_daily,
    hour_of_week,
    repeat_purchase,
)
from ecom_tasks.features.config import FeatureConfig
from tests.features.conftest import events, items

CFG = FeatureConfig(min_pair_orders=1)
ORDERS = events(
    [
        ("e1", "2024-01-01T10:00Z", "u1", "s1", "a", "purchase", 1, 1.0, "o1", None),
        ("e2", "2024-01-01T10:00Z", "u1", "s1", "b", "purchase", 1, 1.0, "o1", None),
        ("e3", "2024-01-01T11:00Z", "u2", "s2", "a", "purchase", 1, 1.0, "o2", None),
        ("e4", "2024-01-01T11:00Z", "u2", "s2", "b", "purchase", 1, 1.0, "o2", None),
        ("e5", "2024-01-01T11:00Z", "u2", "s2", "c", "purchase", 1, 1.0, "o2", None),
        ("e6", "2024-02-03T12:00Z", "u1", "s3", "c", "purchase", 1, 1.0, "o3", None),
        ("e7", "2024-02-03T12:00Z", "u1", "s3", "c", "purchase", 2, 1.0, "o3", None),
        ("e8", "2024-02-05T12:00Z", "u3", "s4", "a", "view", 1, 1.0, None, None),
        ("e9", "2024-02-05T12:05Z", "u3", "s4", "a", "add_to_cart", 1, 1.0, None, None),
    ]
)
CATALOGUE = items(
    [("a", "Apple", None, 1.0, "2023-01-01T00:00Z"), ("b", None, None, 1.0, "2023-01-01T00:00Z")]
)


def test_co_purchase_support_confidence_lift() -> None:
    pairs = co_purchase_pairs(ORDERS[ORDERS[contract.EVENT_TYPE] == "purchase"], CATALOGUE, CFG)
    top = pairs.iloc[0]
    assert (top[fc.ITEM_A], top[fc.ITEM_B], top[fc.N_PAIR_ORDERS]) == ("a", "b", 2)
    assert top[fc.SUPPORT] == pytest.approx(2 / 3)  # 2 of 3 orders
    assert top[fc.CONFIDENCE_AB] == 1.0 and top[fc.CONFIDENCE_BA] == 1.0
    assert top[fc.LIFT] == pytest.approx((2 / 3) / ((2 / 3) * (2 / 3)))
    assert top[fc.TITLE_A] == "Apple" and top[fc.TITLE_B] == ""
    assert len(pairs) == 3  # a-b, a-c, b-c; the duplicated line of o3 is not a pair
    assert co_purchase_pairs(
        ORDERS[ORDERS[contract.EVENT_TYPE] == "purchase"], CATALOGUE, FeatureConfig()
    ).empty


def test_co_purchase_skips_oversized_orders_and_handles_no_purchases() -> None:
    purchases = ORDERS[ORDERS[contract.EVENT_TYPE] == "purchase"]
    pairs = co_purchase_pairs(purchases, CATALOGUE, FeatureConfig(min_pair_orders=1, max_basket_items=2))
    assert pairs[[fc.ITEM_A, fc.ITEM_B]].values.tolist() == [["a", "b"]]
    empty = co_purchase_pairs(ORDERS.iloc[:0], CATALOGUE, CFG)
    assert empty.empty and list(empty.columns) == list(pairs.columns)


def test_basket_sizes_count_distinct_items() -> None:
    sizes = basket_sizes(ORDERS[ORDERS[contract.EVENT_TYPE] == "purchase"]).set_index(fc.BASKET_ITEMS)
    assert (
        sizes.loc["1", fc.N_ORDERS] == 1
        and sizes.loc["2", fc.N_ORDERS] == 1
        and sizes.loc["3", fc.N_ORDERS] == 1
    )
    assert sizes[fc.SHARE].sum() == pytest.approx(1.0)


def test_cohort_retention_and_repeat_purchase() -> None:
    state = summarise(ORDERS, "2024-02-05", CFG)
    cohorts = cohort_retention(state)
    assert cohorts.values.tolist() == [["2024-01", 0, 2, 2, 1.0], ["2024-01", 1, 2, 1, 0.5]]
    repeat = repeat_purchase(state).set_index(fc.ORDERS_BUCKET)
    assert repeat.loc["1", fc.N_CUSTOMERS] == 1 and repeat.loc["2", fc.N_CUSTOMERS] == 1


def test_funnel_daily_fills_quiet_days_and_counts_new_buyers() -> None:
    state = summarise(ORDERS, "2024-02-06", CFG)
    funnel = funnel_daily(state).set_index(fc.DAY)
    assert len(funnel) == 37  # 2024-01-01 .. 2024-02-06, quiet days included
    assert funnel.loc[pd.Timestamp("2024-01-15", tz="UTC"), fc.N_EVENTS] == 0
    jan1 = funnel.loc[pd.Timestamp("2024-01-01", tz="UTC")]
    assert jan1[fc.N_ORDERS] == 2 and jan1[fc.N_NEW_BUYERS] == 2 and jan1[fc.SESSION_CONVERSION] == 1.0
    feb5 = funnel.loc[pd.Timestamp("2024-02-05", tz="UTC")]
    assert feb5[fc.VIEW_TO_CART_RATE] == 1.0 and feb5[fc.CART_TO_PURCHASE_RATE] == 0.0
    assert not funnel.isna().any().any()


def test_hour_of_week_has_every_hour() -> None:
    how = hour_of_week(summarise(ORDERS, "2024-02-06", CFG))
    assert len(how) == 168 and how[fc.N_ORDERS].sum() == 3
    monday_10 = how[(how[fc.WEEKDAY] == 0) & (how[fc.HOUR] == 10)]
    assert monday_10[fc.N_ORDERS].item() == 1
