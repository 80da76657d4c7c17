"""The pure core of a head stage: fit the head and the baselines on one split, score them on the
held-out test customers, and select the published model honestly.

Selection: the fine-tuned head is published only when its validation ROC AUC is strictly above
the best baseline's (never chosen on the test split, whose figures are then reported unbiased);
otherwise the best baseline is, and ``metrics.json`` says so (``selected``,
``finetuned_beats_baselines``, ``selection``, each model's ``valid_<task>_roc_auc``).
Unprefixed metric names describe the published model (what the gate compares with the champion),
baselines keep their prefixes, and the fine-tuned head's own figures are always kept under
``finetuned_``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import tensorflow as tf

from ecom_tasks.contract import USER_ID
from ecom_tasks.heads import metrics as hm
from ecom_tasks.heads.baselines import Platt, TabularModel, fit_baseline
from ecom_tasks.heads.config import BASELINES, HEAD_MODEL, REPURCHASE, STABLE_FEATURES, HeadConfig
from ecom_tasks.heads.data import TEST, TRAIN, VALID, feature_matrix
from ecom_tasks.heads.model import LOG_RATE, LOGIT, PROFILE, CustomerHead, expected_orders, profile_scaling
from ecom_tasks.heads.network import FitReport, Labels, fit_head, predict_head, take
from ecom_tasks.retrieval.backbone import Backbone
from ecom_tasks.retrieval.config import OOV, SERVING_FEATURES, SERVING_USER_ID

log = logging.getLogger(__name__)

FINETUNED_PREFIX = "finetuned_"


def tower_inputs(
    backbone: Backbone,
    interactions: pd.DataFrame,
    profiles: pd.DataFrame,
    as_of: pd.Timestamp,
    config: HeadConfig,
) -> dict[str, np.ndarray]:
    """The head's inputs for the customers of ``profiles``, from data before ``as_of``.

    Profile columns the backbone reads but this day lacks (``cat_share_*`` follow each day's top
    categories) are unknown (NaN: the tower's training mean). The user id is replaced by the
    out-of-vocabulary id unless ``config.use_user_id`` (see :class:`HeadConfig`).
    """
    frame = profiles.reindex(columns=[USER_ID, *backbone.feature_columns])
    users = profiles[USER_ID].astype(str).tolist()
    out = backbone.query_inputs(interactions, frame, users, as_of)
    if not config.use_user_id:
        out[SERVING_USER_ID] = np.full(len(users), OOV).astype(str)
    out[SERVING_FEATURES] = out[SERVING_FEATURES].astype(np.float32)
    out[PROFILE] = feature_matrix(profiles, STABLE_FEATURES, where="customer profiles").astype(np.float32)
    return out


@dataclass
class Trained:
    """Everything a head stage trained, scored and selected."""

    task: str
    head: CustomerHead
    platt: Platt
    baselines: dict[str, TabularModel]
    fit: FitReport
    seconds: dict[str, float]
    test_scores: dict[str, tuple[np.ndarray, np.ndarray | None]]  # model -> (p, expected orders)
    y_test: np.ndarray
    orders_test: np.ndarray | None
    model_metrics: dict[str, dict[str, float]]
    selected: str
    metrics: dict = field(default_factory=dict)


def evaluate(
    task: str,
    y: np.ndarray,
    p: np.ndarray,
    orders: np.ndarray | None,
    expected: np.ndarray | None,
    config: HeadConfig,
) -> dict[str, float]:
    """Unprefixed metrics of one model's scores ``p`` (and ``expected`` orders) against the labels ``y``
    (and ``orders``); the head stage also scores the champion with it."""
    out = hm.binary_metrics(y, p, task, bins=config.ece_bins)
    if orders is not None and expected is not None:
        out |= hm.orders_metrics(orders, expected, task)
    return out


def select(task: str, model_metrics: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The published model and why: the head only when it beats every baseline on ROC AUC.

    ``model_metrics`` are the validation split's figures: choosing on the test split would make the
    published model's test metrics a best-of-three, optimistic by construction.
    """
    key = f"{task}_roc_auc"

    def auc(name: str) -> float:
        value = model_metrics[name].get(key)
        return -np.inf if value is None or not np.isfinite(value) else float(value)

    best = max(BASELINES, key=auc)
    head, base = auc(HEAD_MODEL), auc(best)
    if head > base:
        return (
            HEAD_MODEL,
            f"the fine-tuned head beats the best baseline {best} on validation {key} "
            f"({head:.4f} > {base:.4f})",
        )
    return best, (
        f"the fine-tuned head does not beat the best baseline {best} on validation {key} "
        f"({head:.4f} <= {base:.4f}); publishing {best} instead"
    )


def train_candidates(
    task: str,
    backbone: Backbone,
    examples: pd.DataFrame,
    inputs: dict[str, np.ndarray],
    y: np.ndarray,
    orders: np.ndarray | None,
    split: np.ndarray,
    config: HeadConfig,
) -> Trained:
    """Fit the head and both baselines on TRAIN, calibrate on VALID, score TEST, select."""
    idx = {code: np.flatnonzero(split == code) for code in (TRAIN, VALID, TEST)}
    tf.keras.utils.set_random_seed(config.seed)
    seconds: dict[str, float] = {}
    mean, std = profile_scaling(inputs[PROFILE][idx[TRAIN]])
    head = CustomerHead(backbone.query_tower, mean, std, config, counts=task == REPURCHASE)

    def labels(code: int) -> Labels:
        return Labels(y[idx[code]], None if orders is None else orders[idx[code]])

    fit = fit_head(
        head, take(inputs, idx[TRAIN]), labels(TRAIN), take(inputs, idx[VALID]), labels(VALID), config
    )
    raw_valid = predict_head(head, take(inputs, idx[VALID]))
    platt = Platt.fit(raw_valid[LOGIT], y[idx[VALID]], config.calibration)
    raw_test = predict_head(head, take(inputs, idx[TEST]))
    seconds[HEAD_MODEL] = fit.seconds
    scores = {
        HEAD_MODEL: (
            platt(raw_test[LOGIT]),
            expected_orders(raw_test[LOG_RATE]) if LOG_RATE in raw_test else None,
        )
    }
    frames = {code: examples.iloc[idx[code]].reset_index(drop=True) for code in idx}
    fitted = {}
    for name in BASELINES:
        started = time.perf_counter()
        fitted[name] = fit_baseline(
            name,
            task,
            frames[TRAIN],
            y[idx[TRAIN]],
            frames[VALID],
            y[idx[VALID]],
            config,
            None if orders is None else orders[idx[TRAIN]],
        )
        seconds[name] = round(time.perf_counter() - started, 3)
        scores[name] = (fitted[name].predict(frames[TEST]), fitted[name].predict_orders(frames[TEST]))
    y_test = y[idx[TEST]]
    orders_test = None if orders is None else orders[idx[TEST]]
    model_metrics = {
        name: evaluate(task, y_test, p, orders_test, o, config) for name, (p, o) in scores.items()
    }
    y_valid, key = y[idx[VALID]], f"valid_{task}_roc_auc"
    valid = {HEAD_MODEL: hm.roc_auc(y_valid, raw_valid[LOGIT])}
    valid |= {name: hm.roc_auc(y_valid, fitted[name].predict(frames[VALID])) for name in BASELINES}
    selected, reason = select(task, {name: {f"{task}_roc_auc": v} for name, v in valid.items()})
    log.info("%s: %s", task, reason)
    metrics = dict(model_metrics[selected]) | {key: valid[selected]}
    for name in BASELINES:
        metrics |= {f"{name}_{k}": v for k, v in model_metrics[name].items()} | {f"{name}_{key}": valid[name]}
    metrics |= {f"{FINETUNED_PREFIX}{k}": v for k, v in model_metrics[HEAD_MODEL].items()}
    metrics[f"{FINETUNED_PREFIX}{key}"] = valid[HEAD_MODEL]
    metrics |= {
        "selected": selected,
        "finetuned_beats_baselines": selected == HEAD_MODEL,
        "selection": reason,
        "test_customers": len(y_test),
        "test_positive_rate": float(y_test.mean()),
    }
    return Trained(
        task,
        head,
        platt,
        fitted,
        fit,
        seconds,
        scores,
        y_test,
        orders_test,
        model_metrics,
        selected,
        hm.clean(metrics),
    )
