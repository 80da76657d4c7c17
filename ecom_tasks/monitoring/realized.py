"""Realized performance: what published recommendations and scores turned out to be (pure frames).

- Recommendations against the purchases of the next day: per judged user (a known customer who
  bought that day and had a published list), the hit (any bought item in the top K), the recall
  (the share of the distinct items they bought that were in the top K) and the NDCG at
  ``ndcg_k`` (binary relevance), averaged over users; popularity's top K (the same list for
  everyone) on the same users.
- Scores against their closed label window: the labels the heads were trained on (churn: no
  purchase in the window; repurchase: a purchase in it), and the gate's metrics of the scores:
  ROC AUC, ECE (calibration), PR AUC, log loss, top-decile lift, named as the gate names them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.contract import ITEM_ID, USER_ID
from ecom_tasks.heads.metrics import binary_metrics
from ecom_tasks.publish.tables import RANK

POPULARITY = "popularity_"
USERS_JUDGED, BUYERS = "users_judged", "buyers"
CUSTOMERS, POSITIVE_RATE, MEAN_SCORE = "customers", "positive_rate", "mean_score"


def hit_rate(k: int) -> str:
    return f"hit_rate_at_{k}"


def recall(k: int) -> str:
    """Named as the retrieval gate's metric (``recall_at_20``), so its threshold applies."""
    return f"recall_at_{k}"


def ndcg(k: int) -> str:
    """Named as the ranking gate's metric (``ranking_ndcg_at_10``), so its threshold applies."""
    return f"ranking_ndcg_at_{k}"


def popular_items(purchases: pd.DataFrame, k: int) -> list[str]:
    """The ``k`` items bought most often in ``purchases`` (ties: by item id)."""
    if purchases.empty:
        return []
    counts = purchases[ITEM_ID].astype(str).value_counts()
    frame = pd.DataFrame({ITEM_ID: counts.index, "n": counts.to_numpy()})
    return frame.sort_values(["n", ITEM_ID], ascending=[False, True], kind="stable")[ITEM_ID].head(k).tolist()


def _user_figures(ranked: list[str], bought: set[str], k: int, ndcg_k: int) -> tuple[float, float, float]:
    top = ranked[:k]
    hits = sum(item in bought for item in top)
    gains = 1.0 / np.log2(np.arange(2, ndcg_k + 2))
    dcg = float(sum(g for item, g in zip(ranked[:ndcg_k], gains, strict=False) if item in bought))
    ideal = float(gains[: min(len(bought), ndcg_k)].sum())
    return float(hits > 0), hits / len(bought), dcg / ideal


def recommendation_figures(
    recommendations: pd.DataFrame, purchases: pd.DataFrame, popular: list[str], k: int, ndcg_k: int
) -> dict[str, float]:
    """Hit rate, recall and NDCG of the published lists and of ``popular`` on the same users.

    Args:
        recommendations: ``user_id, rank, item_id`` (rank 1 = best).
        purchases: the purchases of the judged day: ``user_id, item_id`` (anonymous rows ignored).
        popular: popularity's list, best first.

    Returns ``{users_judged, buyers, hit_rate_at_k, recall_at_k, ranking_ndcg_at_n}`` and the same
    three figures prefixed ``popularity_``; the figures are NaN when no user can be judged.
    """
    known = purchases[purchases[USER_ID].notna()]
    bought = known.groupby(known[USER_ID].astype(str))[ITEM_ID].agg(lambda s: set(map(str, s)))
    recs = recommendations.sort_values([USER_ID, RANK], kind="stable")
    lists = recs.groupby(recs[USER_ID].astype(str), sort=True)[ITEM_ID].agg(lambda s: list(map(str, s)))
    users = sorted(set(bought.index) & set(lists.index))
    out: dict[str, float] = {USERS_JUDGED: float(len(users)), BUYERS: float(len(bought))}
    for prefix, ranked_of in (("", lambda u: lists[u]), (POPULARITY, lambda u: popular)):
        figures = np.array([_user_figures(ranked_of(u), bought[u], k, ndcg_k) for u in users]).reshape(-1, 3)
        means = figures.mean(axis=0) if len(users) else np.full(3, np.nan)
        for name, value in zip((hit_rate(k), recall(k), ndcg(ndcg_k)), means, strict=True):
            out[prefix + name] = float(value)
    return out


def window_labels(customers: pd.Series, buyers: pd.Series, *, positive_if_bought: bool) -> np.ndarray:
    """1/0 per customer: bought in the window (repurchase) or did not (churn)."""
    bought = customers.astype(str).isin(set(buyers.dropna().astype(str)))
    return (bought if positive_if_bought else ~bought).to_numpy().astype(np.int8)


def score_figures(labels: np.ndarray, scores: np.ndarray, task: str, bins: int) -> dict[str, float]:
    """The gate's metrics of ``scores`` on realized ``labels`` (``churn_roc_auc``, ``churn_ece`` ...),
    with the number of customers, the realized positive rate and the mean score."""
    y, p = np.asarray(labels, np.float64), np.asarray(scores, np.float64)
    out = {CUSTOMERS: float(len(y)), POSITIVE_RATE: float(y.mean()), MEAN_SCORE: float(p.mean())}
    return out | binary_metrics(y, p, task, bins=bins)
