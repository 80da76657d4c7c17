"""Per-customer explanations of a score over the profile features (occlusion attributions).

The effect of feature ``j`` on customer ``i`` is ``p(x_i) - p(x_i with x_ij := reference_j)``,
the reference being the training split's median: how much the customer's own value moves the
score away from that of a typical customer. A positive effect pushes the churn risk up. It works
for any model (head, logistic regression, gradient boosting) and costs one batch prediction per
feature, so every scored customer gets their reasons.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from ecom_tasks.publish.tables import REASON_EFFECT, REASON_FEATURE, REASON_VALUE

MIN_EFFECT = 1e-6  # smaller effects are noise (or a feature the model does not read)


def occlusion_effects(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, reference: np.ndarray
) -> np.ndarray:
    """``[n, f]`` effects of each feature of each row (see the module docstring).

    Args:
        predict: scores a ``[n, f]`` feature matrix.
        x: the rows to explain.
        reference: ``[f]`` values standing in for "a typical customer".
    """
    x = np.asarray(x, dtype=np.float64)
    base = np.asarray(predict(x), dtype=np.float64)
    out = np.zeros_like(x)
    for j in range(x.shape[1]):
        if np.all(x[:, j] == reference[j]):
            continue
        moved = x.copy()
        moved[:, j] = reference[j]
        out[:, j] = base - np.asarray(predict(moved), dtype=np.float64)
    return out


def reasons(effects: np.ndarray, x: np.ndarray, names: Sequence[str], top_k: int) -> list[str]:
    """Per row, a JSON list of the ``top_k`` strongest effects, strongest first:
    ``[{"feature", "value", "effect"}]`` (effects below 1e-6 in size are left out)."""
    order = np.argsort(-np.abs(effects), axis=1, kind="stable")[:, :top_k]
    out = []
    for i in range(len(effects)):
        entries = [
            {
                REASON_FEATURE: names[j],
                REASON_VALUE: round(float(x[i, j]), 4),
                REASON_EFFECT: round(float(effects[i, j]), 4),
            }
            for j in order[i]
            if abs(effects[i, j]) >= MIN_EFFECT
        ]
        out.append(json.dumps(entries))
    return out


def summary(effects: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Per feature: mean absolute effect and how often it is a customer's strongest reason to
    churn (top positive effect) or to stay (top negative effect), most important first."""
    n, f = effects.shape
    top_up = top_down = np.zeros(f, dtype=np.int64)
    if n:
        has_up = (effects > MIN_EFFECT).any(axis=1)
        has_down = (effects < -MIN_EFFECT).any(axis=1)
        top_up = np.bincount(np.argmax(effects, axis=1)[has_up], minlength=f)
        top_down = np.bincount(np.argmin(effects, axis=1)[has_down], minlength=f)
    frame = pd.DataFrame(
        {
            REASON_FEATURE: list(names),
            "mean_abs_effect": np.abs(effects).mean(axis=0) if n else np.zeros(f),
            "top_reason_up": top_up,
            "top_reason_down": top_down,
        }
    )
    frame = frame[frame["mean_abs_effect"] >= MIN_EFFECT]  # features the model does not read
    return frame.sort_values("mean_abs_effect", ascending=False, kind="stable").reset_index(drop=True)
