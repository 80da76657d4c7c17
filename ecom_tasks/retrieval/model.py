"""The retrieval model: a ``tfrs.Model`` that only computes the loss.

Each batch holds windows of (input token, next item) positions; every non-padding position is a
query whose positive candidate is its next item. Negatives, by ``config.negatives`` (``auto``:
full for a small catalogue, see ``RetrievalConfig.uses_full_softmax``):

- ``full``: every item in the catalogue: the exact softmax cross-entropy over all items
  (affordable up to some 10^5 items).
- ``sampled``: the batch's positives plus ``num_sampled`` uniformly drawn items. The logits are
  corrected by the log of each candidate's probability under that mixed sampler (logQ), and
  negatives that are the query's own positive are masked (accidental hits).

Scores are cosine similarities divided by ``config.temperature``. Retrieval metrics are not
computed during training (they made epochs ~14x slower, TFRS #178/#474); see ``evaluate``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from ecom_tasks.retrieval.config import RetrievalConfig
from ecom_tasks.retrieval.exclusions import ServingExclusions
from ecom_tasks.retrieval.pipeline import FEATURES, TARGETS, TOKENS, USER, WEIGHTS
from ecom_tasks.retrieval.towers import ItemTower, QueryTower


class DiagonalSoftmaxLoss(tf.keras.losses.Loss):
    """Softmax cross-entropy with query i's positive in column i, the layout of TFRS's task.

    The task hands its loss a dense identity matrix of labels; the fused sparse kernel with the
    known diagonal gives the same value as the default categorical cross-entropy with fewer
    passes over the score matrix.
    """

    def __init__(self) -> None:
        super().__init__(reduction=tf.keras.losses.Reduction.SUM, name="diagonal_softmax")

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        labels = tf.range(tf.shape(y_pred)[0])
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=y_pred)


class RetrievalModel(tfrs.Model):
    """Two towers joined by a ``tfrs.tasks.Retrieval`` loss."""

    def __init__(
        self,
        query_tower: QueryTower,
        item_tower: ItemTower,
        config: RetrievalConfig,
        *,
        first_item_row: int,
        num_rows: int,
        target_frequencies: np.ndarray | None = None,
    ) -> None:
        """Args:
        first_item_row / num_rows: real items are the vocabulary rows ``[first_item_row, num_rows)``.
        target_frequencies: ``[num_rows]`` share of training targets per row (for logQ).
        """
        super().__init__()
        self.query_tower = query_tower
        self.item_tower = item_tower
        self.negatives = "full" if config.uses_full_softmax(num_rows - first_item_row) else "sampled"
        self.num_sampled = config.num_sampled
        self.logq = config.logq_correction
        self.first_item_row = first_item_row
        self.num_rows = num_rows
        self.seed = config.seed
        # Added to the score of history items when ranking for a user (scoring.py); not in the loss.
        self.repeat_bonus = float(config.repeat_bonus)
        self.max_history = config.max_history  # history items a query reads (and the bonus covers)
        # What the model never serves (returns, items out of the catalogue), set for its ds by the
        # stage (exclusions.py); None: nothing.
        self.exclusions: ServingExclusions | None = None
        freq = np.zeros(num_rows, np.float32) if target_frequencies is None else target_frequencies
        self.target_frequencies = tf.constant(freq, tf.float32)
        sampled = self.negatives == "sampled"
        # The temperature divides the queries rather than the [queries, candidates] score matrix
        # (the task's `temperature`): the same logits, one elementwise pass fewer each way.
        self.inverse_temperature = 1.0 / config.temperature
        self.task = tfrs.tasks.Retrieval(
            loss=DiagonalSoftmaxLoss(), remove_accidental_hits=sampled and config.remove_accidental_hits
        )

    def compute_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        seq = self.query_tower.encode_sequence(
            features[TOKENS], features[USER], features[FEATURES], training=training
        )
        targets = features[TARGETS]
        valid = targets > 0
        queries = tf.math.l2_normalize(tf.boolean_mask(seq, valid), axis=-1) * self.inverse_temperature
        positives = tf.cast(tf.boolean_mask(targets, valid), tf.int32)
        weights = tf.boolean_mask(features[WEIGHTS], valid)
        if self.negatives == "full":
            loss = self._full_softmax(queries, positives, weights)
        else:
            loss = self._sampled_softmax(queries, positives, weights)
        # Mean over weighted positions, so the loss scale does not depend on the batch.
        return loss / tf.maximum(tf.reduce_sum(weights), 1e-6)

    def _full_softmax(self, queries: tf.Tensor, positives: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        # The exact softmax over the catalogue as one [queries, items] matmul and the fused sparse
        # kernel: no [positives; items] candidate block, dense identity labels or score mask (the
        # TFRS task's layout), each of which is one more pass over a [queries, 12k] matrix on Beauty.
        all_rows = tf.range(self.first_item_row, self.num_rows, dtype=tf.int32)
        logits = tf.matmul(queries, self.item_tower.candidate_embeddings(all_rows), transpose_b=True)
        labels = positives - self.first_item_row
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_sum(losses * weights)

    def _sampled_softmax(self, queries: tf.Tensor, positives: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        sampled = tf.random.uniform(
            [self.num_sampled], self.first_item_row, self.num_rows, dtype=tf.int32, seed=self.seed
        )
        rows = tf.concat([positives, sampled], axis=0)
        candidates = self.item_tower.candidate_embeddings(rows)
        if self.logq:
            # Per-draw probability of each candidate under the mixed sampler: m draws from the
            # target distribution (in-batch) and s uniform draws. Subtracting log q from every
            # logit is folded into the matmul as one more embedding column ([q, 1] . [c, -log q]),
            # which saves passes over the [queries, candidates] score matrix.
            m = tf.cast(tf.shape(positives)[0], tf.float32)
            s = float(self.num_sampled)
            uniform = 1.0 / float(self.num_rows - self.first_item_row)
            freq = tf.gather(self.target_frequencies, rows)
            log_q = tf.math.log((m * freq + s * uniform) / (m + s))
            queries = tf.concat([queries, tf.ones_like(queries[:, :1])], axis=1)
            candidates = tf.concat([candidates, -log_q[:, None]], axis=1)
        return self.task(
            queries, candidates, sample_weight=weights, candidate_ids=rows, compute_metrics=False
        )
