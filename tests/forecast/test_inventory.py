"""The inventory plan's formulas on hand-computed items."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from ecom_tasks.forecast import inventory


def test_ratio_rescales_the_median_to_the_units_sold() -> None:
    y = np.array([[0.0, 4.0, 0.0, 4.0], [2.0, 2.0, 2.0, 2.0]])  # 16 units sold
    p50 = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])  # 4 forecast
    assert inventory.ratio(y, p50) == pytest.approx(4.0)
    assert inventory.ratio(y, np.zeros_like(p50)) == 1.0  # nothing to rescale


def test_calibration_is_the_quantile_of_the_sums_scaled_residuals() -> None:
    # three items, 2 days, p50 = 1 a day, sales 2+2, 1+1, 0+0: 6 sold, 6 forecast, ratio 1
    y = np.array([[2.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    p50 = np.ones((3, 2))
    s = np.array([1.0, 2.0, 0.5])
    cal = inventory.calibrate(y, p50, s, lead_time_days=1, review_days=1, level=0.5)
    # 2-day sums minus 2, over s * 2: (4-2)/2 = 1, 0/4 = 0, -2/1 = -2 -> median 0
    # 1-day: (2-1)/1 = 1, 0, -1/0.5 = -2 -> median 0
    assert cal == inventory.Calibration(1.0, 0.0, 0.0)
    high = inventory.calibrate(y, p50, s, 1, 1, level=0.9)  # "higher" quantile: the largest score
    assert high.q_cover == pytest.approx(1.0) and high.q_lead == pytest.approx(1.0)


def test_plan_uses_the_rescaled_mean_and_the_sums_quantile() -> None:
    p50 = np.full((1, 28), 2.0)
    cal = inventory.Calibration(ratio=1.5, q_cover=0.5, q_lead=0.25)
    row = inventory.plan(np.array(["a"]), p50, np.array([4.0]), cal, 14, 7, 0.95).iloc[0]
    assert row["expected_demand"] == pytest.approx(3.0 * 21)  # mean 3 a day
    assert row["demand_quantile"] == pytest.approx(63 + 0.5 * 4 * 21)
    assert row["safety_stock"] == pytest.approx(0.5 * 4 * 21)
    assert row["order_up_to"] == row["demand_quantile"]
    assert row["reorder_point"] == pytest.approx(42 + 0.25 * 4 * 14)


def test_a_cover_longer_than_the_horizon_repeats_the_last_week() -> None:
    p50 = np.array([[1.0] * 7 + [2.0] * 7])
    cal = inventory.Calibration(1.0, 0.0, 0.0)
    row = inventory.plan(np.array(["a"]), p50, np.array([1.0]), cal, 14, 7, 0.9).iloc[0]
    assert row["expected_demand"] == pytest.approx(7 + 14 + 7 * 2)
    assert row["safety_stock"] == 0.0


def test_a_negative_quantile_is_floored_at_zero() -> None:
    cal = inventory.Calibration(1.0, -1.0, -1.0)
    row = inventory.plan(np.array(["z"]), np.zeros((1, 28)), np.array([1.0]), cal, 14, 7, 0.95).iloc[0]
    assert row["order_up_to"] == 0.0 and row["reorder_point"] == 0.0


def test_the_median_sum_ablation_is_the_former_formula() -> None:
    p50 = np.full((1, 28), 2.0)
    sd_day = 0.5
    p10, p90 = p50 - inventory.Z_80 * sd_day, p50 + inventory.Z_80 * sd_day
    q = inventory.median_sum_quantile(p50, p10, p90, 21, 0.95)
    assert q[0] == pytest.approx(42 + norm.ppf(0.95) * sd_day * np.sqrt(21))


def test_evaluate_calibrates_on_validation_and_checks_on_test() -> None:
    # validation: p50 1 a day for 2 items, sales 8 and 0 over 2 days -> ratio 2, mean 2 a day
    y_v = np.array([[4.0, 4.0], [0.0, 0.0]])
    p50_v = np.ones((2, 2))
    s = np.array([1.0, 1.0])
    # scores over 2 days: (8-4)/2 = 2, (0-4)/2 = -2; "higher" 0.95-quantile: 2
    y_t = np.array([[3.0, 3.0], [1.0, 0.0]])
    q_t = {"p50": np.ones((2, 2)), "p10": np.ones((2, 2)), "p90": np.ones((2, 2))}
    out = inventory.evaluate(y_v, p50_v, s, y_t, q_t, s, 1, 1, 0.95)
    assert out["mean_ratio"] == pytest.approx(2.0)
    assert out["inventory_coverage"] == pytest.approx(1.0)  # quantile 4 + 2 * 1 * 2 = 8: 6, 1 <= 8
    assert out["median_sum_inventory_coverage"] == pytest.approx(0.5)  # quantile 2: 6 > 2, 1 <= 2
    assert out["mean_bias"] == pytest.approx((8 - 7) / 7)
