"""Full-ranking metrics and the baselines, on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecom_tasks.retrieval.baselines import evaluate_baselines, item_knn_similarity, popularity
from ecom_tasks.retrieval.evaluate import evaluate_embeddings, metric_names, ranking_metrics, top_k


def test_ranking_metrics_by_hand() -> None:
    top = np.array([[3, 1, 2], [0, 1, 2], [4, 5, 6]])
    targets = [np.array([1]), np.array([2, 0, 9]), np.array([7])]
    m = ranking_metrics(top, targets, ks=(1, 3))
    # user 0: hit at rank 1; user 1: hits at ranks 0 and 2 of 3 targets; user 2: no hit
    assert m["hr_at_1"] == pytest.approx(1 / 3)
    assert m["recall_at_1"] == pytest.approx((0 + 1 / 3 + 0) / 3)
    assert m["hr_at_3"] == pytest.approx(2 / 3)
    assert m["recall_at_3"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    ndcg0 = 1 / math.log2(3)
    ndcg1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert m["ndcg_at_3"] == pytest.approx((ndcg0 + ndcg1 + 0) / 3)
    assert m["ndcg_at_1"] == pytest.approx((0 + 1 + 0) / 3)
    assert set(m) == set(metric_names((1, 3)))


def test_users_without_targets_are_skipped_and_unknown_targets_never_hit() -> None:
    m = ranking_metrics(np.array([[0, 1], [0, 1]]), [np.array([], int), np.array([-1, 1])], ks=(2,))
    assert m["recall_at_2"] == pytest.approx(0.5) and m["hr_at_2"] == 1.0
    assert math.isnan(ranking_metrics(np.zeros((1, 2), int), [np.array([], int)], ks=(2,))["hr_at_2"])


def test_top_k_orders_and_excludes() -> None:
    scores = np.array([[0.1, 0.9, 0.5, 0.7]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2]]
    assert top_k(scores, 2, [np.array([1])]).tolist() == [[3, 2]]


def test_evaluate_embeddings_full_ranking() -> None:
    items = np.eye(4, dtype=np.float32)
    queries = np.array([[0, 1, 0.5, 0], [1, 0, 0, 0.2]], np.float32)
    m = evaluate_embeddings(queries, items, [np.array([2]), np.array([0])], ks=(1, 2))
    assert m["hr_at_1"] == 0.5 and m["hr_at_2"] == 1.0
    m = evaluate_embeddings(
        queries, items, [np.array([2]), np.array([0])], ks=(1,), exclusions=[np.array([1]), np.array([])]
    )
    assert m["hr_at_1"] == 1.0


def test_popularity_and_item_knn_on_a_tiny_frame() -> None:
    train = [np.array([0, 1]), np.array([0, 1, 2]), np.array([2, 3]), np.array([0])]
    assert popularity(train, 4).tolist() == [3, 2, 2, 1]
    sim = item_knn_similarity(train, 4).toarray()
    assert sim[0, 1] == pytest.approx(2 / math.sqrt(3 * 2))  # users {0,1,3} and {0,1}
    assert sim[2, 3] == pytest.approx(1 / math.sqrt(2 * 1)) and sim[0, 3] == 0
    assert sim[1, 1] == pytest.approx(1.0)
    # A user who had item 3 should get item 2 first (its only neighbour) from item-kNN.
    m = evaluate_baselines(train, [np.array([3])], [np.array([2])], 4, exclusions=[np.array([3])], ks=(1,))
    assert m["itemknn_hr_at_1"] == 1.0
    assert m["popularity_hr_at_1"] == 0.0  # popularity says item 0
    assert set(m) == set(metric_names((1,), "popularity_")) | set(metric_names((1,), "itemknn_"))


def test_tensorflow_top_items_match_the_numpy_ranking() -> None:
    from ecom_tasks.retrieval.train import top_items

    rng = np.random.default_rng(1)
    queries, items = rng.normal(size=(7, 5)), rng.normal(size=(30, 5))
    excl = [np.array([0, 3]), np.array([], int), np.array([-1]), *[np.array([i]) for i in range(4)]]
    np.testing.assert_array_equal(top_items(queries, items, 6, excl), top_k(queries @ items.T, 6, excl))
