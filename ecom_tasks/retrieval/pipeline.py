"""The training ``tf.data`` pipeline: sequences cut into windows, bucketed by length, cached.

A window holds up to ``max_history`` positions; position ``j`` reads input token ``j`` (BOS or the
previous item) and is trained to predict item ``j``. Windows are bucketed by length so a batch is
padded to its own longest window, and bucket batch sizes keep the number of predicted positions
per batch near ``tokens_per_batch`` (the softmax cost grows with positions, not with windows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ecom_tasks.retrieval.config import RetrievalConfig
from ecom_tasks.retrieval.data import Sequences

TOKENS, TARGETS, WEIGHTS, USER, FEATURES, LENGTH = (
    "tokens",
    "targets",
    "weights",
    "user",
    "user_features",
    "length",
)


@dataclass
class Windows:
    """Training windows as padded arrays (``[n, window]``) plus their lengths."""

    tokens: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    users: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_examples(self) -> int:
        """Predicted positions: the training examples of one epoch."""
        return int((self.targets > 0).sum())


def next_day_targets(days: np.ndarray) -> np.ndarray:
    """For each query position, the index of the item it is trained to predict, or -1.

    Query ``p`` has read items ``0..p-1``. It predicts an item of the first day after the day of
    item ``p-1`` (spread over that day's items by offset, so a day's queries cover the next
    day's basket); query 0 predicts item 0; queries on the last day have no target.
    """
    n = len(days)
    target = np.arange(n)
    if n < 2:
        return target
    new_day = np.r_[True, days[1:] != days[:-1]]
    starts = np.flatnonzero(new_day)
    ends = np.r_[starts[1:], n]
    day_of = np.cumsum(new_day) - 1
    read = np.arange(n - 1)  # item last read by queries 1..n-1
    k = day_of[read]
    has_next = k + 1 < len(starts)
    nxt = np.minimum(k + 1, len(starts) - 1)
    offset = (read - starts[k]) % (ends[nxt] - starts[nxt])
    target[1:] = np.where(has_next, starts[nxt] + offset, -1)
    return target


def training_windows(
    seqs: Sequences, window: int, bos_row: int, *, next_day: bool = False, every_prefix: bool = False
) -> Windows:
    """Cut every sequence into windows of at most ``window`` positions, newest window last.

    Position ``p`` reads BOS or item ``p-1`` and is trained to predict item ``p`` (every item is
    a target once), or with ``next_day`` an item of the next day's basket (see
    :func:`next_day_targets`). The first window of a sequence starts with BOS, later ones with
    the item before their first position. Windows without any target are left out.

    With ``every_prefix`` each position is a window of its own (the newest ``window`` positions
    up to it) with a target at its last position only: every target is read with its full
    context, as evaluation reads a user, and gets its own dropout (``RetrievalConfig.every_prefix``).
    """
    spans: list[tuple[int, int, int]] = []  # (sequence, start, end) over query positions
    for s, items in enumerate(seqs.items):
        if every_prefix:
            spans += [(s, max(0, end - window), end) for end in range(len(items), 0, -1)]
            continue
        end = len(items)
        while end > 0:
            start = max(0, end - window)
            spans.append((s, start, end))
            end = start
    n = len(spans)
    tokens = np.zeros((n, window), dtype=np.int32)
    targets = np.zeros((n, window), dtype=np.int32)
    weights = np.zeros((n, window), dtype=np.float32)
    users = np.zeros(n, dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    target_of = {}
    for i, (s, start, end) in enumerate(spans):
        items, w = seqs.items[s], seqs.weights[s]
        if s not in target_of:
            use_days = next_day and seqs.days is not None
            target_of = {s: next_day_targets(seqs.days[s]) if use_days else np.arange(len(items))}
        pos = target_of[s][start:end]
        m = end - start
        tokens[i, 0] = items[start - 1] if start > 0 else bos_row
        tokens[i, 1:m] = items[start : end - 1]
        targets[i, :m] = np.where(pos >= 0, items[np.maximum(pos, 0)], 0)
        weights[i, :m] = np.where(pos >= 0, w[np.maximum(pos, 0)], 0.0)
        if every_prefix:  # only the prefix's own (last) position is its example
            targets[i, : m - 1] = 0
            weights[i, : m - 1] = 0.0
        users[i] = seqs.users[s]
        lengths[i] = m
    keep = (targets > 0).any(axis=1)
    return Windows(tokens[keep], targets[keep], weights[keep], users[keep], lengths[keep])


def config_windows(seqs: Sequences, bos_row: int, config: RetrievalConfig) -> Windows:
    """:func:`training_windows` as ``config`` asks (window length, target, every prefix)."""
    return training_windows(
        seqs,
        config.max_history,
        bos_row,
        next_day=config.target == "next_day",
        every_prefix=config.every_prefix,
    )


def _buckets(window: int, tokens_per_batch: int, every_prefix: bool = False) -> tuple[list[int], list[int]]:
    boundaries = [b for b in (2, 3, 5, 9, 17, 33, 65, 129, 257, 513) if b <= window]
    upper = [b - 1 for b in boundaries] + [window]
    if every_prefix:  # one predicted position per window, whatever its length
        return boundaries, [tokens_per_batch] * len(upper)
    return boundaries, [max(1, tokens_per_batch // u) for u in upper]


def make_dataset(
    windows: Windows,
    user_features: np.ndarray,
    config: RetrievalConfig,
    *,
    shuffle: bool = True,
) -> tf.data.Dataset:
    """Batches of ``{tokens, targets, weights: [b, l]; user: [b]; user_features: [b, f]}``.

    Args:
        windows: from :func:`training_windows`.
        user_features: ``[n_user_rows, f]`` matrix aligned to user rows (see ``user_feature_matrix``).
        config: window length, positions per batch and seed.
        shuffle: reshuffle windows every epoch (seeded).
    """
    feats = (
        user_features[windows.users] if user_features.shape[1] else np.zeros((len(windows), 0), np.float32)
    )
    ds = tf.data.Dataset.from_tensor_slices(
        {
            TOKENS: windows.tokens,
            TARGETS: windows.targets,
            WEIGHTS: windows.weights,
            USER: windows.users,
            FEATURES: feats.astype(np.float32),
            LENGTH: windows.lengths,
        }
    ).cache()
    if shuffle:
        ds = ds.shuffle(max(1, len(windows)), seed=config.seed, reshuffle_each_iteration=True)

    def trim(e: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        n = e[LENGTH]
        return {
            TOKENS: e[TOKENS][:n],
            TARGETS: e[TARGETS][:n],
            WEIGHTS: e[WEIGHTS][:n],
            USER: e[USER],
            FEATURES: e[FEATURES],
        }

    boundaries, sizes = _buckets(config.max_history, config.tokens_per_batch, config.every_prefix)
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.bucket_by_sequence_length(lambda e: tf.shape(e[TOKENS])[0], boundaries, sizes)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(windows: Windows, config: RetrievalConfig) -> int:
    """Batches :func:`make_dataset` makes of ``windows`` in one epoch (a partial one per bucket)."""
    boundaries, sizes = _buckets(config.max_history, config.tokens_per_batch, config.every_prefix)
    bucket = np.searchsorted(np.asarray(boundaries), np.asarray(windows.lengths), side="right")
    counts = np.bincount(bucket, minlength=len(sizes))
    return int(sum(-(-int(n) // size) for n, size in zip(counts, sizes, strict=True)))


def target_frequencies(windows: Windows, num_rows: int) -> np.ndarray:
    """Share of training targets per item row (the in-batch sampler's distribution, for logQ)."""
    mask = windows.weights > 0
    counts = np.bincount(windows.targets[mask], minlength=num_rows).astype(np.float64)
    return (counts / max(1.0, counts.sum())).astype(np.float32)
