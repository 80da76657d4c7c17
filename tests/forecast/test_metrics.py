"""The forecast metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from ecom_tasks.forecast import metrics as fm

Y = np.array([[2.0, 0.0, 1.0, 3.0, 0.0, 0.0, 2.0, 4.0], [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 2.0]])
F = np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])


def test_wape_and_bias() -> None:
    # |errors|: item 0: 1+1+0+2+1+1+1+3 = 10, item 1: 4; actual 12 + 4 = 16.
    assert fm.wape(Y, F) == pytest.approx(14 / 16)
    # forecast - actual: item 0: 8 - 12 = -4, item 1: 0 - 4 = -4.
    assert fm.bias(Y, F) == pytest.approx(-8 / 16)
    assert np.isnan(fm.wape(np.zeros((1, 3)), np.ones((1, 3))))


def test_weekly_wape_sums_seven_day_blocks_and_a_partial_last_week() -> None:
    # weeks: item 0 actual (8, 4) forecast (7, 1) -> |1| + |3|; item 1 actual (2, 2) forecast (0, 0) -> 4.
    assert fm.weekly(Y).tolist() == [[8.0, 4.0], [2.0, 2.0]]
    assert fm.weekly_wape(Y, F) == pytest.approx(8 / 16)


def test_mase_scales_each_item_by_its_in_sample_seasonal_naive_error() -> None:
    history = np.array([[1.0] * 7 + [3.0] * 7, [0.0] * 14])
    alive = np.ones_like(history, dtype=bool)
    scale = fm.snaive_scale(history, alive)
    assert scale[0] == pytest.approx(2.0) and scale[1] == 0.0
    # item 0: mean |error| = 10 / 8, scaled by 2; item 1 has no scale and is left out.
    assert fm.mase(Y, F, scale) == pytest.approx(10 / 8 / 2)


def test_coverage_pinball_and_gap() -> None:
    lo, hi = np.zeros_like(Y), np.full_like(Y, 2.0)
    assert fm.coverage(Y, lo, hi) == pytest.approx(14 / 16)  # outside [0, 2]: the 3 and the 4 of item 0
    q = {"p50": F, "p10": lo, "p90": hi, "p2_5": lo, "p97_5": hi + 10}
    out = fm.all_metrics(Y, q, np.array([2.0, np.nan]))
    assert out["coverage_80_gap"] == pytest.approx(abs(14 / 16 - 0.8))
    assert out["coverage_95"] == 1.0
    # pinball at 0.9 of q = 2: y above by 1 (y=3) and 2 (y=4): 0.9 * 3; the rest below: 0.1 * sum(2 - y).
    below = sum(2 - v for v in Y.ravel() if v <= 2)
    assert fm.pinball(Y, hi, 0.9) == pytest.approx((0.9 * 3 + 0.1 * below) / 16)


def test_per_item_wape_averages_to_the_wape() -> None:
    per_item = fm.per_item_wape(Y, F)
    assert per_item.tolist() == pytest.approx([10 / 8, 4 / 8])
    assert per_item.mean() == pytest.approx(fm.wape(Y, F))
