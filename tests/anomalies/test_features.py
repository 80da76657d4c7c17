"""Order features on hand-made lines: point in time, ratios, first orders, duplicates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import AnomalyConfig
from tests.anomalies.conftest import day_frame

CONFIG = AnomalyConfig()


def history() -> list[tuple]:
    """Item A at 2.00, quantity 1 or 2, bought by u1 on three days; u2's first order on day 2."""
    return [
        ("2024-01-01 10:00", "u1", "A", 1, 2.0, "o1", "GB"),
        ("2024-01-02 10:00", "u1", "A", 2, 2.0, "o2", "GB"),
        ("2024-01-02 11:00", "u2", "A", 1, 2.0, "o3", "GB"),
        ("2024-01-03 10:00", "u1", "A", 1, 2.0, "o4", "GB"),
    ]


def features_of(rows: list[tuple], order: str):
    lines = day_frame(*rows)
    frame = f.order_features(lines, ref.build(lines, CONFIG), CONFIG)
    return frame.set_index("order_id").loc[order]


def test_a_price_ten_times_the_items_median_is_log_10():
    row = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 20.0, "o5", "GB")], "o5")
    assert row[f.PRICE_HIGH] == pytest.approx(math.log(10))
    # One unit against a 99th percentile of 1.97: below the item's usual, which is no finding (0).
    assert np.quantile([1, 2, 1, 1], 0.99) > 1 and row[f.QTY_P99_RATIO] == 0.0
    assert row[f.FIRST] == 0 and row[f.VS_USUAL] == pytest.approx(math.log(20 / 2.0))


def test_features_use_only_days_before_the_order():
    base = [*history(), ("2024-01-04 09:00", "u1", "A", 1, 20.0, "o5", "GB")]
    later = [
        ("2024-01-04 08:00", "u3", "A", 50, 500.0, "o6", "GB"),  # same day, earlier: not seen
        ("2024-01-05 10:00", "u1", "A", 1, 900.0, "o7", "GB"),  # a later day: not seen
    ]
    before = features_of(base, "o5")
    after = features_of([*base, *later], "o5")
    for name in f.FEATURES:
        if name != f.DUPLICATE:
            assert after[name] == pytest.approx(before[name]), name


def test_fifty_times_the_usual_quantity():
    row = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 50, 2.0, "o5", "GB")], "o5")
    assert row[f.QTY_MEDIAN_RATIO] == pytest.approx(math.log(50))  # median of 1, 2, 1, 1: 1
    assert row[f.QTY_P99_RATIO] == pytest.approx(math.log(50 / np.quantile([1, 2, 1, 1], 0.99)))


def test_an_item_never_sold_before_has_no_price_signal():
    row = features_of([*history(), ("2024-01-04 09:00", "u1", "B", 1, 99.0, "o5", "GB")], "o5")
    assert row[f.PRICE_HIGH] == 0 and row[f.NEW_ITEMS] == 1.0


def test_a_zero_price_is_a_thousandfold_drop():
    row = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 0.0, "o5", "GB")], "o5")
    assert row[f.PRICE_LOW] == pytest.approx(-f.LOG_CLIP) and row[f.ZERO_PRICES] == 1


def test_a_first_order_against_the_shops_typical_first_order():
    # First orders so far: u1 2.00 (day 1), u2 2.00 (day 2): median 2.00; u9's first is 40.00.
    row = features_of([*history(), ("2024-01-04 09:00", "u9", "A", 20, 2.0, "o5", "DE")], "o5")
    assert row[f.FIRST] == 1 and row[f.VS_FIRST] == pytest.approx(math.log(20))
    assert row[f.COUNTRY_CHANGED] == 0  # no history: no usual country


