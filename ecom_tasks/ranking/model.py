"""The ranking head: the pretrained towers, a few list features and a small MLP -> P(buy).

For a user and each candidate item the head reads the query vector ``u`` (the pretrained query
tower on the user's id, history and profile), the item vector ``v`` (the pretrained item tower),
their product ``u * v`` and cosine ``u . v``, and features of the pair that the retrieval score
does not see: the candidate's retrieval rank, how often and how recently the item appears in the
user's history (repeat purchases), the item's price and a few profile columns. An MLP maps them to
a correction of a retrieval-order prior: ``logit = bias - scale * rank_feature + MLP(x)``. The MLP's
output layer starts at zero and ``bias`` at the training lists' purchase rate, so the untrained head
ranks exactly as the retrieval model does and training moves away from that order only where the
labels say so (on a small shop a freshly initialised MLP ranked far below the retrieval order and
never found the rank feature in a few dozen steps). The probability is the logit's sigmoid. The
query tower runs once per user, not per candidate.

Everything is computed from the serving inputs inside the model (``data.Lists.inputs``), so the
exported SavedModel applies exactly the trained function.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ecom_tasks.ranking.config import (
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_ITEM_IDS,
    SERVING_RETRIEVAL_RANK,
    SERVING_USER_ID,
    RankingConfig,
)
from ecom_tasks.retrieval.backbone import Backbone

QUERY_KEYS = (SERVING_USER_ID, SERVING_HISTORY, SERVING_FEATURES)
PAD_ID = ""
PRIOR_SCALE = 1.0  # starting weight of the retrieval-rank prior (logit span from rank 1 to not proposed)


def signed_log1p(x: np.ndarray | tf.Tensor):
    """``sign(x) * log(1 + |x|)``: tames heavy-tailed money and count columns."""
    if isinstance(x, np.ndarray):
        return np.sign(x) * np.log1p(np.abs(x))
    return tf.sign(x) * tf.math.log1p(tf.abs(x))


def profile_scaling(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (1 where constant) of :func:`signed_log1p` of profile columns."""
    if not features.size:
        return np.zeros(features.shape[1], np.float32), np.ones(features.shape[1], np.float32)
    logged = signed_log1p(features.astype(np.float64))
    known = np.isfinite(logged)
    n = known.sum(axis=0)
    values = np.where(known, logged, 0.0)
    mean = np.divide(values.sum(axis=0), n, out=np.zeros(logged.shape[1]), where=n > 0)
    spread = np.where(known, logged - mean, 0.0)
    std = np.sqrt(np.divide((spread**2).sum(axis=0), n, out=np.zeros(logged.shape[1]), where=n > 0))
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


