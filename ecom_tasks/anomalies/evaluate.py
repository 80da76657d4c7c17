"""Recall and precision at the daily budget, and ROC AUC, on a window with injected anomalies.

A person reviews the top ``budget`` orders of each day. An injected order is *found* when its rank
within its day is at most ``budget`` (ties count against it: rank ``max``). Recall is the share of
injected orders found, overall and per type; precision the share of the reviewed orders that were
injected; ROC AUC ranks every order of the window, injected against real.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.anomalies.data import DAY
from ecom_tasks.anomalies.inject import ORDER_TYPES
from ecom_tasks.contract import ORDER_ID
from ecom_tasks.publish import evaluation

RECALL, PRECISION, AUC = "injected_recall_at_budget", "injected_precision_at_budget", "injected_roc_auc"


def labels_of(frame: pd.DataFrame, labels: dict[str, str]) -> np.ndarray:
    """The injected type of each order of ``frame`` ("" for real orders)."""
    return frame[ORDER_ID].astype(str).map(labels).fillna("").to_numpy(dtype=object)


def daily_rank(days: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each order's rank within its day by score, highest first (ties share the worst rank)."""
    frame = pd.DataFrame({DAY: days, "s": np.nan_to_num(np.asarray(scores, np.float64), nan=-np.inf)})
    return frame.groupby(DAY)["s"].rank(method="max", ascending=False).to_numpy()


def found(days: np.ndarray, scores: np.ndarray, budget: int) -> np.ndarray:
    """Whether each order is among the top ``budget`` of its day."""
    return daily_rank(days, scores) <= budget


def metrics(days: np.ndarray, scores: np.ndarray, types: np.ndarray, budget: int, prefix: str = "") -> dict:
    """``{prefix}injected_recall_at_budget``, precision, ROC AUC and ``{prefix}recall_<type>``."""
    hit = found(days, scores, budget)
    injected = types != ""
    reviewed = float(pd.Series(days).value_counts().clip(upper=budget).sum())
    out = {
        f"{prefix}{RECALL}": float(hit[injected].mean()) if injected.any() else float("nan"),
        f"{prefix}{PRECISION}": float((hit & injected).sum() / reviewed) if reviewed else float("nan"),
        f"{prefix}{AUC}": evaluation.roc_auc(injected.astype(np.float64), np.asarray(scores, np.float64)),
    }
    for kind in ORDER_TYPES:
        mask = types == kind
        out[f"{prefix}recall_{kind}"] = float(hit[mask].mean()) if mask.any() else float("nan")
    return out


def per_example(days: np.ndarray, scores: np.ndarray, types: np.ndarray, budget: int) -> np.ndarray:
    """1.0 / 0.0 per injected order (found or not): the gate's paired bootstrap resamples these."""
    return found(days, scores, budget)[types != ""].astype(np.float64)
