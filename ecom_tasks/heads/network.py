"""Training and inference of the fine-tuned head (the model itself: :mod:`ecom_tasks.heads.model`).

Training runs in two phases (:class:`~ecom_tasks.heads.config.HeadConfig`):

1. ``frozen``: the towers are frozen (``trainable = False``); only the MLP learns. The tower is
   then a fixed function, so its query vectors are computed once and the MLP trains on them.
2. ``tuned``: the towers are unfrozen and everything trains at a lower learning rate.

Each phase stops early on the validation loss and keeps its best weights. The repurchase head has
a second output, the log of the expected number of orders (Poisson loss).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from ecom_tasks.heads.config import HeadConfig
from ecom_tasks.heads.model import (
    LOG_RATE,
    LOGIT,
    MEMBER_LOG_RATES,
    MEMBER_LOGITS,
    PROFILE,
    TOWER_INPUTS,
    CustomerHead,
)
from ecom_tasks.retrieval.config import SERVING_USER_ID

log = logging.getLogger(__name__)


@dataclass
class Labels:
    """Targets of one split: the binary label and, for repurchase, the order count."""

    y: np.ndarray
    orders: np.ndarray | None = None

    def take(self, idx: np.ndarray) -> dict[str, tf.Tensor]:
        out = {"y": tf.constant(self.y[idx], tf.float32)}
        if self.orders is not None:
            out["orders"] = tf.constant(self.orders[idx], tf.float32)
        return out


@dataclass
class FitReport:
    """What training did, per phase (for history.json)."""

    phases: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _loss(
    out: dict[str, tf.Tensor], target: dict[str, tf.Tensor], orders_weight: float, *, members: bool
) -> tf.Tensor:
    """Cross-entropy (+ weighted Poisson loss): of each member's outputs in training (``members``,
    averaged), of the served mean outputs for early stopping; the same with one member."""
    logit, rate = (MEMBER_LOGITS, MEMBER_LOG_RATES) if members else (LOGIT, LOG_RATE)

    def like(values: tf.Tensor, outputs: tf.Tensor) -> tf.Tensor:  # [b] -> [b, members] in training
        return tf.broadcast_to(values[:, None], tf.shape(outputs)) if members else values

    y = like(target["y"], out[logit])
    loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=out[logit]))
    if rate in out and "orders" in target:
        orders = like(target["orders"], out[rate])
        poisson = tf.nn.log_poisson_loss(orders, out[rate], compute_full_loss=False)
        loss += orders_weight * tf.reduce_mean(poisson)
    return loss


def take(inputs: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    """The rows ``idx`` of every input array (a split, or a batch)."""
    return {k: v[idx] for k, v in inputs.items()}


def _tensors(inputs: dict[str, np.ndarray]) -> dict[str, tf.Tensor]:
    # The step is a tf.function: like Labels.take, this hands it tensors, traced by shape and dtype.
    return {k: tf.constant(v) for k, v in inputs.items()}


def _run_phase(
    model: CustomerHead,
    name: str,
    epochs: int,
    rate: float,
    data: dict,
    config: HeadConfig,
    rng: np.random.Generator,
) -> dict:
    """One phase with early stopping on the validation loss; the best weights are restored."""
    frozen = name == "frozen"
    model.tower.trainable = not frozen
    optimizer = tf.keras.optimizers.Adam(rate)
    train_x, train_t, valid_x, valid_t = data["train_x"], data["train_t"], data["valid_x"], data["valid_t"]

    def apply(x: dict, training: bool) -> dict:
        if frozen:
            return model.head(x["query"], x[PROFILE], training=training)
        return model(x, training=training)

    variables = model.trainable_variables
    optimizer.build(variables)  # slots created outside the step, so it is traced once

    # No autograph (the step has no data-dependent Python control flow) and one batch shape
    # (the last partial batch is dropped, the order reshuffles every epoch): tracing the tower's
    # graph costs seconds, so it must happen once per phase.
    @tf.function(autograph=False)
    def step(x: dict, t: dict) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = _loss(apply(x, True), t, config.orders_loss_weight, members=True) + model.penalty()
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    def valid_loss() -> float:
        total, n = 0.0, len(valid_t.y)
        for s in range(0, n, 2048):
            idx = np.arange(s, min(n, s + 2048))
            total += float(
                _loss(
                    apply(_tensors(take(valid_x, idx)), False),
                    valid_t.take(idx),
                    config.orders_loss_weight,
                    members=False,
                )
            ) * len(idx)
        return total / max(n, 1)

    best, best_weights, waited, record = valid_loss(), model.get_weights(), 0, []
    n = len(train_t.y)
    size = min(config.batch_size, n)
    for epoch in range(epochs):
        order = rng.permutation(n)
        losses = [
            float(step(_tensors(take(train_x, order[s : s + size])), train_t.take(order[s : s + size])))
            for s in range(0, n - size + 1, size)
        ]
        current = valid_loss()
        record.append(
            {"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 5), "val_loss": round(current, 5)}
        )
        if current < best - 1e-5:
            best, best_weights, waited = current, model.get_weights(), 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.set_weights(best_weights)
    model.tower.trainable = True
    log.info("head phase %s: %d epochs, best validation loss %.4f", name, len(record), best)
    return {
        "phase": name,
        "learning_rate": rate,
        "epochs": record,
        "best_val_loss": round(best, 5),
        "trainable_variables": len(variables),
    }


def fit_head(
    model: CustomerHead,
    train_x: dict[str, np.ndarray],
    train_t: Labels,
    valid_x: dict[str, np.ndarray],
    valid_t: Labels,
    config: HeadConfig,
) -> FitReport:
    """Train ``model`` in the frozen, then the tuned phase (see the module docstring).

    Args:
        train_x / valid_x: tower inputs (``user_id``, ``history``, ``user_features``) and ``profile``.
    """
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    report = FitReport()
    predict_head(model, {k: v[:1] for k, v in train_x.items()})  # creates the MLP's variables
    query = {
        "train": tower_vectors(model.tower, train_x),
        "valid": tower_vectors(model.tower, valid_x),
    }
    frozen = {
        "train_x": {"query": query["train"], PROFILE: train_x[PROFILE]},
        "valid_x": {"query": query["valid"], PROFILE: valid_x[PROFILE]},
        "train_t": train_t,
        "valid_t": valid_t,
    }
    if config.frozen_epochs:
        report.phases.append(
            _run_phase(
                model, "frozen", config.frozen_epochs, config.frozen_learning_rate, frozen, config, rng
            )
        )
    if config.tuned_epochs:
        tuned = {"train_x": train_x, "valid_x": valid_x, "train_t": train_t, "valid_t": valid_t}
        report.phases.append(
            _run_phase(model, "tuned", config.tuned_epochs, config.tuned_learning_rate, tuned, config, rng)
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def tower_vectors(tower: tf.keras.Model, inputs: dict[str, np.ndarray], batch: int = 4096) -> np.ndarray:
    """Query vectors (inference mode) of tower inputs, in batches."""
    n = len(inputs[SERVING_USER_ID])
    parts = [
        tower({k: tf.constant(inputs[k][s : s + batch]) for k in TOWER_INPUTS}, training=False).numpy()
        for s in range(0, n, batch)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def predict_head(
    model: CustomerHead, inputs: dict[str, np.ndarray], batch: int = 4096
) -> dict[str, np.ndarray]:
    """Raw outputs (logit, log rate) of every row, in inference mode."""
    n = len(inputs[PROFILE])
    outs: dict[str, list[np.ndarray]] = {}
    for s in range(0, n, batch):
        part = model({k: tf.constant(v[s : s + batch]) for k, v in inputs.items()}, training=False)
        for k, v in part.items():
            outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}
