"""The fine-tuned head's Keras model: pretrained query tower + profile features -> MLP members.

Shape (:class:`~ecom_tasks.heads.config.HeadConfig`): the query vector joins the signed-log
standardised profile features; ``members`` MLPs (:class:`Member`) each turn them into a logit, a
linear ``wide`` path from the profile features is added to each, and the head outputs the members'
mean. Training (:mod:`ecom_tasks.heads.network`) fits each member on its own loss: a seed ensemble,
since with ~1k training customers one early-stopped MLP's fit varies with its initialisation and
batch order, and the average of a few varies less.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ecom_tasks.heads.config import HeadConfig
from ecom_tasks.retrieval.config import SERVING_FEATURES, SERVING_HISTORY, SERVING_USER_ID

PROFILE = "profile"  # the head's own input: raw stable profile features [b, f]
LOGIT, LOG_RATE = "logit", "log_rate"
# Per-member outputs [b, members], for training only (the exported head serves their means).
MEMBER_LOGITS, MEMBER_LOG_RATES = "member_logits", "member_log_rates"
TOWER_INPUTS = (SERVING_USER_ID, SERVING_HISTORY, SERVING_FEATURES)
# Largest log of the expected order count: exp(10) is ~22,000 orders in one horizon, beyond any
# customer, while a customer far outside the training range could drive exp() to overflow.
MAX_LOG_RATE = 10.0


class Member(tf.keras.layers.Layer):
    """Hidden ReLU layers with dropout, then a logit (and, with ``counts``, a log-rate) unit."""

    def __init__(self, config: HeadConfig, index: int, *, counts: bool) -> None:
        super().__init__(name=f"member_{index}")
        seed = config.seed + 1000 * index  # member 0 starts where a single-MLP head always did

        def glorot(offset: int) -> tf.keras.initializers.Initializer:
            return tf.keras.initializers.GlorotUniform(seed=seed + offset)

        self.hidden = [
            tf.keras.layers.Dense(units, activation="relu", kernel_initializer=glorot(i), name=f"hidden_{i}")
            for i, units in enumerate(config.hidden_units)
        ]
        self.dropout = tf.keras.layers.Dropout(config.dropout, seed=seed)
        self.logit_layer = tf.keras.layers.Dense(1, kernel_initializer=glorot(100), name="logit")
        self.rate_layer = (
            tf.keras.layers.Dense(1, kernel_initializer=glorot(100), name="log_rate") if counts else None
        )

    def call(self, x: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``[b, d]`` inputs -> logits ``[b]`` and log rates ``[b]`` (None without counts)."""
        for layer in self.hidden:
            x = self.dropout(layer(x), training=training)
        rate = self.rate_layer(x)[:, 0] if self.rate_layer is not None else None
        return self.logit_layer(x)[:, 0], rate

    def kernels(self) -> list[tf.Variable]:
        """The weight matrices (for the L2 penalty; biases are not penalised)."""
        layers = [*self.hidden, self.logit_layer, self.rate_layer]
        return [layer.kernel for layer in layers if layer is not None and layer.built]


class CustomerHead(tf.keras.Model):
    """Query tower (shared with the backbone) and an MLP over [query vector, profile features]."""

    def __init__(
        self, tower: tf.keras.Model, mean: np.ndarray, std: np.ndarray, config: HeadConfig, *, counts: bool
    ) -> None:
        super().__init__(name="customer_head")
        self.tower = tower
        self.profile_mean = tf.constant(mean, tf.float32)
        self.profile_std = tf.constant(std, tf.float32)
        self.members = [Member(config, i, counts=counts) for i in range(config.members)]
        self.counts = counts
        # Wide path: the scaled profile features straight to each output (wide & deep), so the
        # head contains the linear model that does well on these features.
        zeros = tf.keras.initializers.Zeros()
        self.wide_logit = (
            tf.keras.layers.Dense(1, kernel_initializer=zeros, use_bias=False, name="wide_logit")
            if config.wide
            else None
        )
        self.wide_rate = (
            tf.keras.layers.Dense(1, kernel_initializer=zeros, use_bias=False, name="wide_rate")
            if config.wide and counts
            else None
        )
        self.l2 = config.l2

    def scale(self, profile: tf.Tensor) -> tf.Tensor:
        """Signed log, then standardise with the training split's statistics."""
        x = tf.cast(profile, tf.float32)
        x = tf.sign(x) * tf.math.log1p(tf.abs(x))
        return (x - self.profile_mean) / self.profile_std

    def head(self, query: tf.Tensor, profile: tf.Tensor, training: bool = False) -> dict[str, tf.Tensor]:
        """The MLP part: query vectors ``[b, d]`` and raw profile features ``[b, f]``."""
        scaled = self.scale(profile)
        x = tf.concat([tf.cast(query, tf.float32), scaled], axis=1)
        logits, rates = zip(*(member(x, training=training) for member in self.members), strict=True)
        # Training fits each member on its own (a loss per member); the output is their mean.
        out = {MEMBER_LOGITS: tf.stack(logits, axis=1)}
        if self.wide_logit is not None:
            out[MEMBER_LOGITS] += self.wide_logit(scaled)
        out[LOGIT] = tf.reduce_mean(out[MEMBER_LOGITS], axis=1)
        if self.counts:
            out[MEMBER_LOG_RATES] = tf.stack(rates, axis=1)
            if self.wide_rate is not None:
                out[MEMBER_LOG_RATES] += self.wide_rate(scaled)
            out[LOG_RATE] = tf.reduce_mean(out[MEMBER_LOG_RATES], axis=1)
        return out

    def penalty(self) -> tf.Tensor:
        """L2 on the head's kernels (not the tower's, not biases): ``l2 * sum(w**2)``."""
        layers = [self.wide_logit, self.wide_rate]
        kernels = [layer.kernel for layer in layers if layer is not None and layer.built]
        kernels += [k for member in self.members for k in member.kernels()]
        if not self.l2 or not kernels:
            return tf.constant(0.0)
        return self.l2 * tf.add_n([tf.reduce_sum(tf.square(k)) for k in kernels])

    def call(self, inputs: dict[str, tf.Tensor], training: bool = False) -> dict[str, tf.Tensor]:
        query = self.tower({k: inputs[k] for k in TOWER_INPUTS}, training=training)
        return self.head(query, inputs[PROFILE], training=training)


def expected_orders(log_rate: np.ndarray) -> np.ndarray:
    """Expected order counts from the head's log rates, clipped at ``MAX_LOG_RATE`` (no overflow)."""
    return np.exp(np.minimum(np.asarray(log_rate, dtype=np.float64), MAX_LOG_RATE))


def profile_scaling(profile_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where constant) of the signed-log training features."""
    x = np.sign(profile_train) * np.log1p(np.abs(profile_train))
    std = x.std(axis=0)
    return x.mean(axis=0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)
