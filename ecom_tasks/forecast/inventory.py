"""The inventory plan: a periodic-review, order-up-to policy per item from the published forecast.

The published point forecast ``p50`` is a daily median: on intermittent items it sits far below the
mean, so its sums over a lead time under-state demand. The plan therefore uses:

- ``mean`` = ``p50`` x ``ratio``, with ``ratio`` = Σ actual / Σ p50 over a calibration window's
  item-days (the model's out-of-sample forecasts against what sold): an expected demand whose total
  matches the units sold there (bias 0 on that window);
- with lead time ``L``, review period ``R`` (days), service level ``α`` and ``C = L + R``:
  ``expected_demand`` = Σ mean over the ``C`` days after ``ds`` (beyond the horizon, the last week
  repeats); ``demand_quantile`` = ``expected_demand`` + ``q_α`` · ``s`` · ``C``, where ``s`` is the
  item's recent mean daily units and ``q_α`` the ``α``-quantile over the calibration window's items
  of (Σ actual - Σ mean) / (``s`` · ``d``) on its first ``d`` = min(``C``, horizon) days (split
  conformal on the ``C``-day sums, not sums of daily quantiles);
- ``safety_stock`` = ``demand_quantile`` - ``expected_demand``; ``order_up_to`` = ``demand_quantile``;
  ``reorder_point`` = the same construction over the first ``L`` days.

Without a stock file in the landing folder the table says so in its metadata (``stock``) and has no
order quantities: nothing is invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ecom_tasks.contract import ITEM_ID

Z_80 = float(norm.ppf(0.9))  # the 80 % interval spans ±1.2816 standard deviations
NO_STOCK = "no stock supplied"


@dataclass(frozen=True)
class Calibration:
    """What a calibration window says: the mean's rescaling and the sums' conformal quantiles."""

    ratio: float  # Σ actual / Σ p50
    q_cover: float  # α-quantile of the C-day sums' scaled residuals
    q_lead: float  # the same over the first L days


def _extend(x: np.ndarray, days: int) -> np.ndarray:
    """``[items, days]``: ``x`` cut or extended by repeating its last 7 days."""
    if days <= x.shape[1]:
        return x[:, :days]
    tail = x[:, -7:] if x.shape[1] >= 7 else x
    reps = int(np.ceil((days - x.shape[1]) / tail.shape[1]))
    return np.concatenate([x, np.tile(tail, reps)], axis=1)[:, :days]


def ratio(y: np.ndarray, p50: np.ndarray) -> float:
    """Σ actual / Σ p50 (1 when the forecast or the actuals are all zero: nothing to rescale)."""
    total_f, total_y = float(np.sum(p50)), float(np.sum(y))
    return total_y / total_f if total_f > 0 and total_y > 0 else 1.0


def sum_quantile(y: np.ndarray, mean: np.ndarray, s: np.ndarray, days: int, level: float) -> float:
    """The ``level``-quantile over items of (Σ actual - Σ mean) / (s · d) on the first d days."""
    d = min(days, y.shape[1])
    if not y.shape[0] or d < 1:
        return 0.0
    scores = (y[:, :d].sum(axis=1) - mean[:, :d].sum(axis=1)) / (s * d)
    return float(np.quantile(scores, level, method="higher"))


def calibrate(
    y: np.ndarray, p50: np.ndarray, s: np.ndarray, lead_time_days: int, review_days: int, level: float
) -> Calibration:
    """The plan's calibration from a window's actuals ``y`` and out-of-sample ``p50`` (``[items, h]``)."""
    r = ratio(y, p50)
    mean = p50 * r
    cover = lead_time_days + review_days
    q_lead = sum_quantile(y, mean, s, lead_time_days, level) if lead_time_days else 0.0
    return Calibration(r, sum_quantile(y, mean, s, cover, level), q_lead)


def plan(
    items: np.ndarray,
    p50: np.ndarray,
    s: np.ndarray,
    calibration: Calibration,
    lead_time_days: int,
    review_days: int,
    service_level: float,
) -> pd.DataFrame:
    """One row per item (see the module docstring); ``p50`` is ``[items, horizon]``, ``s`` per item."""
    cover = lead_time_days + review_days
    mean = _extend(p50 * calibration.ratio, cover)
    expected = mean.sum(axis=1)
    quantile = np.maximum(expected + calibration.q_cover * s * cover, 0.0)
    lead_mean = mean[:, :lead_time_days].sum(axis=1)
    reorder = np.maximum(lead_mean + calibration.q_lead * s * lead_time_days, 0.0)
    return pd.DataFrame(
        {
            ITEM_ID: pd.array(items.astype(str), dtype="string"),
            "lead_time_days": lead_time_days,
            "review_days": review_days,
            "service_level": float(service_level),
            "expected_demand": expected,
            "demand_quantile": quantile,
            "safety_stock": quantile - expected,
            "reorder_point": reorder,
            "order_up_to": quantile,
        }
    )


def median_sum_quantile(
    p50: np.ndarray, p10: np.ndarray, p90: np.ndarray, days: int, service_level: float
) -> np.ndarray:
    """The former plan's quantile (an ablation): Σ p50 + z_α · √Σ σ_d², σ_d = (p90 - p10) / 2.56."""
    sd_day = np.clip(_extend(p90, days) - _extend(p10, days), 0, None) / (2 * Z_80)
    return _extend(p50, days).sum(axis=1) + norm.ppf(service_level) * np.sqrt((sd_day**2).sum(axis=1))


def coverage(y: np.ndarray, quantile: np.ndarray, days: int) -> float:
    """Share of items whose actual demand over the first ``days`` stays at or below ``quantile``."""
    d = min(days, y.shape[1])
    return float(np.mean(y[:, :d].sum(axis=1) <= quantile)) if y.shape[0] else float("nan")


def evaluate(
    y_v: np.ndarray,
    p50_v: np.ndarray,
    s_v: np.ndarray,
    y_t: np.ndarray,
    q_t: dict[str, np.ndarray],
    s_t: np.ndarray,
    lead_time_days: int,
    review_days: int,
    service_level: float,
) -> dict[str, float]:
    """The plan calibrated on validation and checked on the test window (``[items, h]`` arrays).

    ``inventory_coverage``: share of items whose test demand over the first min(L + R, h) days stays
    at or below the plan's quantile (target: the service level); ``mean_bias``: Σ (mean - actual) /
    Σ actual over the test window; ``median_sum_inventory_coverage``: the former plan's coverage.
    """
    days = min(lead_time_days + review_days, y_t.shape[1])
    cal = calibrate(y_v, p50_v, s_v, days, 0, service_level)
    quantile = plan(np.arange(len(s_t)), q_t["p50"], s_t, cal, days, 0, service_level)["demand_quantile"]
    old = median_sum_quantile(q_t["p50"], q_t["p10"], q_t["p90"], days, service_level)
    total = float(y_t.sum())
    return {
        "inventory_coverage": coverage(y_t, quantile.to_numpy(), days),
        "median_sum_inventory_coverage": coverage(y_t, old, days),
        "mean_bias": float((q_t["p50"] * cal.ratio - y_t).sum() / total) if total > 0 else float("nan"),
        "mean_ratio": cal.ratio,
    }
