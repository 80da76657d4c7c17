"""The inventory plan: a periodic-review, order-up-to policy per item from the published forecast.

With lead time ``L`` and review period ``R`` (days) and service level ``α``, over the ``L + R`` days
after ``ds`` (beyond the horizon, the forecast's last week repeats):

- ``expected_demand`` = Σ p50 over the ``L + R`` days;
- ``demand_sd`` = √Σ σ_d² with σ_d = (p90 - p10) / (2 · 1.2816) per day (days independent);
- ``safety_stock`` = z_α · ``demand_sd`` (z_α the standard normal quantile at ``α``);
- ``demand_quantile`` = ``order_up_to`` = ``expected_demand`` + ``safety_stock`` (order up to this
  at a review: it covers demand until the next order arrives with probability ``α``);
- ``reorder_point`` = Σ p50 over the first ``L`` days + z_α · √Σ σ_d² over them (order when the
  stock position falls below this between reviews).

Without a stock file in the landing folder the table says so in its metadata (``stock``) and has no
order quantities: nothing is invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from ecom_tasks.contract import ITEM_ID

Z_80 = float(norm.ppf(0.9))  # the 80 % interval spans ±1.2816 standard deviations
NO_STOCK = "no stock supplied"


def _extend(x: np.ndarray, days: int) -> np.ndarray:
    """``[items, days]``: ``x`` cut or extended by repeating its last 7 days."""
    if days <= x.shape[1]:
        return x[:, :days]
    tail = x[:, -7:] if x.shape[1] >= 7 else x
    reps = int(np.ceil((days - x.shape[1]) / tail.shape[1]))
    return np.concatenate([x, np.tile(tail, reps)], axis=1)[:, :days]


def plan(
    items: np.ndarray,
    p50: np.ndarray,
    p10: np.ndarray,
    p90: np.ndarray,
    lead_time_days: int,
    review_days: int,
    service_level: float,
) -> pd.DataFrame:
    """One row per item (see the module docstring); arrays are ``[items, horizon]``."""
    z = float(norm.ppf(service_level))
    cover = lead_time_days + review_days
    mean = _extend(p50, cover)
    sd_day = np.clip(_extend(p90, cover) - _extend(p10, cover), 0, None) / (2 * Z_80)
    expected = mean.sum(axis=1)
    sd = np.sqrt((sd_day**2).sum(axis=1))
    lead_mean = mean[:, :lead_time_days].sum(axis=1)
    lead_sd = np.sqrt((sd_day[:, :lead_time_days] ** 2).sum(axis=1))
    safety = z * sd
    return pd.DataFrame(
        {
            ITEM_ID: pd.array(items.astype(str), dtype="string"),
            "lead_time_days": lead_time_days,
            "review_days": review_days,
            "service_level": float(service_level),
            "expected_demand": expected,
            "demand_sd": sd,
            "demand_quantile": expected + safety,
            "safety_stock": safety,
            "reorder_point": lead_mean + z * lead_sd,
            "order_up_to": expected + safety,
        }
    )
