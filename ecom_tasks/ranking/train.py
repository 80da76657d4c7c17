"""Fitting the ranking head: towers frozen first, then unfrozen at a lower rate; best epoch kept.

Loss: binary cross-entropy of every real candidate (padding masked). While the towers are
frozen only the MLP's variables get gradients and the query vectors are computed once, before
the phase; once unfrozen every variable learns at the schedule's lower rate. After every epoch
the head re-ranks the validation users' lists; the weights of the epoch with the best validation
NDCG@10 (across both phases, "epoch 0" being the untrained head) are restored at the end.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from ecom_tasks.ranking.config import METRIC_K, RankingConfig
from ecom_tasks.ranking.data import Lists
from ecom_tasks.ranking.metrics import list_metrics, order_by_scores
from ecom_tasks.ranking.model import RankingHead

log = logging.getLogger(__name__)
QUERY = "query"  # the dataset's precomputed query vectors (used while the towers are frozen)


@dataclass
class FitResult:
    """Per-epoch history, the best epoch and its validation NDCG@10, and the training time."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_value: float = float("nan")
    train_seconds: float = 0.0


def masked_log_loss(labels: tf.Tensor, mask: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Mean binary cross-entropy over the real candidates (``mask`` 1)."""
    losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    return tf.reduce_sum(losses * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)


def predict(head: RankingHead, lists: Lists, batch: int = 256) -> np.ndarray:
    """``[u, c]`` purchase probabilities of every candidate (padding gets 0)."""
    if not len(lists):
        return np.zeros(lists.labels.shape, np.float32)
    out = []
    for s in range(0, len(lists), batch):
        part = {k: tf.constant(v[s : s + batch]) for k, v in lists.inputs.items()}
        out.append(tf.sigmoid(head(part, training=False)).numpy())
    return np.concatenate(out) * lists.mask


def validation_ndcg(head: RankingHead, lists: Lists) -> float:
    """NDCG@10 of the head's order of ``lists`` (NaN without lists)."""
    if not len(lists):
        return float("nan")
    ranked = order_by_scores(lists.item_ids, predict(head, lists))
    return list_metrics(ranked, lists.targets, METRIC_K)[f"ndcg_at_{METRIC_K}"]


def split_validation(lists: Lists, fraction: float, seed: int) -> tuple[Lists, Lists]:
    """Hold out ``fraction`` of the users who bought something (a seeded draw) for validation."""
    rng = np.random.default_rng(seed)
    buyers = np.flatnonzero([len(t) > 0 for t in lists.targets])
    n_val = round(len(buyers) * fraction)
    if fraction <= 0 or n_val < 1 or n_val >= len(lists):
        return lists, lists.subset(np.zeros(0, int))
    val = np.sort(rng.choice(buyers, n_val, replace=False))
    train = np.setdiff1d(np.arange(len(lists)), val)
    return lists.subset(train), lists.subset(val)


def tower_variables(head: RankingHead) -> list[tf.Variable]:
    """The pretrained towers' trainable variables (each once)."""
    seen: dict[int, tf.Variable] = {}
    for tower in (head.query_tower, head.item_tower):
        for v in tower.trainable_variables:
            seen.setdefault(id(v), v)
    return list(seen.values())


def _step(head: RankingHead, variables: list[tf.Variable], rate: float, frozen: bool, spec: tuple):
    optimizer = tf.keras.optimizers.Adam(rate)

    # One trace per phase: the dataset's spec leaves batch and list widths open.
    @tf.function(input_signature=list(spec))
    def step(inputs: dict[str, tf.Tensor], labels: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        query = inputs[QUERY] if frozen else None
        features = {k: v for k, v in inputs.items() if k != QUERY}
        with tf.GradientTape() as tape:
            loss = masked_log_loss(labels, mask, head(features, training=True, query=query))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        return loss

    return step


def _dataset(lists: Lists, query: np.ndarray, batch: int, seed: int) -> tf.data.Dataset:
    inputs = dict(lists.inputs)
    inputs[QUERY] = query
    ds = tf.data.Dataset.from_tensor_slices((inputs, lists.labels, lists.mask))
    return ds.shuffle(len(lists), seed=seed, reshuffle_each_iteration=True).batch(batch)


def fit(head: RankingHead, train: Lists, validation: Lists, config: RankingConfig) -> FitResult:
    """Train ``head`` with ``config.schedule`` and restore the best validation epoch.

    Each history entry records ``tower_change``: the L2 distance of the towers' weights from the
    pretrained ones (0 while they are frozen).
    """
    result = FitResult()
    towers = tower_variables(head)
    pretrained = [v.numpy() for v in towers]

    def tower_change() -> float:
        return float(
            np.sqrt(sum(np.sum((v.numpy() - p) ** 2) for v, p in zip(towers, pretrained, strict=True)))
        )

    value = validation_ndcg(head, validation)
    result.history.append({"epoch": 0, "phase": "untrained", "val_ndcg_at_10": value, "tower_change": 0.0})
    variables = list(head.weights)
    best_weights, result.best_value = [v.numpy() for v in variables], value
    epoch = 0
    for towers_trainable, epochs, rate in config.schedule.phases:
        head.set_towers_trainable(towers_trainable)
        frozen = not towers_trainable
        started = time.perf_counter()
        query = head.query_vectors(train.inputs) if frozen else np.zeros((len(train), 1), np.float32)
        dataset = _dataset(train, query, config.batch_users, config.seed + epoch)
        variables_now = head.head_variables if frozen else head.trainable_variables
        step = _step(head, variables_now, rate, frozen, dataset.element_spec)
        phase = "unfrozen" if towers_trainable else "frozen"
        for _ in range(epochs):
            epoch += 1
            losses = [float(step(x, y, m)) for x, y, m in dataset]
            seconds = time.perf_counter() - started
            result.train_seconds += seconds
            value = validation_ndcg(head, validation)
            entry = {"epoch": epoch, "phase": phase, "learning_rate": rate, "seconds": round(seconds, 3)}
            entry |= {"loss": float(np.mean(losses)), "val_ndcg_at_10": value, "tower_change": tower_change()}
            result.history.append(entry)
            log.info("ranking epoch %d (%s): loss %.4f, val NDCG@10 %.4f", epoch, phase, entry["loss"], value)
            if np.isnan(result.best_value) or value > result.best_value or not len(validation):
                result.best_value, result.best_epoch = value, epoch
                best_weights = [v.numpy() for v in variables]
            started = time.perf_counter()
    head.set_towers_trainable(True)
    for var, saved in zip(variables, best_weights, strict=True):
        var.assign(saved)
    return result
