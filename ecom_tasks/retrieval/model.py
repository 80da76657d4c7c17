"""The retrieval model: a ``tfrs.Model`` that only computes the loss.

Each batch holds windows of (input token, next item) positions; every non-padding position is a
query whose positive candidate is its next item. Negatives, by ``config.negatives`` (``auto``:
full for a small catalogue, see ``RetrievalConfig.uses_full_softmax``):

- ``full``: every item in the catalogue: the exact softmax cross-entropy over all items
  (affordable up to some 10^5 items).
- ``sampled``: the batch's positives plus ``num_sampled`` uniformly drawn items. The logits are
  corrected by the log of each candidate's probability under that mixed sampler (logQ), and
  negatives that are the query's own positive are masked (accidental hits).

Scores are cosine similarities divided by ``config.temperature``. With ``config.repeat_features``
each query's logit of an item it has read (in its window) gets a learned lift,
``w_read + w_count * log(1 + times read)``: the model learns how much a customer's own items are
worth next, trained with the towers rather than set afterwards (:meth:`RetrievalModel.repeat_lift`
gives it in score units, as ``scoring`` serves it). Retrieval metrics are not computed during
training (they made epochs ~14x slower, TFRS #178/#474); see ``evaluate``.
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
        self.repeat_per_count = float(config.repeat_per_count)
        self.repeat_window = config.repeat_window  # history items the lift counts
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
        self.remove_accidental_hits = sampled and config.remove_accidental_hits
        self.task = tfrs.tasks.Retrieval(
            loss=DiagonalSoftmaxLoss(), remove_accidental_hits=self.remove_accidental_hits
        )
        self.repeat_features = config.repeat_features
        if self.repeat_features:
            # [w_read, w_count] in score units (cosine), times the inverse temperature in the
            # loss: Adam's steps are then as large as the towers' (in logit units they moved
            # ~1/20 as fast and the lift was still near zero when early stopping ended the run).
            # Zero: no lift until training finds one.
            self.repeat_weights = self.add_weight(
                name="repeat_weights", shape=[2], initializer="zeros", trainable=True
            )

    def repeat_lift(self) -> tuple[float, float]:
        """``(bonus, per_count)`` in score units: what ``scoring`` adds to an item of the history.

        An item ``c`` times in the history gets ``bonus + per_count * log(1 + c)``: the
        configured (or validation-chosen) ``repeat_bonus`` and ``repeat_per_count``, plus the
        lift learned in the loss (``repeat_features``).
        """
        w_read, w_count = self.learned_lift()
        return self.repeat_bonus + w_read, self.repeat_per_count + w_count

    def learned_lift(self) -> tuple[float, float]:
        """``(w_read, w_count)`` learned in the loss (``repeat_features``), in score units; else 0."""
        if not self.repeat_features:
            return 0.0, 0.0
        w_read, w_count = self.repeat_weights.numpy()
        return float(w_read), float(w_count)

    def compute_loss(self, features: dict[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        tokens = features[TOKENS]
        seq = self.query_tower.encode_sequence(tokens, features[USER], features[FEATURES], training=training)
        targets = features[TARGETS]
        valid = targets > 0
        queries = tf.math.l2_normalize(tf.boolean_mask(seq, valid), axis=-1) * self.inverse_temperature
        positives = tf.cast(tf.boolean_mask(targets, valid), tf.int32)
        weights = tf.boolean_mask(features[WEIGHTS], valid)
        read = self._read_lifts(tokens, valid) if self.repeat_features else None
        if self.negatives == "full":
            loss = self._full_softmax(queries, positives, weights, read)
        elif read is not None:
            loss = self._sampled_softmax_lifted(queries, positives, weights, read)
        else:
            loss = self._sampled_softmax(queries, positives, weights)
        # Mean over weighted positions, so the loss scale does not depend on the batch.
        return loss / tf.maximum(tf.reduce_sum(weights), 1e-6)

    def _read_lifts(self, tokens: tf.Tensor, valid: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Per query (a valid position) and window position: the item read there and its lift.

        Query ``p`` of a window has read tokens ``0..p``; an item it read ``c`` times gets the lift
        ``w_read + w_count * log(1 + c)`` (score units, in logits here; BOS and padding get none).
        Returns ``(items, lifts)``, both ``[queries, window]``, item row ``-1`` where nothing was read.
        """
        length = tf.shape(tokens)[1]
        is_item = tokens >= self.first_item_row  # [b, l]
        same = tf.equal(tokens[:, :, None], tokens[:, None, :]) & is_item[:, :, None] & is_item[:, None, :]
        # seen[b, j, p]: times the item at j occurs in positions 0..p; query p reads j <= p.
        seen = tf.cumsum(tf.cast(same, tf.float32), axis=2)
        counts = tf.boolean_mask(tf.transpose(seen, [0, 2, 1]), valid)  # [q, l]: query p, position j
        positions = tf.range(length)
        query_pos = tf.boolean_mask(tf.broadcast_to(positions[None, :], tf.shape(tokens)), valid)
        row_items = tf.boolean_mask(tf.broadcast_to(tokens[:, None, :], tf.shape(same)), valid)
        read = (positions[None, :] <= query_pos[:, None]) & (row_items >= self.first_item_row)
        w_read, w_count = self.repeat_weights[0], self.repeat_weights[1]
        lifts = (w_read + w_count * tf.math.log1p(counts)) * self.inverse_temperature
        return tf.where(read, row_items, -1), tf.where(read, lifts, 0.0)

    @staticmethod
    def _lift_matrix(
        read: tuple[tf.Tensor, tf.Tensor], columns: tf.Tensor, width: int | tf.Tensor
    ) -> tf.Tensor:
        """``[queries, width]`` lifts, each read item's at ``columns[item row]`` (-1: not a column)."""
        items, lifts = read
        cols = tf.gather(columns, tf.maximum(items, 0))
        where = tf.where((items >= 0) & (cols >= 0))
        index = tf.stack([where[:, 0], tf.cast(tf.gather_nd(cols, where), tf.int64)], axis=1)
        shape = tf.stack([tf.cast(tf.shape(items)[0], tf.int64), tf.cast(width, tf.int64)])
        # An item read twice carries the same lift at both places: the update keeps that value.
        return tf.tensor_scatter_nd_update(tf.zeros(shape, lifts.dtype), index, tf.gather_nd(lifts, where))

    def _full_softmax(
        self,
        queries: tf.Tensor,
        positives: tf.Tensor,
        weights: tf.Tensor,
        read: tuple[tf.Tensor, tf.Tensor] | None = None,
    ) -> tf.Tensor:
        # The exact softmax over the catalogue as one [queries, items] matmul and the fused sparse
        # kernel: no [positives; items] candidate block, dense identity labels or score mask (the
        # TFRS task's layout), each of which is one more pass over a [queries, 12k] matrix on Beauty.
        all_rows = tf.range(self.first_item_row, self.num_rows, dtype=tf.int32)
        logits = tf.matmul(queries, self.item_tower.candidate_embeddings(all_rows), transpose_b=True)
        if read is not None:
            columns = tf.range(self.num_rows) - self.first_item_row  # item row -> column
            logits += self._lift_matrix(read, columns, self.num_rows - self.first_item_row)
        labels = positives - self.first_item_row
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_sum(losses * weights)

    def _sampled_candidates(self, queries: tf.Tensor, positives: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Candidate rows (the batch's positives, then uniform draws) and the logQ-folded operands."""
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
        return rows, queries, candidates

    def _sampled_softmax(self, queries: tf.Tensor, positives: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
        rows, queries, candidates = self._sampled_candidates(queries, positives)
        return self.task(
            queries, candidates, sample_weight=weights, candidate_ids=rows, compute_metrics=False
        )

    def _sampled_softmax_lifted(
        self,
        queries: tf.Tensor,
        positives: tf.Tensor,
        weights: tf.Tensor,
        read: tuple[tf.Tensor, tf.Tensor],
    ) -> tf.Tensor:
        # The task's loss (logits, accidental hits masked, the positive on the diagonal) with each
        # query's lifts on the candidates it has read, which the task's one matmul cannot carry.
        rows, queries, candidates = self._sampled_candidates(queries, positives)
        logits = tf.matmul(queries, candidates, transpose_b=True)
        unique, slot = tf.unique(rows)  # a candidate row can be drawn more than once
        columns = tf.tensor_scatter_nd_update(
            tf.fill([self.num_rows], -1), unique[:, None], tf.range(tf.shape(unique)[0])
        )
        logits += tf.gather(self._lift_matrix(read, columns, tf.shape(unique)[0]), slot, axis=1)
        if self.remove_accidental_hits:
            n = tf.shape(positives)[0]
            hit = tf.equal(positives[:, None], rows[None, :]) & ~tf.cast(
                tf.one_hot(tf.range(n), tf.shape(rows)[0]), tf.bool
            )
            logits += tf.cast(hit, logits.dtype) * -1e9
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.range(tf.shape(queries)[0]), logits=logits
        )
        return tf.reduce_sum(losses * weights)