def repeat_rows() -> list[tuple]:
    """History, then u1's basket (A x3) at 09:00 and again at 09:05; u2 the same basket at 09:10."""
    return [
        *history(),
        ("2024-01-04 09:00", "u1", "A", 3, 2.0, "o5", "GB"),
        ("2024-01-04 09:05", "u1", "A", 3, 2.0, "o6", "GB"),
        ("2024-01-04 09:10", "u2", "A", 3, 2.0, "o7", "GB"),  # another customer: not a repeat
    ]


def frame_of(rows: list[tuple]):
    lines = day_frame(*rows)
    return f.order_features(lines, ref.build(lines, CONFIG), CONFIG).set_index("order_id")


def test_a_repeated_basket_points_at_the_earlier_order_and_never_the_other_way():
    frame = frame_of(repeat_rows())
    assert frame.loc["o6", ref.SAME_BASKET_ORDER] == "o5"
    assert frame.loc["o6", ref.SINCE_SAME_BASKET] == pytest.approx(5.0)
    # closeness: 1 - log(1 + 4) / log(1 + 1439) for 5 minutes in a 24-hour window
    assert frame.loc["o6", f.DUPLICATE] == pytest.approx(1 - math.log(5) / math.log(1440))
    for order in ("o5", "o7"):  # the original, and another customer's same basket
        assert frame.loc[order, f.DUPLICATE] == 0 and pd.isna(frame.loc[order, ref.SAME_BASKET_ORDER])
        assert np.isnan(frame.loc[order, ref.SINCE_SAME_BASKET])


def test_a_later_identical_order_does_not_mark_an_earlier_one():
    before = frame_of(repeat_rows())
    later = frame_of([*repeat_rows(), ("2024-01-04 09:30", "u1", "A", 3, 2.0, "o8", "GB")])
    assert later.loc["o8", ref.SAME_BASKET_ORDER] == "o6"  # the latest earlier one, 25 minutes before
    for order in ("o5", "o6", "o7"):
        for name in (f.DUPLICATE, ref.SINCE_SAME_BASKET):
            assert later.loc[order, name] == pytest.approx(before.loc[order, name], nan_ok=True), order


def test_the_same_minute_is_ordered_by_order_id_and_the_window_ends_a_repeat():
    rows = [
        *history(),
        ("2024-01-04 09:00", "u1", "A", 3, 2.0, "o6", "GB"),
        ("2024-01-04 09:00", "u1", "A", 3, 2.0, "o5", "GB"),  # same minute, smaller id: the original
        ("2024-01-05 10:00", "u1", "A", 3, 2.0, "o9", "GB"),  # 25 hours later: outside the window
        ("2024-01-04 12:00", None, "A", 7, 2.0, "a1", "GB"),
        ("2024-01-04 12:03", None, "A", 7, 2.0, "a2", "GB"),  # anonymous, same country: a repeat
        ("2024-01-04 12:04", None, "A", 7, 2.0, "a3", "FR"),  # anonymous elsewhere: not one
    ]
    frame = frame_of(rows)
    assert frame.loc["o6", ref.SAME_BASKET_ORDER] == "o5" and frame.loc["o6", f.DUPLICATE] == 1.0
    assert frame.loc["o5", f.DUPLICATE] == 0 and frame.loc["o9", f.DUPLICATE] == 0
    assert frame.loc["a2", ref.SAME_BASKET_ORDER] == "a1" and frame.loc["a3", f.DUPLICATE] == 0
    wider = AnomalyConfig(duplicate_window_hours=48)
    lines = day_frame(*rows)
    again = f.order_features(lines, ref.build(lines, wider), wider).set_index("order_id")
    assert again.loc["o9", ref.SAME_BASKET_ORDER] == "o6" and wider.lookback_days == 2


