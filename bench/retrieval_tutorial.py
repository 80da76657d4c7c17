"""The reference point for training speed: the TFRS basic retrieval tutorial's configuration.

User-id and item-id embeddings only, in-batch softmax (``tfrs.tasks.Retrieval``), Adagrad at 0.1,
batch 8192, a ``tf.data`` pipeline without caching. It runs without the tutorial's
``FactorizedTopK`` training metrics (those would make it ~14x slower, which would flatter the
comparison); recall is measured the same full-ranking way as for the real model.

The retrieval benchmarks (bench_retrieval_*.py) import it; the nightly run never does, so it lives
here and not in the ecom_tasks package.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_recommenders as tfrs

from ecom_tasks.contract import ITEM_ID, USER_ID


class TutorialModel(tfrs.Model):
    """Two id-embedding towers and the default retrieval task."""

    def __init__(self, user_ids: list[str], item_ids: list[str], dim: int = 64) -> None:
        super().__init__()
        self.user_model = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=user_ids, mask_token=None),
                tf.keras.layers.Embedding(len(user_ids) + 1, dim),
            ]
        )
        self.item_model = tf.keras.Sequential(
            [
                tf.keras.layers.StringLookup(vocabulary=item_ids, mask_token=None),
                tf.keras.layers.Embedding(len(item_ids) + 1, dim),
            ]
        )
        self.task = tfrs.tasks.Retrieval()

    def compute_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        users = self.user_model(features[USER_ID])
        items = self.item_model(features[ITEM_ID])
        return self.task(users, items, compute_metrics=False)


@dataclass
class TutorialRun:
    """A trained tutorial model and its per-epoch throughput."""

    model: TutorialModel
    examples_per_second: list[float] = field(default_factory=list)

    @property
    def median_examples_per_second(self) -> float:
        rates = (
            self.examples_per_second[1:] if len(self.examples_per_second) > 1 else self.examples_per_second
        )
        return float(np.median(rates)) if rates else float("nan")


class _Timer(tf.keras.callbacks.Callback):
    def __init__(self, examples: int, rates: list[float]) -> None:
        super().__init__()
        self.examples, self.rates = examples, rates

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.rates.append(self.examples / max(time.perf_counter() - self.started, 1e-9))


def fit_tutorial(
    interactions: pd.DataFrame,
    item_ids: list[str],
    *,
    epochs: int = 3,
    batch_size: int = 8192,
    learning_rate: float = 0.1,
    dim: int = 64,
    seed: int = 42,
) -> TutorialRun:
    """Train the tutorial configuration on ``interactions`` (``user_id, item_id`` rows)."""
    tf.keras.utils.set_random_seed(seed)
    users = interactions[USER_ID].astype(str).to_numpy()
    model = TutorialModel(sorted(set(users)), list(item_ids), dim)
    model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=learning_rate))
    run = TutorialRun(model)
    ds = tutorial_dataset(interactions, batch_size, seed)
    model.fit(ds, epochs=epochs, callbacks=[_Timer(len(users), run.examples_per_second)], verbose=0)
    return run


def tutorial_dataset(interactions: pd.DataFrame, batch_size: int = 8192, seed: int = 42) -> tf.data.Dataset:
    """The tutorial's pipeline: (user, item) string pairs, shuffled, batched, not cached."""
    users = interactions[USER_ID].astype(str).to_numpy()
    items = interactions[ITEM_ID].astype(str).to_numpy()
    ds = tf.data.Dataset.from_tensor_slices({USER_ID: users, ITEM_ID: items})
    return ds.shuffle(100_000, seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def interleaved_throughput(
    model: tf.keras.Model,
    dataset: tf.data.Dataset,
    examples: int,
    tutorial_model: TutorialModel,
    tutorial_data: tf.data.Dataset,
    tutorial_examples: int,
    rounds: int = 3,
) -> dict[str, float]:
    """Median examples/s of one more epoch of each model, alternating ``rounds`` times.

    On a shared machine the load drifts over minutes; alternating epochs exposes both models to
    the same conditions, so the ratio means something. Both models keep training (use after
    evaluating them).
    """
    rates: dict[str, list[float]] = {"model": [], "tutorial": []}
    for _ in range(rounds):
        for name, m, ds, n in (
            ("model", model, dataset, examples),
            ("tutorial", tutorial_model, tutorial_data, tutorial_examples),
        ):
            started = time.perf_counter()
            m.fit(ds, epochs=1, verbose=0)
            rates[name].append(n / (time.perf_counter() - started))
    model_rate, tutorial_rate = float(np.median(rates["model"])), float(np.median(rates["tutorial"]))
    return {
        "model_examples_per_second": round(model_rate, 1),
        "tutorial_examples_per_second": round(tutorial_rate, 1),
        "ratio": round(model_rate / tutorial_rate, 2),
        "rounds": rounds,
    }


def tutorial_embeddings(
    model: TutorialModel, user_ids: list[str], item_ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Query embeddings of ``user_ids`` and candidate embeddings of ``item_ids`` (column order)."""
    return (
        model.user_model(tf.constant(np.asarray(user_ids, dtype=str))).numpy(),
        model.item_model(tf.constant(np.asarray(item_ids, dtype=str))).numpy(),
    )
