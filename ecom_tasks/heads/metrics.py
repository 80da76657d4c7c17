"""Metrics of the customer heads, and the reliability plot.

One naming scheme for both tasks: ``<task>_roc_auc``, ``<task>_pr_auc``, ``<task>_log_loss``, ``<task>_ece``
and ``<task>_top_decile_lift`` (task ``churn`` or ``repurchase``); the expected-orders output adds
``repurchase_orders_mae``. Baselines prefix the same names (``rfm_logreg_churn_roc_auc``).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ecom_tasks.errors import ConfigError

EPS = 1e-7
METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "log_loss", "ece", "top_decile_lift")
ORDERS_MAE = "orders_mae"


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=np.float64).ravel(), np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ConfigError(f"labels and scores differ in length: {len(y)} vs {len(p)}")
    if not len(y):
        raise ConfigError("no examples to score")
    return y, p


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary cross-entropy, probabilities clipped to ``[1e-7, 1 - 1e-7]``."""
    y, p = _check(y, p)
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: over equal-width probability bins, the gap between the mean score and the positive
    rate, weighted by the share of examples in the bin (a score of 1.0 falls in the last bin)."""
    y, p = _check(y, p)
    index = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mine = index == b
        if mine.any():
            total += mine.mean() * abs(p[mine].mean() - y[mine].mean())
    return float(total)


def top_decile_lift(y: np.ndarray, p: np.ndarray) -> float:
    """Positive rate among the 10% highest scores (at least one example) over the overall rate.

    Ties at the boundary are broken by order of appearance (a stable sort), so the result does
    not depend on the platform.
    """
    y, p = _check(y, p)
    base = y.mean()
    if base == 0:
        return float("nan")
    k = max(1, math.ceil(0.1 * len(y)))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].mean() / base)


def reliability(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean score, positive rate and count (NaN rates for empty bins)."""
    y, p = _check(y, p)
    index = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(index, minlength=bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(index, p, minlength=bins) / count
        rate = np.bincount(index, y, minlength=bins) / count
    return mean_p, rate, count


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of any scores (probabilities or logits); NaN for one class or non-finite scores."""
    scores = np.asarray(scores, dtype=np.float64)
    if len(np.unique(y)) < 2 or not np.all(np.isfinite(scores)):
        return float("nan")
    return float(roc_auc_score(y, scores))


def binary_metrics(y: np.ndarray, p: np.ndarray, task: str, *, prefix: str = "", bins: int = 10) -> dict:
    """The five metrics of one task's probabilities, named ``{prefix}{task}_{metric}``.

    ROC and PR AUC are NaN (recorded as null) when the labels have a single class.
    """
    y, p = _check(y, p)
    two = len(np.unique(y)) == 2
    values = {
        "roc_auc": roc_auc(y, p),
        "pr_auc": average_precision_score(y, p) if two else float("nan"),
        "log_loss": log_loss(y, p),
        "ece": expected_calibration_error(y, p, bins),
        "top_decile_lift": top_decile_lift(y, p),
    }
    return {f"{prefix}{task}_{k}": float(v) for k, v in values.items()}


def orders_metrics(orders: np.ndarray, expected: np.ndarray, task: str, *, prefix: str = "") -> dict:
    """Mean absolute error of the expected number of orders: ``{prefix}{task}_orders_mae``."""
    orders, expected = _check(orders, expected)
    return {f"{prefix}{task}_{ORDERS_MAE}": float(np.mean(np.abs(orders - expected)))}


def clean(metrics: dict) -> dict:
    """Round floats for JSON and turn NaN/inf into None."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, float | np.floating):
            out[k] = round(float(v), 6) if math.isfinite(v) else None
        else:
            out[k] = v
    return out


def reliability_plot(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str, *, title: str, bins: int = 10
) -> str:
    """Save a reliability diagram (positive rate against mean score per bin) of several models.

    Args:
        curves: ``{model name: (labels, probabilities)}`` on the same held-out examples.
        path: the PNG file to write.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on workers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, (y, p) in curves.items():
        mean_p, rate, count = reliability(y, p, bins)
        keep = count > 0
        ece = expected_calibration_error(y, p, bins)
        ax.plot(mean_p[keep], rate[keep], marker="o", label=f"{name} (ECE {ece:.3f})")
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
