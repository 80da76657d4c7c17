"""Customer profiles: RFM scores and segments, fills for awkward histories, no NaN."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.profiles import (
    CHAMPIONS,
    LOST,
    NEW,
    NO_PURCHASE,
    customer_profiles,
    quintile_score,
    rfm_scores,
    rfm_segment,
)
from tests.features.conftest import events, items, users

CFG = FeatureConfig(top_categories=2)
ITEMS = items(
    [
        ("i1", "Red Mug", "kitchen", 5.0, "2023-12-01T00:00Z"),
        ("i2", None, None, 0.0, "2023-12-01T00:00Z"),
        ("i3", "Lamp", "home", 9.0, "2023-12-01T00:00Z"),
    ]
)


def profile(
    ev: pd.DataFrame, us: pd.DataFrame, ds: str = "2024-01-10", config: FeatureConfig = CFG
) -> pd.DataFrame:
    prof, _ = customer_profiles(summarise(ev, ds, config), us, ITEMS, config)
    return prof.set_index(contract.USER_ID)


def assert_no_nan(frame: pd.DataFrame) -> None:
    bad = [c for c in frame.columns if frame[c].isna().any()]
    assert not bad, f"NaN in {bad}"


def test_quintile_scores_keep_ties_together() -> None:
    assert quintile_score(np.array([1, 1, 1, 2, 5])).tolist() == [1, 1, 1, 4, 5]
    assert quintile_score(np.array([1, 1, 1, 2, 5]), ties_high=True).tolist() == [3, 3, 3, 4, 5]
    assert quintile_score(np.array([])).tolist() == []


def test_rfm_segments_follow_the_standard_map() -> None:
    assert rfm_segment(np.array([5, 1, 5, 0]), np.array([5, 1, 1, 0])).tolist() == [
        CHAMPIONS,
        LOST,
        NEW,
        NO_PURCHASE,
    ]
    scores = rfm_scores(np.array([1.0, 50.0, 10.0]), np.array([9, 1, 3]), np.array([900.0, 5.0, 50.0]))
    assert scores[0].tolist() == [5, 4, 4] and scores[1].tolist()[:2] == [2, 1]


def test_rfm_recency_frequency_monetary_and_shares() -> None:
    ev = events(
        [
            ("e1", "2024-01-01T10:00Z", "u1", "s1", "i1", "purchase", 2, 5.0, "o1", "GB"),
            ("e2", "2024-01-01T10:00Z", "u1", "s1", "i3", "purchase", 1, 9.0, "o1", "GB"),
            ("e3", "2024-01-05T10:00Z", "u1", "s2", "i1", "purchase", 1, 5.0, "o2", "GB"),
            ("e4", "2024-01-09T12:00Z", "u1", "s3", "i1", "return", -1, 5.0, "c1", "GB"),
            ("e5", "2024-01-08T12:00Z", "u2", "s4", "i3", "purchase", 1, 9.0, "o3", "FR"),
        ]
    )
    us = users([("u1", "2023-12-01T00:00Z", "GB"), ("u2", "2024-01-08T00:00Z", "FR")])
    p = profile(ev, us)
    u1 = p.loc["u1"]
    assert u1[fc.FREQUENCY] == 2
    assert u1[fc.GROSS_VALUE] == pytest.approx(24.0) and u1[fc.RETURNED_VALUE] == pytest.approx(5.0)
    assert u1[fc.MONETARY] == pytest.approx(19.0) and u1[fc.AVG_ORDER_VALUE] == pytest.approx(12.0)
    assert u1[fc.RECENCY_DAYS] == pytest.approx(5 + 14 / 24)  # 2024-01-05 10:00 to the end of 2024-01-10
    assert u1[fc.TENURE_DAYS] == pytest.approx(41.0)
    assert u1[fc.RETURN_RATE] == pytest.approx(1 / 4)
    assert u1[fc.N_DISTINCT_ITEMS] == 2 and u1[fc.N_DISTINCT_CATEGORIES] == 2
    assert u1[fc.TOP_CATEGORY] == "kitchen"
    assert u1["cat_share_kitchen"] == pytest.approx(2 / 3) and u1["cat_share_home"] == pytest.approx(1 / 3)
    assert u1[fc.CAT_SHARE_OTHER] == pytest.approx(0.0)
    assert u1[fc.GAP_MEAN_DAYS] == pytest.approx(4.0) and u1[fc.HAS_REPEAT] == 1
    assert u1[fc.PREFERRED_HOUR] == 10 and u1[fc.PREFERRED_WEEKDAY] == 0  # 2024-01-01 was a Monday
    # u2 bought more recently: higher R; u1 bought more often and more: higher F and M.
    assert p.loc["u2", fc.R_SCORE] > u1[fc.R_SCORE]
    assert u1[fc.F_SCORE] > p.loc["u2", fc.F_SCORE]
    assert p.loc["u2", contract.COUNTRY] == "FR"


def test_customer_with_only_returns() -> None:
    ev = events([("e1", "2024-01-03T09:00Z", "u1", "s1", "i1", "return", -2, 5.0, "c1", None)])
    p = profile(ev, users([("u1", "2024-01-01T00:00Z", None)]))
    row = p.loc["u1"]
    assert row[fc.HAS_PURCHASE] == 0 and row[fc.SEGMENT] == NO_PURCHASE
    assert row[fc.MONETARY] == 0.0 and row[fc.RETURN_RATE] == 1.0 and row[fc.HAS_RETURNS] == 1
    assert row[fc.RECENCY_DAYS] == row[fc.TENURE_DAYS] == pytest.approx(10.0)
    assert row[fc.PREFERRED_HOUR] == -1 and row[contract.COUNTRY] == fc.UNKNOWN
    assert_no_nan(p)


def test_customer_whose_first_event_is_a_return() -> None:
    ev = events(
        [
            ("e1", "2024-01-02T09:00Z", "u1", "s1", "i1", "return", -1, 5.0, "c1", None),
            ("e2", "2024-01-04T09:00Z", "u1", "s2", "i1", "purchase", 3, 5.0, "o1", None),
        ]
    )
    row = profile(ev, users([("u1", "2024-01-02T00:00Z", "GB")])).loc["u1"]
    assert row[fc.FREQUENCY] == 1 and row[fc.GROSS_VALUE] == 15.0
    assert row[fc.MONETARY] == 10.0 and row[fc.RETURN_RATE] == pytest.approx(1 / 3)
    assert row[fc.DAYS_SINCE_FIRST_PURCHASE] == pytest.approx(6 + 15 / 24)
    assert row[fc.GAP_MEAN_DAYS] == 0.0 and row[fc.HAS_REPEAT] == 0


def test_single_row_history() -> None:
    ev = events([("e1", "2024-01-10T20:00Z", "u1", "s1", "i2", "purchase", 1, 0.0, "o1", None)])
    p = profile(ev, users([("u1", "2024-01-10T00:00Z", "GB")]))
    row = p.loc["u1"]
    assert row[fc.SEGMENT] == NEW  # the only buyer, just bought once
    assert row[fc.MONETARY] == 0.0 and row[fc.AVG_ORDER_VALUE] == 0.0  # a free item
    assert row[fc.HAS_VIEWS] == 0 and row[fc.VIEW_TO_CART] == 0.0 and row[fc.CART_TO_PURCHASE] == 0.0
    assert row[fc.TOP_CATEGORY] == fc.UNKNOWN and row[fc.CAT_SHARE_OTHER] == 1.0
    assert_no_nan(p)


def test_known_customer_without_events_and_events_without_a_snapshot_row() -> None:
    ev = events([("e1", "2024-01-05T08:00Z", "u2", "s1", "i1", "view", 1, 5.0, None, "DE")])
    p = profile(ev, users([("u1", "2024-01-09T00:00Z", "GB")]))
    assert sorted(p.index) == ["u1", "u2"]
    assert p.loc["u1", fc.HAS_EVENTS] == 0 and p.loc["u1", fc.PREFERRED_WEEKDAY] == -1
    assert p.loc["u2", fc.TENURE_DAYS] == pytest.approx(5 + 16 / 24)  # first seen = first event
    assert p.loc["u2", contract.COUNTRY] == fc.UNKNOWN
    assert_no_nan(p)


def test_funnel_rates_and_activity_trend() -> None:
    rows = [(f"v{k}", "2024-01-09T10:00Z", "u1", "s1", "i1", "view", 1, 5.0, None, None) for k in range(4)]
    rows += [("c1", "2024-01-09T10:05Z", "u1", "s1", "i1", "add_to_cart", 1, 5.0, None, None)]
    rows += [("c2", "2024-01-09T10:06Z", "u1", "s1", "i3", "add_to_cart", 1, 9.0, None, None)]
    rows += [("p1", "2024-01-09T10:07Z", "u1", "s1", "i1", "purchase", 1, 5.0, "o1", None)]
    rows += [("old", "2023-12-25T10:00Z", "u1", "s0", "i1", "view", 1, 5.0, None, None)]
    row = profile(events(rows), users([]), config=FeatureConfig(trend_days=10)).loc["u1"]
    assert row[fc.VIEW_TO_CART] == 0.4 and row[fc.CART_TO_PURCHASE] == 0.5 and row[fc.VIEW_TO_PURCHASE] == 0.2
    assert row[fc.EVENTS_RECENT] == 7 and row[fc.EVENTS_PRIOR] == 1
    assert row[fc.ACTIVITY_TREND] == pytest.approx(6 / 8) and row[fc.ORDER_TREND] == 1.0


def test_month_rhythm_counts_calendar_months_with_a_purchase() -> None:
    rows = [
        ("e1", "2024-01-05T10:00Z", "u1", "s1", "i1", "purchase", 1, 5.0, "o1", None),
        ("e2", "2024-01-20T10:00Z", "u1", "s2", "i1", "purchase", 1, 5.0, "o2", None),
        ("e3", "2024-03-02T10:00Z", "u1", "s3", "i3", "purchase", 1, 9.0, "o3", None),
        ("e4", "2024-03-03T10:00Z", "u1", "s4", "i3", "return", -1, 9.0, "c3", None),  # not a purchase
        ("e5", "2024-04-10T23:00Z", "u2", "s5", "i1", "purchase", 1, 5.0, "o4", None),
        ("e6", "2024-02-01T10:00Z", "u3", "s6", "i1", "view", 1, 5.0, None, None),
        ("e7", "2024-04-11T01:00Z", "u3", "s7", "i1", "purchase", 1, 5.0, "o5", None),  # after ds
    ]
    p = profile(events(rows), users([]), ds="2024-04-10")
    u1, u2, u3 = p.loc["u1"], p.loc["u2"], p.loc["u3"]
    # u1: January (two orders) and March, out of January..April.
    assert u1[fc.N_ACTIVE_MONTHS] == 2 and u1[fc.ACTIVE_MONTH_SHARE] == pytest.approx(2 / 4)
    assert u1[fc.ORDERS_PER_ACTIVE_MONTH] == pytest.approx(3 / 2)
    # u2's first purchase is on the profile day itself: one month out of one.
    assert u2[fc.N_ACTIVE_MONTHS] == 1 and u2[fc.ACTIVE_MONTH_SHARE] == 1.0
    assert u2[fc.ORDERS_PER_ACTIVE_MONTH] == 1.0
    # u3 bought only after ds: no purchase as of ds.
    assert u3[fc.N_ACTIVE_MONTHS] == 0 and u3[fc.ACTIVE_MONTH_SHARE] == 0.0
    assert u3[fc.ORDERS_PER_ACTIVE_MONTH] == 0.0
    assert_no_nan(p)


def test_pinned_affinity_categories_fix_the_columns() -> None:
    ev = events([("e1", "2024-01-03T09:00Z", "u1", "s1", "i1", "purchase", 1, 5.0, "o1", None)])
    config = FeatureConfig(affinity_categories=("home", "garden & patio"))
    prof, cats = customer_profiles(summarise(ev, "2024-01-10", config), users([]), ITEMS, config)
    assert cats == ["home", "garden & patio"]
    assert [c for c in prof.columns if c.startswith(fc.CAT_SHARE_PREFIX)] == [
        "cat_share_home",
        "cat_share_garden_patio",
        fc.CAT_SHARE_OTHER,
    ]
    assert prof[fc.CAT_SHARE_OTHER].iloc[0] == 1.0


def test_empty_history_gives_an_empty_typed_frame() -> None:
    p = profile(events([]), users([]))
    assert len(p) == 0 and fc.SEGMENT in p.columns


def test_day_with_no_purchases() -> None:
    ev = events(
        [
            ("e1", "2024-01-10T09:00Z", "u1", "s1", "i1", "view", 1, 5.0, None, None),
            ("e2", "2024-01-10T09:01Z", "u1", "s1", "i1", "add_to_cart", 1, 5.0, None, None),
        ]
    )
    p = profile(ev, users([("u1", "2024-01-10T00:00Z", None)]))
    row = p.loc["u1"]
    assert row[fc.HAS_PURCHASE] == 0 and row[fc.SEGMENT] == NO_PURCHASE and row[fc.FREQUENCY] == 0
    assert row[fc.VIEW_TO_CART] == 1.0 and row[fc.CART_TO_PURCHASE] == 0.0 and row[fc.PREFERRED_HOUR] == 9
    assert_no_nan(p)
