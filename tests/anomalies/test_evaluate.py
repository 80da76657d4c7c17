"""Injection and the budget metrics on hand-made cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.anomalies import evaluate, inject
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.contract import ORDER_ID, QUANTITY, UNIT_PRICE, USER_ID
from tests.anomalies.conftest import day_frame

CONFIG = AnomalyConfig()


def test_recall_precision_and_auc_at_a_budget_of_two():
    days = np.array(["d1"] * 4 + ["d2"] * 3)
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.5, 0.7, 0.6])
    types = np.array(["price_x10", "", "quantity_x50", "", "price_x10", "", ""], dtype=object)
    m = evaluate.metrics(days, scores, types, budget=2)
    # d1 top 2: the price error (found) and a real order; the quantity error ranks 4th (missed).
    # d2 top 2: 0.7 and 0.6, both real: the price error (0.5) is missed.
    assert m[evaluate.RECALL] == pytest.approx(1 / 3)
    assert m[evaluate.PRECISION] == pytest.approx(1 / 4)  # 1 injected among 2 + 2 reviewed
    assert m["recall_price_x10"] == pytest.approx(0.5) and m["recall_quantity_x50"] == 0.0
    # AUC: injected 0.9, 0.1, 0.5 against real 0.8, 0.2, 0.7, 0.6: 5 of 12 pairs won.
    assert m[evaluate.AUC] == pytest.approx(5 / 12)
    assert np.isnan(m["recall_duplicate_order"])
    assert list(evaluate.per_example(days, scores, types, 2)) == [1.0, 0.0, 0.0]


def test_ties_at_the_budget_count_against_the_injected_order():
    days = np.array(["d"] * 3)
    m = evaluate.metrics(days, np.array([1.0, 1.0, 1.0]), np.array(["price_x10", "", ""], dtype=object), 2)
    assert m[evaluate.RECALL] == 0.0


def _window() -> pd.DataFrame:
    rows = []
    for d in range(1, 4):  # history: items A..H sold at 2.00 on three days
        for k, item in enumerate("ABCDEFGH"):
            rows.append((f"2024-01-0{d} 1{k % 10}:00", f"u{k}", item, 1 + k % 2, 2.0, f"h{d}{k}", "GB"))
    for k, item in enumerate("ABCDEFGH"):  # the window: day 4, eight orders
        rows.append((f"2024-01-04 1{k % 10}:00", f"u{k}", item, 2, 2.0, f"w{k}", "GB"))
    return day_frame(*rows)


def test_injection_changes_a_copy_and_labels_one_order_per_type():
    lines = _window()
    reference = ref.build(lines, CONFIG)
    window = lines[lines[DAY] == pd.Timestamp("2024-01-04")].reset_index(drop=True)
    before = window.copy()
    injected, labels = inject.inject(window, reference, CONFIG, seed=1)
    pd.testing.assert_frame_equal(window, before)  # the real lines are untouched
    assert sorted(labels.values()) == sorted(inject.ORDER_TYPES)
    by_type = {kind: order for order, kind in labels.items()}
    line = injected.set_index(ORDER_ID)
    assert line.loc[by_type[inject.PRICE_UP], UNIT_PRICE] == pytest.approx(20.0)
    assert line.loc[by_type[inject.PRICE_DOWN], UNIT_PRICE] == pytest.approx(0.2)
    assert line.loc[by_type[inject.QUANTITY_UP], QUANTITY] == 100
    duplicate = by_type[inject.DUPLICATE]
    original = duplicate.removesuffix("-dup")
    assert line.loc[duplicate, USER_ID] == line.loc[original, USER_ID]
    # The shop's typical first order: u0..u7's first orders are worth 2.00 or 4.00, median 3.00.
    new = line.loc[[by_type[inject.NEW_ACCOUNT]]]
    assert (new[QUANTITY] * new[UNIT_PRICE]).sum() == pytest.approx(20 * 3.0)
    assert len(injected) == len(window) + 2  # a duplicate and a new account's order added


def test_a_day_with_too_few_orders_gets_no_injection():
    lines = _window()
    window = lines[lines[DAY] == pd.Timestamp("2024-01-04")].head(inject.MIN_DAY_ORDERS - 1)
    injected, labels = inject.inject(window, ref.build(lines, CONFIG), CONFIG, seed=1)
    assert labels == {} and len(injected) == len(window)


def test_a_metric_drop_removes_a_share_of_one_countrys_orders_of_one_day():
    lines = _window()
    day = pd.Timestamp("2024-01-04")
    dropped = inject.drop_country(lines, day, "GB", 0.5, seed=1)
    assert dropped[ORDER_ID].nunique() == lines[ORDER_ID].nunique() - 4
    assert (dropped[DAY] < day).sum() == (lines[DAY] < day).sum()
