"""NDCG@K and Recall@K of ordered candidate lists against the items each user bought.

For one user with target set T (every item bought in the evaluation window, including items the
retrieval model did not propose: those are misses for every ordering of the same list) and an
ordered list r:

- ``recall_at_K`` = |top-K of r ∩ T| / |T|
- ``ndcg_at_K`` = sum over hits at 0-based rank i < K of 1/log2(i+2), divided by the same sum of
  an ideal list with min(|T|, K) hits.

Each metric is the mean over users with at least one target; the same definitions as the
retrieval stage's full-ranking evaluation, so the numbers are comparable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ecom_tasks.publish import evaluation
from ecom_tasks.ranking.config import METRIC_K


def list_metrics(
    ranked: Sequence[Sequence[str]], targets: Sequence[Sequence[str]], k: int = METRIC_K, prefix: str = ""
) -> dict[str, float]:
    """``{prefix}ndcg_at_{k}`` and ``{prefix}recall_at_{k}`` of ordered item lists.

    Args:
        ranked: per user, item ids best first (padding ``""`` entries are never hits).
        targets: per user, the items that count as hits.
        k: the cut-off.
        prefix: metric name prefix (``ranking_``, ``retrieval_``).

    Returns:
        The two means over users with targets (NaN when there is none).
    """
    if len(ranked) != len(targets):
        raise ValueError(f"ranked has {len(ranked)} lists but targets has {len(targets)}")
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])
    ndcg, recall = [], []
    counted = []  # the lists with targets, whose figures the means are made of
    for row, (items, wanted) in enumerate(zip(ranked, targets, strict=True)):
        tset = {t for t in wanted if t}
        if not tset:
            continue
        counted.append(row)
        top = list(items)[:k]
        hits = np.array([bool(i) and i in tset for i in top] + [False] * (k - len(top)))
        # An item listed twice counts once: later copies are not hits.
        seen: set[str] = set()
        for j, item in enumerate(top):
            if hits[j] and item in seen:
                hits[j] = False
            seen.add(item)
        ndcg.append(float((hits * discount).sum() / ideal[min(len(tset), k)]))
        recall.append(hits.sum() / len(tset))
    for name, values in ((f"{prefix}ndcg_at_{k}", ndcg), (f"{prefix}recall_at_{k}", recall)):
        # Kept while a recording is active (the evaluation lists); lists without targets are NaN.
        evaluation.record(name, values, at=counted, size=len(ranked))
    nan = float("nan")
    return {
        f"{prefix}ndcg_at_{k}": float(np.mean(ndcg)) if ndcg else nan,
        f"{prefix}recall_at_{k}": float(np.mean(recall)) if recall else nan,
    }


def order_by_scores(item_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``[u, c]`` item ids sorted by descending score per row; padding (``""``) last.

    Ties keep the input order (the retrieval order), so a constant scorer is the identity.
    """
    item_ids = np.asarray(item_ids)
    scores = np.where(item_ids == "", -np.inf, np.asarray(scores, dtype=np.float64))
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(item_ids, order, axis=1)
