"""Metrics of the heads on hand-computed cases."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss

from ecom_tasks.errors import ConfigError
from ecom_tasks.heads import metrics as hm


def test_ece_by_hand() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.6, 0.9])
    # Ten bins, one score per bin: mean |p - y| = (0.1 + 0.3 + 0.4 + 0.1) / 4.
    assert hm.expected_calibration_error(y, p, 10) == pytest.approx(0.225)
    # One bin: |mean p - mean y| = |0.475 - 0.5|.
    assert hm.expected_calibration_error(y, p, 1) == pytest.approx(0.025)
    # Perfect calibration within bins, and a score of exactly 1.0 falls in the last bin.
    assert hm.expected_calibration_error([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.0)
    assert hm.expected_calibration_error([1], [1.0]) == pytest.approx(0.0)


def test_top_decile_lift_by_hand() -> None:
    y = np.zeros(20)
    y[[3, 7, 11, 15, 19]] = 1  # base rate 0.25
    p = np.linspace(0.0, 0.5, 20)
    p[3], p[7] = 0.99, 0.98  # the top 2 (10% of 20) are both positive
    assert hm.top_decile_lift(y, p) == pytest.approx(1.0 / 0.25)
    p[7], p[18] = 0.0, 0.95  # now the second highest score is a negative
    assert hm.top_decile_lift(y, p) == pytest.approx(0.5 / 0.25)
    assert math.isnan(hm.top_decile_lift(np.zeros(5), np.arange(5.0)))


def test_binary_metrics_names_and_values() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.2, 0.4, 0.7, 0.8, 0.1, 0.3])
    out = hm.binary_metrics(y, p, "churn", prefix="gbdt_")
    assert set(out) == {f"gbdt_churn_{m}" for m in hm.METRICS}
    assert out["gbdt_churn_log_loss"] == pytest.approx(sk_log_loss(y, p))
    assert out["gbdt_churn_roc_auc"] == pytest.approx(8 / 9)  # one discordant pair of nine
    single = hm.clean(hm.binary_metrics(np.ones(3), np.array([0.2, 0.5, 0.9]), "repurchase"))
    assert single["repurchase_roc_auc"] is None and single["repurchase_pr_auc"] is None
    assert hm.orders_metrics(np.array([0, 2]), np.array([1.0, 1.0]), "repurchase") == {
        "repurchase_orders_mae": 1.0
    }


def test_bad_metric_input() -> None:
    with pytest.raises(ConfigError, match="differ in length"):
        hm.log_loss(np.zeros(3), np.zeros(2))
    with pytest.raises(ConfigError, match="no examples"):
        hm.top_decile_lift(np.zeros(0), np.zeros(0))


def test_reliability_plot(tmp_path) -> None:
    rng = np.random.default_rng(0)
    p = rng.random(200)
    y = (rng.random(200) < p).astype(float)
    path = hm.reliability_plot({"model": (y, p)}, str(tmp_path / "r.png"), title="t")
    assert os.path.getsize(path) > 1000
    mean_p, rate, count = hm.reliability(y, p, 10)
    assert count.sum() == 200 and np.nanmax(np.abs(mean_p - rate)) < 0.35
