"""Full-ranking evaluation: Recall@K, NDCG@K and HR@K over all items, no sampled negatives.

Items are *columns* ``0..n_items-1``; each evaluated user has a set of target columns (one for
leave-one-out, the distinct items of a test window otherwise; a target outside the catalogue is
column -1 and can never be hit) and optionally columns excluded from the ranking (items already
had, in the literature's leave-one-out protocol). For one user with targets T and ranking r:

- ``recall_at_K`` = |top-K ∩ T| / |T|
- ``hr_at_K`` = 1 if top-K ∩ T is not empty
- ``ndcg_at_K`` = sum over hits at rank i (0-based) of 1/log2(i+2), divided by the same sum for
  an ideal ranking of min(|T|, K) hits.

Each metric is the mean over users. :class:`EvalSet` holds the users to evaluate a model on
(query-tower inputs, targets, histories for item-kNN, exclusions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ecom_tasks.publish import evaluation
from ecom_tasks.retrieval.config import METRIC_KS, RetrievalConfig
from ecom_tasks.retrieval.data import Sequences, Vocabularies, history_windows

ScoreFn = Callable[[np.ndarray], np.ndarray]  # user positions [u] -> scores [u, n_items]


def metric_names(ks: Sequence[int] = METRIC_KS, prefix: str = "") -> list[str]:
    """``recall_at_K, ndcg_at_K, hr_at_K`` for each K, with ``prefix``."""
    return [f"{prefix}{m}_at_{k}" for k in ks for m in ("recall", "ndcg", "hr")]


def top_k(scores: np.ndarray, k: int, exclusions: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """``[u, k]`` columns of the k best scores per row, best first (excluded columns never returned)."""
    scores = np.array(scores, dtype=np.float32, copy=True)
    if exclusions is not None:
        for i, cols in enumerate(exclusions):
            cols = cols[cols >= 0]
            if len(cols):
                scores[i, cols] = -np.inf
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def ranking_metrics(
    top: np.ndarray, targets: Sequence[np.ndarray], ks: Sequence[int] = METRIC_KS, prefix: str = ""
) -> dict[str, float]:
    """Mean Recall/NDCG/HR@K of rankings ``top`` ([u, >=max(ks)] columns) against ``targets``.

    Users without targets are skipped; with no users left every metric is NaN.
    """
    keep = [i for i, t in enumerate(targets) if len(t)]
    if not keep:
        return dict.fromkeys(metric_names(ks, prefix), float("nan"))
    top = np.asarray(top)[keep]
    rows = [np.asarray(targets[i], np.int64).ravel() for i in keep]
    columns = np.concatenate(rows)
    owner = np.repeat(np.arange(len(keep)), [len(t) for t in rows])
    width = max(int(top.max(initial=0)), int(columns.max())) + 2
    # A hit is a (user, column) pair present in both; encode pairs as integers to test them at once
    # (one np.unique for every user's distinct targets).
    pair_keys = np.unique(owner * width + (columns + 1))
    # A negative column in a ranking is an empty slot (nothing servable left), never a hit.
    ranked = np.arange(len(keep))[:, None] * width + (top + 1)
    found = pair_keys[np.minimum(np.searchsorted(pair_keys, ranked), len(pair_keys) - 1)] == ranked
    hits = found & (top >= 0)
    sizes = np.bincount(pair_keys // width, minlength=len(keep)).astype(np.float64)
    discount = 1.0 / np.log2(np.arange(top.shape[1]) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])
    out: dict[str, float] = {}
    for k in ks:
        h = hits[:, :k]
        n_hit = h.sum(axis=1)
        per_user = {
            f"{prefix}recall_at_{k}": n_hit / sizes,
            f"{prefix}ndcg_at_{k}": (h * discount[:k]).sum(axis=1) / ideal[np.minimum(sizes, k).astype(int)],
            f"{prefix}hr_at_{k}": (n_hit > 0).astype(np.float64),
        }
        for name, values in per_user.items():
            out[name] = float(np.mean(values))
            # Kept while a recording is active (the test split); users without targets are NaN.
            evaluation.record(name, values, at=keep, size=len(targets))
    return out


def evaluate_scores(
    score_fn: ScoreFn,
    n_users: int,
    targets: Sequence[np.ndarray],
    *,
    exclusions: Sequence[np.ndarray] | None = None,
    ks: Sequence[int] = METRIC_KS,
    prefix: str = "",
    batch_size: int = 1024,
) -> dict[str, float]:
    """Score every user against every item in batches and compute :func:`ranking_metrics`."""
    k_max = max(ks)
    tops = []
    for start in range(0, n_users, batch_size):
        users = np.arange(start, min(n_users, start + batch_size))
        excl = None if exclusions is None else [exclusions[i] for i in users]
        tops.append(top_k(score_fn(users), k_max, excl))
    top = np.concatenate(tops) if tops else np.zeros((0, k_max), dtype=np.int64)
    return ranking_metrics(top, targets, ks, prefix)


def evaluate_embeddings(
    queries: np.ndarray,
    candidates: np.ndarray,
    targets: Sequence[np.ndarray],
    *,
    exclusions: Sequence[np.ndarray] | None = None,
    ks: Sequence[int] = METRIC_KS,
    prefix: str = "",
) -> dict[str, float]:
    """Metrics of dot-product rankings: ``queries`` [u, d] against ``candidates`` [n_items, d]."""
    queries = np.asarray(queries, dtype=np.float32)
    candidates_t = np.ascontiguousarray(np.asarray(candidates, dtype=np.float32).T)
    return evaluate_scores(
        lambda users: queries[users] @ candidates_t,
        len(queries),
        targets,
        exclusions=exclusions,
        ks=ks,
        prefix=prefix,
    )


@dataclass
class EvalSet:
    """Users to rank all items for: query-tower inputs, target columns, optional exclusions."""

    tokens: np.ndarray
    lengths: np.ndarray
    users: np.ndarray
    features: np.ndarray
    targets: list[np.ndarray]
    histories: list[np.ndarray]  # item columns of each user's history (for item-kNN)
    exclusions: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, idx: np.ndarray) -> EvalSet:
        pick = [int(i) for i in idx]
        return EvalSet(
            self.tokens[idx],
            self.lengths[idx],
            self.users[idx],
            self.features[idx],
            [self.targets[i] for i in pick],
            [self.histories[i] for i in pick],
            None if self.exclusions is None else [self.exclusions[i] for i in pick],
        )


def make_eval_set(
    histories: Sequences,
    target_rows: list[np.ndarray],
    vocabs: Vocabularies,
    config: RetrievalConfig,
    user_features: np.ndarray,
    *,
    exclude_history: bool,
) -> EvalSet:
    """An :class:`EvalSet` from histories (item rows) and each user's target item rows."""
    tokens = history_windows(histories.items, config.max_history, vocabs.bos_row)
    lengths = np.minimum(np.array([len(s) for s in histories.items], np.int32) + 1, config.max_history)
    first = vocabs.first_item_row
    to_cols = [
        np.where(np.asarray(r) >= first, np.asarray(r) - first, -1).astype(np.int64) for r in target_rows
    ]
    hist_cols = [np.asarray(s, np.int64) - first for s in histories.items]
    feats = (
        user_features[histories.users]
        if user_features.shape[1]
        else np.zeros((len(histories), 0), np.float32)
    )
    return EvalSet(
        tokens, lengths, histories.users, feats, to_cols, hist_cols, hist_cols if exclude_history else None
    )
