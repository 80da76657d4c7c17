"""How the retrieval model scores the catalogue for a user: cosine, a repeat bonus, exclusions.

One implementation for every place that ranks items for a user (evaluation, the champion's
scoring, :class:`~ecom_tasks.retrieval.backbone.Backbone` and the exported SavedModel), so they
agree: the score of an item is the cosine similarity of the query and item vectors, plus a
repeat lift when the item is in the user's history (the items of the query tower's history
input), ``bonus + per_count * log(1 + times in the history)`` (``RetrievalModel.repeat_lift``:
fitted on validation, plus the part learned in the loss with ``repeat_features``); ``-inf`` when
it is excluded (exclusion wins over the lift).

Item positions are catalogue columns (vocabulary row minus ``first_item_row``); negative columns
(padding, unknown items) are ignored. :func:`top_k` is ``tf.math.top_k`` computed in two exact
stages, for serving many users at once.
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


def _lifted(scores: tf.Tensor, pairs: tf.Tensor, bonus: float, per_count: float) -> tf.Tensor:
    # [p] score + bonus + per_count * log(1 + times the pair's item is in its row's history).
    lifted = tf.gather_nd(scores, pairs) + tf.cast(bonus, scores.dtype)
    if per_count:
        keys = pairs[:, 0] * tf.cast(tf.shape(scores)[1], tf.int64) + pairs[:, 1]
        _, slot, counts = tf.unique_with_counts(keys)
        times = tf.cast(tf.gather(counts, slot), scores.dtype)
        lifted += tf.cast(per_count, scores.dtype) * tf.math.log1p(times)
    return lifted


def add_repeat_bonus(
    scores: tf.Tensor, history: tf.Tensor, bonus: float, per_count: float = 0.0
) -> tf.Tensor:
    """``scores`` [b, n] plus the repeat lift once on each row's history columns ``history`` [b, h].

    The lift of an item is ``bonus + per_count * log(1 + c)``, ``c`` the times it is in that
    history (the learned part, ``RetrievalModel.repeat_lift``); given once per item (a
    scatter of score + lift).
    """
    if not bonus and not per_count:
        return scores
    pairs = _pairs(history)
    # An item twice in a history has the same lifted value at both pairs: the update is exact
    # (a learned lift can be negative, so a scatter-max would drop it).
    return tf.tensor_scatter_nd_update(scores, pairs, _lifted(scores, pairs, bonus, per_count))


def distinct_counts(columns: Sequence[Sequence[int] | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's distinct columns (>= 0) and how often each is in the row, as two ``[b, w]``
    int64 matrices (``-1`` / ``0`` padded; columns ascending): one ``np.unique`` for all rows."""
    rows = [np.asarray(c, np.int64).ravel() for c in columns]
    lengths = np.array([len(r) for r in rows], np.int64)
    flat = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    valid = flat >= 0
    width = int(flat.max(initial=0)) + 1
    keys, counts = np.unique(owner[valid] * width + flat[valid], return_counts=True)
    row, col = keys // width, keys % width
    per_row = np.bincount(row, minlength=len(rows))
    slot = np.arange(len(keys)) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    shape = (len(rows), max(1, int(per_row.max(initial=0))))
    out_cols, out_counts = np.full(shape, -1, np.int64), np.zeros(shape, np.int64)
    out_cols[row, slot], out_counts[row, slot] = col, counts
    return out_cols, out_counts


def top_k_each_lift(
    scores: tf.Tensor,
    columns: tf.Tensor | np.ndarray,
    counts: tf.Tensor | np.ndarray,
    lifts: Sequence[tuple[float, float]],
    k: int,
) -> list[np.ndarray]:
    """Served top-``k`` columns of ``scores`` [b, n] under each repeat lift ``(bonus, per_count)``:
    for each, :func:`served_columns` of ``tf.math.top_k(add_repeat_bonus(...), k)``, the same
    columns (ties: lower column first).

    ``columns`` / ``counts`` [b, w]: each row's distinct history columns and their counts (as
    :func:`distinct_counts` gives). A lift moves only history items, so the top ``k`` of the
    other items is computed once, and each lift ranks just those ``k`` and the ``w`` history
    items: fitting a grid of lifts costs about one ranking instead of one per lift.
    """
    columns, counts = tf.cast(columns, tf.int64), tf.cast(counts, scores.dtype)
    valid = columns >= 0
    pairs = _pairs(columns)
    history = tf.where(valid, tf.gather(scores, tf.maximum(columns, 0), batch_dims=1), -np.inf)
    others = tf.math.top_k(
        tf.tensor_scatter_nd_update(
            scores, pairs, tf.fill(tf.shape(pairs)[:1], tf.constant(-np.inf, scores.dtype))
        ),
        k=k,
    )
    # Candidates in column order, so that top_k's lower-position-first tie rule is lower column first.
    candidates = tf.concat([tf.cast(others.indices, tf.int64), columns], axis=1)
    order = tf.argsort(tf.where(candidates >= 0, candidates, tf.int64.max), axis=1, stable=True)
    candidates = tf.gather(candidates, order, batch_dims=1)
    out = []
    for bonus, per_count in lifts:
        lifted = (
            history + tf.cast(bonus, scores.dtype) + tf.cast(per_count, scores.dtype) * tf.math.log1p(counts)
        )
        values = tf.gather(tf.concat([others.values, lifted], axis=1), order, batch_dims=1)
        best = tf.math.top_k(values, k=k)
        out.append(served_columns(best.values, tf.gather(candidates, best.indices, batch_dims=1)))
    return out


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
    per_count: float = 0.0,
    exclude: tf.Tensor | None = None,
    blocked: tf.Tensor | None = None,
) -> tf.Tensor:
    """``[b, n]`` scores of ``queries`` [b, d] against ``candidates`` [n, d] (see the module doc).

    Args:
        history: [b, h] catalogue columns of each user's history (-1 padded), for the bonus.
        bonus / per_count: the repeat lift of history items (see :func:`add_repeat_bonus`).
        exclude: [b, m] columns never to return (-1 padded): their score is ``-inf``.
        blocked: [n] bool, columns never to return to anyone (out of the catalogue): ``-inf``.
    """
    scores = tf.matmul(queries, candidates, transpose_b=True)
    if history is not None:
        scores = add_repeat_bonus(scores, history, bonus, per_count)
    if exclude is not None:
        scores = exclude_columns(scores, exclude)
    if blocked is not None:
        scores = tf.where(tf.cast(blocked, tf.bool)[None, :], tf.constant(-np.inf, scores.dtype), scores)
    return scores