def test_a_customer_who_habitually_repeats_baskets_is_not_a_duplicate_but_is_told():
    rows = [*history()]
    for day in ("2024-01-04", "2024-01-05"):  # two repeats before the day scored
        rows += [(f"{day} 09:00", "u1", "A", 3, 2.0, f"{day}a", "GB")]
        rows += [(f"{day} 09:05", "u1", "A", 3, 2.0, f"{day}b", "GB")]
    rows += [
        ("2024-01-06 09:00", "u1", "A", 3, 2.0, "o5", "GB"),
        ("2024-01-06 09:12", "u1", "A", 3, 2.0, "o6", "GB"),
    ]
    row = frame_of(rows).loc["o6"]
    assert row[ref.SAME_BASKET_ORDER] == "o5" and row[f.HABITUAL] == 1 and row[f.DUPLICATE] == 0
    from ecom_tasks.anomalies.rules import order_reasons, rules_score

    assert "the same basket as order o5 placed 12 minutes earlier (this customer often repeats a basket)" in (
        order_reasons(row, CONFIG)
    )
    assert rules_score(row.to_frame().T, CONFIG)[0] < 1  # the duplicate rule does not fire


def test_a_line_far_above_the_customers_largest_line():
    row = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 20, 2.0, "o5", "GB")], "o5")
    assert row[ref.CUSTOMER_MAX_QTY] == 2 and row[f.QTY_VS_CUSTOMER] == pytest.approx(math.log(10))
    assert (
        features_of([*history(), ("2024-01-04 09:00", "u9", "A", 20, 2.0, "o5", "GB")], "o5")[
            f.QTY_VS_CUSTOMER
        ]
        == 0
    )  # a first order: no history to compare with


def test_anonymous_orders_and_a_changed_country():
    rows = [
        *history(),
        ("2024-01-04 09:00", None, "A", 1, 2.0, "o5", "GB"),
        ("2024-01-04 10:00", "u1", "A", 1, 2.0, "o6", "FR"),
    ]
    lines = day_frame(*rows)
    frame = f.order_features(lines, ref.build(lines, CONFIG), CONFIG).set_index("order_id")
    assert frame.loc["o5", f.ANONYMOUS] == 1 and frame.loc["o5", f.FIRST] == 0
    assert frame.loc["o6", f.COUNTRY_CHANGED] == 1


def test_no_lines_give_an_empty_frame_with_every_feature():
    lines = day_frame(*history()).iloc[0:0]
    frame = f.order_features(lines, ref.build(day_frame(*history()), CONFIG), CONFIG)
    assert frame.empty and set(f.FEATURES) <= set(frame.columns)


def test_reasons_say_in_words_what_is_unusual():
    from ecom_tasks.anomalies.rules import order_reasons, rules_score

    price = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 20.0, "o5", "GB")], "o5")
    assert order_reasons(price, CONFIG)[0] == "unit price 10.0x the item's median (A: 20.00 against 2.00)"
    quantity = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 50, 2.0, "o5", "GB")], "o5")
    assert order_reasons(quantity, CONFIG)[0].startswith(
        "quantity 25.4x the item's 99th percentile (A: 50 against 2)"
    )
    repeat = frame_of(repeat_rows()).loc["o6"]
    assert order_reasons(repeat, CONFIG)[0] == "the same basket as order o5 placed 5 minutes earlier"
    assert rules_score(repeat.to_frame().T, CONFIG)[0] == pytest.approx(1 + repeat[f.DUPLICATE])
    # u2 once bought 100 of A: 20 is within the item's quantities, but ten times u1's largest line (2).
    wholesale = ("2024-01-03 12:00", "u2", "A", 100, 2.0, "o4b", "GB")
    customer = features_of(
        [*history(), wholesale, ("2024-01-04 09:00", "u1", "A", 20, 2.0, "o5", "GB")], "o5"
    )
    assert "a line of 20 units, 10.0x the largest line this customer bought before (2)" in order_reasons(
        customer, CONFIG
    )
    zero = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 0.0, "o5", "GB")], "o5")
    assert order_reasons(zero, CONFIG)[0] == "1 line(s) at a unit price of 0"
