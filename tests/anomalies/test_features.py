"""Order features on hand-made lines: point in time, ratios, first orders, duplicates."""

from __future__ import annotations

import math

import numpy as np
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


def test_a_repeated_basket_within_a_day_is_a_duplicate_and_the_original_is_not():
    rows = [
        *history(),
        ("2024-01-04 09:00", "u1", "A", 3, 2.0, "o5", "GB"),
        ("2024-01-04 09:05", "u1", "A", 3, 2.0, "o6", "GB"),
        ("2024-01-04 09:10", "u2", "A", 3, 2.0, "o7", "GB"),  # another customer: not a duplicate
    ]
    lines = day_frame(*rows)
    frame = f.order_features(lines, ref.build(lines, CONFIG), CONFIG).set_index("order_id")
    assert frame.loc["o6", f.DUPLICATE] == 1
    assert frame.loc["o5", f.DUPLICATE] == 0 and frame.loc["o7", f.DUPLICATE] == 0


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
    from ecom_tasks.anomalies.rules import order_reasons

    price = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 20.0, "o5", "GB")], "o5")
    assert order_reasons(price, CONFIG)[0] == "unit price 10.0x the item's median (A: 20.00 against 2.00)"
    quantity = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 50, 2.0, "o5", "GB")], "o5")
    assert order_reasons(quantity, CONFIG)[0].startswith(
        "quantity 25.4x the item's 99th percentile (A: 50 against 2)"
    )
    zero = features_of([*history(), ("2024-01-04 09:00", "u1", "A", 1, 0.0, "o5", "GB")], "o5")
    assert order_reasons(zero, CONFIG)[0] == "1 line(s) at a unit price of 0"
