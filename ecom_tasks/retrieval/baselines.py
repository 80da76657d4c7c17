"""Baselines on the same split and metrics as the model: popularity and item-kNN.

- popularity: items ranked by how many training interactions they have.
- item-kNN: cosine similarity of items' user sets (binary co-occurrence, Sarwar et al. 2001);
  a user's score for item i is the sum of i's similarities to the items in the user's history
  (an item is similar to itself, so re-buying scores high where repeats are allowed). Ties,
  including users whose history shares nobody with anyone, are broken by popularity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ecom_tasks.retrieval.config import METRIC_KS
from ecom_tasks.retrieval.evaluate import evaluate_scores


def popularity(train_columns: Sequence[np.ndarray], n_items: int) -> np.ndarray:
    """``[n_items]`` training interaction counts (columns < 0 ignored)."""
    cols = np.concatenate([np.asarray(c) for c in train_columns]) if len(train_columns) else np.zeros(0, int)
    cols = cols[(cols >= 0) & (cols < n_items)]
    return np.bincount(cols, minlength=n_items).astype(np.float32)


def _binary(rows: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    indptr = [0]
    indices: list[np.ndarray] = []
    for cols in rows:
        cols = np.unique(np.asarray(cols))
        cols = cols[(cols >= 0) & (cols < n_items)]
        indices.append(cols)
        indptr.append(indptr[-1] + len(cols))
    idx = np.concatenate(indices) if indices else np.zeros(0, int)
    return sp.csr_matrix((np.ones(len(idx), np.float32), idx, indptr), shape=(len(rows), n_items))


def item_knn_similarity(train_columns: Sequence[np.ndarray], n_items: int) -> sp.csr_matrix:
    """``[n_items, n_items]`` cosine similarity of the items' sets of training users (sparse)."""
    x = _binary(train_columns, n_items).tocsc()
    co = (x.T @ x).tocsr().astype(np.float32)
    norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel()).astype(np.float32)
    inv = np.divide(1.0, norm, out=np.zeros_like(norm), where=norm > 0)
    return (sp.diags(inv) @ co @ sp.diags(inv)).tocsr()


def evaluate_baselines(
    train_columns: Sequence[np.ndarray],
    histories: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    n_items: int,
    *,
    exclusions: Sequence[np.ndarray] | None = None,
    ks: Sequence[int] = METRIC_KS,
) -> dict[str, float]:
    """``popularity_*`` and ``itemknn_*`` metrics.

    Args:
        train_columns: item columns of each training user's interactions (fits both baselines).
        histories: item columns of each evaluated user's history (what item-kNN reads).
        targets / exclusions: as in :func:`ecom_tasks.retrieval.evaluate.ranking_metrics`.
    """
    pop = popularity(train_columns, n_items)
    pop_scores = pop[None, :]
    out = evaluate_scores(
        lambda users: np.broadcast_to(pop_scores, (len(users), n_items)),
        len(targets),
        targets,
        exclusions=exclusions,
        ks=ks,
        prefix="popularity_",
    )
    sim = item_knn_similarity(train_columns, n_items)
    hist = _binary(histories, n_items)
    tiebreak = (pop / max(1.0, float(pop.max())) * 1e-5)[None, :].astype(np.float32)
    out.update(
        evaluate_scores(
            lambda users: (hist[users] @ sim).toarray() + tiebreak,
            len(targets),
            targets,
            exclusions=exclusions,
            ks=ks,
            prefix="itemknn_",
        )
    )
    return out