def served_columns(values: tf.Tensor | np.ndarray, columns: tf.Tensor | np.ndarray) -> np.ndarray:
    """Top-k ``columns`` with ``-1`` where the score is ``-inf`` (an excluded item that only filled
    the list because fewer than k items were left): never a served item."""
    values, columns = np.asarray(values), np.asarray(columns, np.int64)
    return np.where(np.isneginf(values), -1, columns)


# Columns per group in top_k's first stage. With Amazon Beauty's 12,101 items and k=10 the two
# stages took ~0.6 CPU-s per 22k users here against ~1.6 s for one top-k over every column.
GROUP_WIDTH = 64
MIN_ROWS = 8


def top_k(
    scores: tf.Tensor,
    k: int | tf.Tensor,
    *,
    history: tf.Tensor | None = None,
    bonus: float = 0.0,
    per_count: float = 0.0,
    group_width: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """``tf.math.top_k(add_repeat_bonus(scores, history, bonus, per_count), k)``: the same values
    and columns.

    Returns ``(values, columns)``, both ``[b, k]`` (columns int32), best first, equal scores lower
    column first. TensorFlow's CPU top-k walks every column with a heap; for ``k`` much smaller
    than ``n`` this is faster and never copies the ``[b, n]`` matrix for the bonus: each row is
    cut into groups of ``group_width`` (default ``GROUP_WIDTH``) consecutive columns; the ``k``
    groups with the largest maxima (with the bonus) are kept, since an item of the top k has at
    most ``k - 1`` better items and so at most ``k - 1`` other groups can beat its group; the top
    ``k`` of their columns, gathered in column order and given the bonus, is the answer.
    Otherwise (``k`` not small against ``n``, fewer than ``MIN_ROWS`` rows, or a negative lift) it is one
    ``tf.math.top_k`` over each row.
    """
    n = tf.shape(scores)[1]
    width = group_width or GROUP_WIDTH
    groups = (n + width - 1) // width
    lift = history is not None and bool(bonus or per_count)
    if lift:
        pairs = _pairs(history)  # [p, 2] (row, column): values exactly as add_repeat_bonus computes
        lifted = _lifted(scores, pairs, bonus, per_count)

    def two_stage() -> tuple[tf.Tensor, tf.Tensor]:
        rows = tf.shape(scores)[0]
        padded = tf.pad(scores, [[0, 0], [0, groups * width - n]], constant_values=-np.inf)
        grid = tf.reshape(padded, [rows, groups, width])
        keys = tf.reduce_max(grid, axis=2)
        if lift:
            keys = tf.tensor_scatter_nd_max(keys, tf.stack([pairs[:, 0], pairs[:, 1] // width], 1), lifted)
        best = tf.sort(tf.math.top_k(keys, k=k).indices, axis=1)  # [b, k] groups, column order
        kept = tf.reshape(tf.gather(grid, best, batch_dims=1), [rows, -1])  # [b, k * width]
        if lift:
            # A history item's place in `kept`, if its group was kept: slot * width + offset.
            match = tf.equal(tf.gather(tf.cast(best, tf.int64), pairs[:, 0]), (pairs[:, 1] // width)[:, None])
            found = tf.reduce_any(match, axis=1)
            slot = tf.argmax(tf.cast(match, tf.int32), axis=1)
            where = tf.stack([pairs[:, 0], slot * width + pairs[:, 1] % width], 1)
            kept = tf.tensor_scatter_nd_max(
                kept, tf.boolean_mask(where, found), tf.boolean_mask(lifted, found)
            )
        values, pos = tf.math.top_k(kept, k=k)
        return values, tf.gather(best, pos // width, batch_dims=1) * width + pos % width

    def one_stage() -> tuple[tf.Tensor, tf.Tensor]:
        best = tf.math.top_k(add_repeat_bonus(scores, history, bonus, per_count) if lift else scores, k=k)
        return best.values, best.indices

    # A few rows are cheaper in one pass: the two stages' extra ops cost ~0.3 ms a call here.
    many = tf.shape(scores)[0] >= MIN_ROWS
    if bonus < 0 or per_count < 0:
        # A negative lift can lower a group's best score below its key: one exact pass.
        return one_stage()
    return tf.cond(tf.logical_and(many, 4 * k * width <= n), two_stage, one_stage)