class RankingHead(tf.keras.Model):
    """Logits ``[b, c]`` of each user's candidates being bought (see the module docstring)."""

    def __init__(
        self,
        backbone: Backbone,
        config: RankingConfig,
        *,
        item_prices: np.ndarray,
        profile_columns: list[int],
        profile_mean: np.ndarray,
        profile_std: np.ndarray,
        base_rate: float = 0.05,
    ) -> None:
        """Args:
        item_prices: ``[len(backbone.vocabs.items)]`` price per item row (NaN unknown).
        profile_columns: positions in ``user_features`` fed to the MLP directly.
        profile_mean / profile_std: their scaling (see :func:`profile_scaling`).
        base_rate: share of bought candidates in the training lists (the prior's starting bias).
        """
        super().__init__(name="ranking_head")
        self.query_tower = backbone.query_tower
        self.item_tower = backbone.item_tower
        self.candidates = float(config.candidates)
        self.towers_trainable = True
        logged = signed_log1p(np.nan_to_num(item_prices.astype(np.float64), nan=0.0))
        known = np.isfinite(item_prices) & (item_prices > 0)
        mean = float(logged[known].mean()) if known.any() else 0.0
        std = float(logged[known].std()) if known.sum() > 1 else 1.0
        scaled = np.where(known, (logged - mean) / (std or 1.0), 0.0)
        self.price_table = tf.constant(scaled.astype(np.float32))
        self.profile_columns = tf.constant(np.asarray(profile_columns, np.int32))
        self.num_profile = len(profile_columns)
        self.profile_mean = tf.constant(profile_mean.astype(np.float32))
        self.profile_std = tf.constant(profile_std.astype(np.float32))
        self.hidden = [
            tf.keras.layers.Dense(units, activation="relu", name=f"head_dense_{i}")
            for i, units in enumerate(config.hidden_units)
        ]
        self.dropout = tf.keras.layers.Dropout(config.dropout, seed=config.seed)
        self.out = tf.keras.layers.Dense(1, kernel_initializer="zeros", name="head_logit")
        rate = float(np.clip(base_rate, 1e-6, 1 - 1e-6))
        self.prior_bias = tf.Variable(np.log(rate / (1 - rate)), dtype=tf.float32, name="prior_bias")
        self.prior_scale = tf.Variable(PRIOR_SCALE, dtype=tf.float32, name="prior_scale")

    def set_towers_trainable(self, trainable: bool) -> None:
        """Freeze (False) or unfreeze the pretrained towers (a frozen tower also runs without dropout)."""
        self.towers_trainable = trainable
        self.query_tower.trainable = trainable
        self.item_tower.trainable = trainable

    def query_vectors(self, inputs: dict[str, np.ndarray], batch: int = 1024) -> np.ndarray:
        """``[b, d]`` query vectors of the serving inputs (towers as they are now, no dropout)."""
        out = []
        for s in range(0, len(inputs[SERVING_USER_ID]), batch):
            part = {k: tf.constant(inputs[k][s : s + batch]) for k in QUERY_KEYS}
            out.append(self.query_tower(part, training=False).numpy())
        return (
            np.concatenate(out) if out else np.zeros((0, self.item_tower.id_embedding.output_dim), np.float32)
        )

    def pair_features(
        self,
        inputs: dict[str, tf.Tensor],
        rank_feature: tf.Tensor,
        training: bool = False,
        query: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """``[b, c, n_features]``: the MLP's input for every (user, candidate) pair.

        ``rank_feature``: :meth:`rank_feature` of ``inputs`` (the prior reads it too). ``query``:
        precomputed query vectors ``[b, d]`` (while the towers are frozen they never change, so
        the query tower need not run at every step).
        """
        if query is None:
            tower_training = bool(training and self.towers_trainable)
            query = self.query_tower({k: inputs[k] for k in QUERY_KEYS}, training=tower_training)
        rows = self.item_tower.item_lookup(inputs[SERVING_ITEM_IDS])  # [b, c]
        items = self.item_tower.candidate_embeddings(rows)  # [b, c, d]
        c = tf.shape(rows)[1]
        q = tf.tile(query[:, None, :], [1, c, 1])
        cosine = tf.reduce_sum(q * items, axis=-1, keepdims=True)
        proposed = tf.cast(inputs[SERVING_RETRIEVAL_RANK] > 0, tf.float32)
        history = self.item_tower.item_lookup(inputs[SERVING_HISTORY])  # [b, n], oldest first
        real_hist = history > 1  # neither padding nor unknown
        same = (
            tf.equal(rows[:, :, None], history[:, None, :]) & real_hist[:, None, :] & (rows > 1)[:, :, None]
        )
        count = tf.reduce_sum(tf.cast(same, tf.float32), axis=-1)
        # Steps since the latest occurrence: 1 = the last item of the history.
        n_hist = tf.reduce_sum(tf.cast(history > 0, tf.float32), axis=1, keepdims=True)  # [b, 1]
        position = tf.cast(tf.range(tf.shape(history)[1]), tf.float32)[None, None, :]
        steps = tf.where(same, n_hist[:, :, None] - position, np.inf)
        recency = 1.0 / tf.reduce_min(steps, axis=-1)  # 0 when never seen
        price = tf.gather(self.price_table, rows)
        parts = [
            q,
            items,
            q * items,
            cosine,
            tf.stack([rank_feature, proposed, tf.math.log1p(count), recency, price], axis=-1),
        ]
        if self.num_profile:
            raw = tf.gather(tf.cast(inputs[SERVING_FEATURES], tf.float32), self.profile_columns, axis=1)
            scaled = (signed_log1p(raw) - self.profile_mean) / self.profile_std
            scaled = tf.where(tf.math.is_finite(scaled), scaled, tf.zeros_like(scaled))  # unknown: mean
            parts.append(tf.tile(scaled[:, None, :], [1, c, 1]))
        return tf.concat(parts, axis=-1)

    def rank_feature(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        """``[b, c]`` log retrieval rank scaled to [0, 1); 1 for a candidate the retrieval did not propose."""
        rank = tf.cast(inputs[SERVING_RETRIEVAL_RANK], tf.float32)
        return tf.where(rank > 0, tf.math.log(tf.maximum(rank, 1.0)) / np.log(self.candidates + 1), 1.0)

    @property
    def head_variables(self) -> list[tf.Variable]:
        """The MLP's variables and the prior's: what learns while the towers are frozen."""
        layers = [v for layer in (*self.hidden, self.out) for v in layer.trainable_variables]
        return [*layers, self.prior_bias, self.prior_scale]

    def call(
        self, inputs: dict[str, tf.Tensor], training: bool = False, query: tf.Tensor | None = None
    ) -> tf.Tensor:
        rank_feature = self.rank_feature(inputs)
        x = self.pair_features(inputs, rank_feature, training=training, query=query)
        for layer in self.hidden:
            x = self.dropout(layer(x), training=training)
        prior = self.prior_bias - self.prior_scale * rank_feature
        return prior + tf.squeeze(self.out(x), axis=-1)


def build_head(
    backbone: Backbone,
    config: RankingConfig,
    item_prices: np.ndarray,
    lists_features: np.ndarray,
    base_rate: float = 0.05,
):
    """A seeded :class:`RankingHead` with its variables created.

    Args:
        item_prices: price per backbone item row (NaN unknown).
        lists_features: ``[u, f]`` the training lists' ``user_features`` (for the profile scaling).
        base_rate: share of bought candidates in the training lists.
    """
    tf.keras.utils.set_random_seed(config.seed)
    names = backbone.feature_columns
    columns = [names.index(c) for c in config.profile_features if c in names]
    mean, std = profile_scaling(lists_features[:, columns] if columns else np.zeros((0, 0), np.float32))
    head = RankingHead(
        backbone,
        config,
        item_prices=item_prices,
        profile_columns=columns,
        profile_mean=mean,
        profile_std=std,
        base_rate=base_rate,
    )
    n_features = len(names)
    head(
        {
            SERVING_USER_ID: tf.constant([PAD_ID]),
            SERVING_HISTORY: tf.constant([[PAD_ID]]),
            SERVING_FEATURES: tf.zeros([1, n_features], tf.float32),
            SERVING_ITEM_IDS: tf.constant([[PAD_ID]]),
            SERVING_RETRIEVAL_RANK: tf.ones([1, 1], tf.int32),
        }
    )
    return head
