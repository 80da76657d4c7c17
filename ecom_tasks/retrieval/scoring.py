"""How the retrieval model scores the catalogue for a user: cosine, a repeat bonus, exclusions.

One implementation for every place that ranks items for a user (evaluation, the champion's
scoring, :class:`~ecom_tasks.retrieval.backbone.Backbone` and the exported SavedModel), so they
agree: the score of an item is the cosine similarity of the query and item vectors, plus
``RetrievalConfig.repeat_bonus`` when the item is in the user's history (the items of the query
tower's history input), and ``-inf`` when it is excluded (exclusion wins over the bonus).

Item positions are catalogue columns (vocabulary row minus ``first_item_row``); negative columns
(padding, unknown items) are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf


def pad_columns(columns: Sequence[Sequence[int] | np.ndarray], width: int | None = None) -> np.ndarray:
    """``[b, w]`` int64 columns per row, ``-1`` padded (``width``: keep each row's last ``width``)."""
    rows = [np.asarray(c, np.int64).ravel() for c in columns]
    if width is not None:
        rows = [r[-width:] if width > 0 else r[:0] for r in rows]
    out = np.full((len(rows), max([1, *(len(r) for r in rows)])), -1, np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def _pairs(columns: tf.Tensor) -> tf.Tensor:
    # [p, 2] (row, column) of the valid (>= 0) entries of a [b, w] column matrix.
    columns = tf.cast(columns, tf.int64)
    where = tf.where(columns >= 0)
    return tf.stack([where[:, 0], tf.gather_nd(columns, where)], axis=1)


def add_repeat_bonus(scores: tf.Tensor, history: tf.Tensor, bonus: float) -> tf.Tensor:
    """``scores`` [b, n] plus ``bonus`` once on each row's history columns ``history`` [b, h].

    An item repeated in a history gets the bonus once (a scatter-max of score + bonus).
    """
    if not bonus:
        return scores
    pairs = _pairs(history)
    lifted = tf.gather_nd(scores, pairs) + tf.cast(bonus, scores.dtype)
    return tf.tensor_scatter_nd_max(scores, pairs, lifted)


def exclude_columns(scores: tf.Tensor, exclude: tf.Tensor) -> tf.Tensor:
    """``scores`` [b, n] with each row's columns ``exclude`` [b, m] set to ``-inf``."""
    pairs = _pairs(exclude)
    return tf.tensor_scatter_nd_update(
        scores, pairs, tf.fill(tf.shape(pairs)[:1], tf.constant(-np.inf, scores.dtype))
    )


def score_items(
    queries: tf.Tensor,
    candidates: tf.Tensor,
    *,
    history: tf.Tensor | None = None,
    bonus: float = 0.0,
    exclude: tf.Tensor | None = None,
) -> tf.Tensor:
    """``[b, n]`` scores of ``queries`` [b, d] against ``candidates`` [n, d] (see the module doc).

    Args:
        history: [b, h] catalogue columns of each user's history (-1 padded), for the bonus.
        bonus: added to the cosine score of history items (0: none).
        exclude: [b, m] columns never to return (-1 padded): their score is ``-inf``.
    """
    scores = tf.matmul(queries, candidates, transpose_b=True)
    if history is not None:
        scores = add_repeat_bonus(scores, history, bonus)
    if exclude is not None:
        scores = exclude_columns(scores, exclude)
    return scores
