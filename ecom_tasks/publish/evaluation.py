"""Per-example test results: what lets the gate tell a worse model from a noisy test split.

A training stage scores its candidate, its baselines and the champion on the same held-out
examples (customers, users, lists). Besides the means in ``metrics.json`` it keeps, per example,
what each mean is made of, in ``evaluation.parquet`` beside the candidate (one row per example):

- a mean metric (``recall_at_20``, ``ranking_ndcg_at_10``, ``basket_value_mae``): a column per
  model under the metric's name in ``metrics.json`` (``recall_at_20``,
  ``popularity_recall_at_20``, ``champion_recall_at_20``), NaN where an example does not count;
- a ranking metric over examples (``churn_roc_auc``): the column ``@label`` and a column of scores
  per model, ``<metric>@score`` (``churn_roc_auc@score``, ``gbdt_churn_roc_auc@score`` ...).

:func:`sampler` turns a column family back into the metric of any resample of the examples, which
is what the gate's paired bootstrap (:mod:`ecom_tasks.publish.noise`) needs. Stages whose metric
code computes per-example values inside a deeper function record them with :func:`record` while a
:func:`recording` is active, so no signature has to thread them through.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote

LABEL = "@label"
SCORE = "@score"
CHAMPION_PREFIX = "champion_"
_active: contextvars.ContextVar[dict[str, np.ndarray] | None] = contextvars.ContextVar(
    "evaluation", default=None
)


def score_column(metric: str, prefix: str = "") -> str:
    """The column of a model's scores behind a ranking metric over examples (``roc_auc``)."""
    return f"{prefix}{metric}{SCORE}"


@contextlib.contextmanager
def recording() -> Iterator[dict[str, np.ndarray]]:
    """Collect what :func:`record` is given inside the block, by name."""
    found: dict[str, np.ndarray] = {}
    token = _active.set(found)
    try:
        yield found
    finally:
        _active.reset(token)


def record(name: str, values: Any, *, at: Any = None, size: int | None = None) -> None:
    """Keep ``values`` under ``name`` when a :func:`recording` is active (else do nothing).

    ``values`` holds one figure per example, or, with ``at``, the figures of the examples at those
    positions among ``size``: the others (examples that do not count, e.g. users without targets)
    are NaN, so every recorded column lines up with the same examples.
    """
    found = _active.get()
    if found is None:
        return
    if at is None:
        found[name] = np.asarray(values, dtype=np.float64)
        return
    every = np.full(size, np.nan)
    every[at] = values
    found[name] = every


def write(folder: str, frame: pd.DataFrame) -> str:
    """Write ``evaluation.parquet`` into the candidate's ``folder`` (atomically); returns its URI."""
    uri = f"{folder}/{catalog.EVALUATION_FILE}"
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    remote.write_uri(uri, buffer.getvalue())
    return uri


def remove(folder: str) -> None:
    """Remove a stale ``evaluation.parquet`` (a rerun that has no per-example results)."""
    remote.remove_uri(f"{folder}/{catalog.EVALUATION_FILE}")


def read(folder: str) -> pd.DataFrame | None:
    """The candidate's per-example results, or None when its stage wrote none."""
    data = remote.read_uri(f"{folder}/{catalog.EVALUATION_FILE}")
    return None if data is None else pd.read_parquet(io.BytesIO(data))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by ranks (ties get half credit); NaN with one class."""
    positives = y > 0.5
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


Metric = Callable[[np.ndarray], float]  # example indices (with repeats) -> the metric


def sampler(frame: pd.DataFrame, metric: str, prefix: str = "") -> Metric | None:
    """The metric of model ``prefix`` on any resample of the examples, or None when not recorded."""
    column = f"{prefix}{metric}"
    if column in frame.columns:
        values = frame[column].to_numpy(np.float64)
        return lambda idx: float(np.nanmean(values[idx])) if np.isfinite(values[idx]).any() else float("nan")
    scores = score_column(metric, prefix)
    if scores in frame.columns and LABEL in frame.columns:
        y, s = frame[LABEL].to_numpy(np.float64), frame[scores].to_numpy(np.float64)
        return lambda idx: roc_auc(y[idx], s[idx])
    return None
