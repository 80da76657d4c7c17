"""The published artifacts of a head stage, and scoring any of them (the champion's too).

A model folder ``{root}/models/<task>/ds=D/`` holds exactly one artifact, the selected model:

- ``saved_model/``: the fine-tuned head with the query tower and Platt calibration inside; one
  signature ``serving_default(user_id [b] str, history [b, n] str, user_features [b, t] float32,
  profile [b, f] float32)`` returning ``churn_risk`` (or ``repurchase_propensity`` and
  ``expected_orders``). ``head.json`` names the feature columns in order. The publish stage serves
  it with flavor ``tensorflow`` (``auto`` detects it).
- ``model.pkl``: a :class:`~ecom_tasks.heads.baselines.TabularModel` (flavor ``pickle``): its
  ``predict`` takes a frame of the profile columns in ``feature_names_in_``.

Both are scored on the same inputs by :func:`score_artifact`, which the champion scoring uses.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from ecom_tasks import remote, savedmodel, storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.heads.baselines import Platt, TabularModel
from ecom_tasks.heads.config import CHURN, HEAD_SPEC_FILE, PICKLE_FILE, SAVED_MODEL_DIR, SMOKE_INPUT_FILE
from ecom_tasks.heads.model import LOG_RATE, LOGIT, MAX_LOG_RATE, PROFILE, CustomerHead
from ecom_tasks.publish.tables import CHURN_RISK, EXPECTED_ORDERS, REPURCHASE_PROPENSITY
from ecom_tasks.retrieval.config import OOV, SERVING_FEATURES, SERVING_HISTORY, SERVING_USER_ID


def probability_name(task: str) -> str:
    """The output (and table column) holding a task's probability."""
    return CHURN_RISK if task == CHURN else REPURCHASE_PROPENSITY


class HeadModule(tf.Module):
    """The exported head: raw inputs -> calibrated probability (and expected orders)."""

    def __init__(self, head: CustomerHead, platt: Platt, task: str, n_tower: int, n_profile: int) -> None:
        super().__init__()
        self.head = head
        self.a, self.b = tf.constant(platt.a, tf.float32), tf.constant(platt.b, tf.float32)
        self.output_name = probability_name(task)
        self.serve = tf.function(
            self._serve,
            input_signature=[
                tf.TensorSpec([None], tf.string),
                tf.TensorSpec([None, None], tf.string),
                tf.TensorSpec([None, n_tower], tf.float32),
                tf.TensorSpec([None, n_profile], tf.float32),
            ],
        )

    def _serve(
        self, user_id: tf.Tensor, history: tf.Tensor, user_features: tf.Tensor, profile: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        inputs = {SERVING_USER_ID: user_id, SERVING_HISTORY: history, SERVING_FEATURES: user_features}
        out = self.head({**inputs, PROFILE: profile}, training=False)
        result = {self.output_name: tf.sigmoid(self.a * out[LOGIT] + self.b)}
        if LOG_RATE in out:
            result[EXPECTED_ORDERS] = tf.exp(tf.minimum(out[LOG_RATE], MAX_LOG_RATE))
        return result


def export_head(head: CustomerHead, platt: Platt, task: str, folder: str, spec: dict[str, Any]) -> str:
    """Save the head as ``folder/saved_model`` (removing a stale ``model.pkl``) plus ``head.json``."""
    module = HeadModule(head, platt, task, len(spec["tower_feature_names"]), len(spec["profile_features"]))
    savedmodel.save(module, f"{folder}/{SAVED_MODEL_DIR}", {"serving_default": module.serve})
    storage.write_json(spec, f"{folder}/{HEAD_SPEC_FILE}")
    remote.remove_uri(f"{folder}/{PICKLE_FILE}")
    smoke = {
        SERVING_USER_ID: [OOV],
        SERVING_HISTORY: [[""]],
        SERVING_FEATURES: [[0.0] * len(spec["tower_feature_names"])],
        PROFILE: [[0.0] * len(spec["profile_features"])],
    }
    storage.write_json(smoke, f"{folder}/{SMOKE_INPUT_FILE}")
    return f"{folder}/{SAVED_MODEL_DIR}"


def export_baseline(model: TabularModel, folder: str) -> str:
    """Pickle a baseline as ``folder/model.pkl`` (removing a stale ``saved_model/`` and ``head.json``)."""
    remote.write_uri(f"{folder}/{PICKLE_FILE}", pickle.dumps(model))  # atomic, on any root
    for stale in (SAVED_MODEL_DIR, HEAD_SPEC_FILE):
        remote.remove_uri(f"{folder}/{stale}")
    names = list(model.feature_names_in_)
    storage.write_json([dict.fromkeys(names, 0.0)], f"{folder}/{SMOKE_INPUT_FILE}")
    return f"{folder}/{PICKLE_FILE}"


def _tower_features(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    out = np.full((len(frame), len(names)), np.nan, dtype=np.float32)
    for j, name in enumerate(names):
        if name in frame.columns:
            out[:, j] = frame[name].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(out), out, np.nan).astype(np.float32)


def _profile(frame: pd.DataFrame, names: list[str]) -> np.ndarray:
    # An older champion may name a profile feature this code does not compute: it reads as 0.
    cols = [
        frame[c].astype("float64").to_numpy(na_value=0.0) if c in frame else np.zeros(len(frame))
        for c in names
    ]
    return np.nan_to_num(np.column_stack(cols) if cols else np.zeros((len(frame), 0))).astype(np.float32)


def score_artifact(
    folder: str, task: str, frame: pd.DataFrame, history: np.ndarray, batch: int = 4096
) -> tuple[np.ndarray, np.ndarray | None]:
    """Score customers with the artifact in ``folder`` (a head's or a baseline's).

    Args:
        frame: profiles with ``user_id`` and the feature columns (as of the scoring time).
        history: ``[n, m]`` item ids before the scoring time, oldest first, "" padded.

    Returns:
        The calibrated probabilities and the expected orders (None when the model has none).
    """
    if os.path.isdir(f"{folder}/{SAVED_MODEL_DIR}"):
        spec = storage.read_json(f"{folder}/{HEAD_SPEC_FILE}")
        serve = tf.saved_model.load(f"{folder}/{SAVED_MODEL_DIR}").signatures["serving_default"]
        users = frame[USER_ID].astype(str).to_numpy() if spec.get("use_user_id") else np.full(len(frame), OOV)
        feats = _tower_features(frame, list(spec["tower_feature_names"]))
        profile = _profile(frame, list(spec["profile_features"]))
        probs, orders = [], []
        for s in range(0, len(frame), batch):
            out = serve(
                user_id=tf.constant(users[s : s + batch].astype(str)),
                history=tf.constant(np.asarray(history[s : s + batch]).astype(str)),
                user_features=tf.constant(feats[s : s + batch]),
                profile=tf.constant(profile[s : s + batch]),
            )
            probs.append(out[probability_name(task)].numpy())
            if EXPECTED_ORDERS in out:
                orders.append(out[EXPECTED_ORDERS].numpy())
        p = np.concatenate(probs) if probs else np.zeros(0)
        return p.astype(np.float64), (np.concatenate(orders).astype(np.float64) if orders else None)
    if os.path.exists(f"{folder}/{PICKLE_FILE}"):
        with open(f"{folder}/{PICKLE_FILE}", "rb") as fh:
            model = pickle.load(fh)
        return np.asarray(model.predict(frame), dtype=np.float64), model.predict_orders(frame)
    raise ConfigError(f"champion_uri: {folder} holds neither {SAVED_MODEL_DIR}/ nor {PICKLE_FILE}")
