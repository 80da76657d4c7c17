"""Forecast accuracy on one window: the figures of ``metrics.json`` (lower is better unless said).

All take ``[items, h]`` arrays of the window's actual units (uncapped: what really sold) and the
model's forecasts. ``error = forecast - actual``.

- ``wape``: sum |error| / sum actual, daily, item level;
- ``weekly_wape``: the same on weekly sums (7-day blocks from the window's first day);
- ``mase``: per item, mean |error| over the in-sample seasonal-naive (lag 7) MAE, mean over the
  items whose scale is positive;
- ``bias``: sum error / sum actual (positive: over-forecast);
- ``coverage_80`` / ``coverage_95``: share of item-days inside the interval (target: 0.8 / 0.95);
  ``coverage_80_gap`` = |coverage_80 - 0.8| is what the gate holds (lower is better);
- ``pinball_90``: mean pinball loss of the 90 % quantile (p90) per item-day, in units.
"""

from __future__ import annotations

import numpy as np

NOMINAL_80 = 0.8


def wape(y: np.ndarray, f: np.ndarray) -> float:
    total = float(np.sum(y))
    return float(np.sum(np.abs(f - y)) / total) if total > 0 else float("nan")


def weekly(x: np.ndarray) -> np.ndarray:
    """``[items, weeks]`` sums of 7-day blocks (a last partial block is its own week)."""
    h = x.shape[1]
    starts = np.arange(0, h, 7)
    return np.add.reduceat(x, starts, axis=1) if h else x


def weekly_wape(y: np.ndarray, f: np.ndarray) -> float:
    return wape(weekly(y), weekly(f))


def snaive_scale(history: np.ndarray, alive: np.ndarray, season: int = 7) -> np.ndarray:
    """Per item, the in-sample MAE of the seasonal naive forecast over its life (NaN: too short)."""
    out = np.full(history.shape[0], np.nan)
    for i in range(history.shape[0]):
        series = history[i][alive[i]]
        if len(series) > season:
            out[i] = float(np.mean(np.abs(series[season:] - series[:-season])))
    return out


def mase(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> float:
    ok = np.isfinite(scale) & (scale > 0)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.mean(np.abs(f[ok] - y[ok]), axis=1) / scale[ok]))


def bias(y: np.ndarray, f: np.ndarray) -> float:
    total = float(np.sum(y))
    return float(np.sum(f - y) / total) if total > 0 else float("nan")


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    return float(np.mean((y >= lo) & (y <= hi))) if y.size else float("nan")


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    diff = y - q
    return float(np.mean(np.maximum(tau * diff, (tau - 1) * diff))) if y.size else float("nan")


def point_metrics(y: np.ndarray, f: np.ndarray, scale: np.ndarray, prefix: str = "") -> dict[str, float]:
    """``wape``, ``weekly_wape``, ``mase`` and ``bias`` under ``prefix``."""
    return {
        f"{prefix}wape": wape(y, f),
        f"{prefix}weekly_wape": weekly_wape(y, f),
        f"{prefix}mase": mase(y, f, scale),
        f"{prefix}bias": bias(y, f),
    }


def all_metrics(
    y: np.ndarray, q: dict[str, np.ndarray], scale: np.ndarray, prefix: str = ""
) -> dict[str, float]:
    """Point and interval metrics; ``q`` holds ``p50, p10, p90, p2_5, p97_5`` (``[items, h]``)."""
    out = point_metrics(y, q["p50"], scale, prefix)
    cov80 = coverage(y, q["p10"], q["p90"])
    out[f"{prefix}coverage_80"] = cov80
    out[f"{prefix}coverage_80_gap"] = abs(cov80 - NOMINAL_80)
    out[f"{prefix}coverage_95"] = coverage(y, q["p2_5"], q["p97_5"])
    out[f"{prefix}pinball_90"] = pinball(y, q["p90"], 0.9)
    return out


def per_item_wape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Per item, its absolute error over the mean actual per item: their mean is :func:`wape`,
    so the gate's paired bootstrap over items resamples the window's WAPE."""
    per_item_actual = float(np.sum(y)) / max(y.shape[0], 1)
    if per_item_actual <= 0:
        return np.full(y.shape[0], np.nan)
    return np.sum(np.abs(f - y), axis=1) / per_item_actual
