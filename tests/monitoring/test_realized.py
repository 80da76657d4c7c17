"""Realized figures on hand-made tables (expected values computed by hand in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.contract import ITEM_ID, USER_ID
from ecom_tasks.monitoring import realized
from ecom_tasks.publish.tables import RANK


def _recs(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(u, r + 1, item) for u, items in lists.items() for r, item in enumerate(items)]
    return pd.DataFrame(rows, columns=[USER_ID, RANK, ITEM_ID])


def _bought(pairs: list[tuple[str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(pairs, columns=[USER_ID, ITEM_ID])


def test_hit_rate_recall_and_ndcg_of_lists_and_popularity() -> None:
    recs = _recs({"a": ["x", "y", "z"], "b": ["p", "q", "r"], "c": ["x", "p", "y"], "d": ["x"]})
    # a bought y and w; b bought nothing in its list; c bought p; d did not buy; e has no list.
    bought = _bought([("a", "y"), ("a", "w"), ("b", "s"), ("c", "p"), ("e", "x"), (None, "x")])
    out = realized.recommendation_figures(recs, bought, ["x", "p"], k=2, ndcg_k=2)
    assert out["users_judged"] == 3 and out["buyers"] == 4  # a, b, c (d did not buy, e had no list)
    assert out["hit_rate_at_2"] == pytest.approx(2 / 3)  # a (y at rank 2), c (p at rank 2)
    assert out["recall_at_2"] == pytest.approx((1 / 2 + 0 + 1) / 3)
    g2 = 1 / math.log2(3)  # the gain at rank 2
    # a: y at rank 2 over the ideal of two relevant items (1 + g2); c: p at rank 2 over 1.
    assert out["ranking_ndcg_at_2"] == pytest.approx((g2 / (1 + g2) + 0 + g2) / 3)
    # Popularity [x, p]: a misses; b misses; c hits p at rank 2.
    assert out["popularity_hit_rate_at_2"] == pytest.approx(1 / 3)
    assert out["popularity_recall_at_2"] == pytest.approx(1 / 3)
    assert out["popularity_ranking_ndcg_at_2"] == pytest.approx(g2 / 3)


def test_only_the_top_k_counts_and_no_judged_user_gives_nan() -> None:
    recs = _recs({"a": ["x", "y", "z"]})
    out = realized.recommendation_figures(recs, _bought([("a", "z")]), [], k=2, ndcg_k=2)
    assert out["hit_rate_at_2"] == 0.0 and out["recall_at_2"] == 0.0
    none = realized.recommendation_figures(recs, _bought([("b", "z")]), [], k=2, ndcg_k=2)
    assert none["users_judged"] == 0 and math.isnan(none["recall_at_2"])


def test_popular_items_counts_purchases_and_breaks_ties_by_id() -> None:
    bought = _bought([("a", "y"), ("b", "y"), ("a", "x"), ("c", "w"), ("d", "z"), ("d", "z")])
    assert realized.popular_items(bought, 3) == ["y", "z", "w"]
    assert realized.popular_items(bought.head(0), 3) == []


def test_window_labels_and_the_gates_metrics_of_scores() -> None:
    customers = pd.Series(["a", "b", "c", "d"])
    buyers = pd.Series(["b", "d", "d", None])
    assert realized.window_labels(customers, buyers, positive_if_bought=True).tolist() == [0, 1, 0, 1]
    churn = realized.window_labels(customers, buyers, positive_if_bought=False)
    assert churn.tolist() == [1, 0, 1, 0]
    # Churn risk that ranks a and c (the churners) first: AUC 1; calibration by hand:
    # bins of width 0.1: 0.9, 0.8 -> churned (gap 0.1, 0.2), 0.2, 0.1 -> stayed (gap 0.2, 0.1).
    out = realized.score_figures(churn, np.array([0.9, 0.2, 0.8, 0.1]), "churn", bins=10)
    assert out["churn_roc_auc"] == 1.0 and out["customers"] == 4 and out["positive_rate"] == 0.5
    assert out["churn_ece"] == pytest.approx((0.1 + 0.2 + 0.2 + 0.1) / 4)
    assert out["mean_score"] == pytest.approx(0.5)
