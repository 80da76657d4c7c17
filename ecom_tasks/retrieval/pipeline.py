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
        return int(self.lengths.sum())


def training_windows(seqs: Sequences, window: int, bos_row: int) -> Windows:
    """Cut every sequence into windows of at most ``window`` positions, newest window last.

    Every item of every sequence is a target exactly once; the first window of a sequence starts
    with BOS, later ones with the item before their first target.
    """
    spans: list[tuple[int, int, int]] = []  # (sequence, start, end) over target positions
    for s, items in enumerate(seqs.items):
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
    for i, (s, start, end) in enumerate(spans):
        items, w = seqs.items[s], seqs.weights[s]
        m = end - start
        prev = items[start - 1] if start > 0 else bos_row
        tokens[i, 0] = prev
        tokens[i, 1:m] = items[start : end - 1]
        targets[i, :m] = items[start:end]
        weights[i, :m] = w[start:end]
        users[i] = seqs.users[s]
        lengths[i] = m
    return Windows(tokens, targets, weights, users, lengths)


def _buckets(window: int, tokens_per_batch: int) -> tuple[list[int], list[int]]:
    boundaries = [b for b in (2, 3, 5, 9, 17, 33, 65, 129, 257, 513) if b <= window]
    upper = [b - 1 for b in boundaries] + [window]
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

    boundaries, sizes = _buckets(config.max_history, config.tokens_per_batch)
    ds = ds.map(trim, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.bucket_by_sequence_length(lambda e: tf.shape(e[TOKENS])[0], boundaries, sizes)
    return ds.prefetch(tf.data.AUTOTUNE)


def target_frequencies(windows: Windows, num_rows: int) -> np.ndarray:
    """Share of training targets per item row (the in-batch sampler's distribution, for logQ)."""
    mask = windows.weights > 0
    counts = np.bincount(windows.targets[mask], minlength=num_rows).astype(np.float64)
    return (counts / max(1.0, counts.sum())).astype(np.float32)
