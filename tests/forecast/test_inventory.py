"""The inventory plan's formulas on a hand-computed item."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from ecom_tasks.forecast import inventory


def test_order_up_to_reorder_point_and_safety_stock() -> None:
    h = 28
    p50 = np.full((1, h), 2.0)
    sd_day = 0.5
    p10, p90 = p50 - inventory.Z_80 * sd_day, p50 + inventory.Z_80 * sd_day
    plan = inventory.plan(
        np.array(["a"]), p50, p10, p90, lead_time_days=14, review_days=7, service_level=0.95
    )
    row = plan.iloc[0]
    z = norm.ppf(0.95)
    assert row["expected_demand"] == pytest.approx(2.0 * 21)
    assert row["demand_sd"] == pytest.approx(sd_day * np.sqrt(21))
    assert row["safety_stock"] == pytest.approx(z * sd_day * np.sqrt(21))
    assert row["order_up_to"] == pytest.approx(42 + z * sd_day * np.sqrt(21))
    assert row["demand_quantile"] == row["order_up_to"]
    assert row["reorder_point"] == pytest.approx(28 + z * sd_day * np.sqrt(14))


def test_a_cover_longer_than_the_horizon_repeats_the_last_week() -> None:
    p50 = np.array([[1.0] * 7 + [2.0] * 7])
    plan = inventory.plan(np.array(["a"]), p50, p50, p50, lead_time_days=14, review_days=7, service_level=0.9)
    assert plan.iloc[0]["expected_demand"] == pytest.approx(7 + 14 + 7 * 2)
    assert plan.iloc[0]["safety_stock"] == 0.0  # no interval width: no uncertainty


def test_zero_forecast_gives_a_zero_plan() -> None:
    zeros = np.zeros((1, 28))
    row = inventory.plan(np.array(["z"]), zeros, zeros, zeros, 14, 7, 0.95).iloc[0]
    assert row["order_up_to"] == 0.0 and row["reorder_point"] == 0.0
