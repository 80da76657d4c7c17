"""Metrics on hand-computed cases, ordering, selection and configuration checks (no TensorFlow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecom_tasks.errors import ConfigError
from ecom_tasks.ranking.config import SELECTED_HEAD, SELECTED_RETRIEVAL, FreezeSchedule, RankingConfig
from ecom_tasks.ranking.metrics import list_metrics, order_by_scores

D1 = 1 / math.log2(3)  # the discount of the second place


def test_ndcg_and_recall_match_hand_computed_values() -> None:
    ranked = [["a", "b", "c"], ["x", "y"], ["p"]]
    targets = [["b"], ["y", "z"], []]  # the third user has no target: left out of the means
    out = list_metrics(ranked, targets, k=10, prefix="ranking_")
    # user 1: one hit at place 2 -> D1 / 1; user 2: one hit at place 2 of two targets -> D1 / (1 + D1)
    assert out["ranking_ndcg_at_10"] == pytest.approx((D1 + D1 / (1 + D1)) / 2)
    assert out["ranking_recall_at_10"] == pytest.approx((1 + 0.5) / 2)
    assert set(out) == {"ranking_ndcg_at_10", "ranking_recall_at_10"}


def test_cutoff_padding_and_duplicates_are_not_hits() -> None:
    assert list_metrics([["x", "a"]], [["a"]], k=1)["recall_at_1"] == 0.0  # beyond K
    assert list_metrics([["", "a"]], [["", "a"]], k=2)["ndcg_at_2"] == pytest.approx(D1)  # "" is padding
    assert list_metrics([["a", "a"]], [["a", "b"]], k=2)["recall_at_2"] == 0.5  # counted once
    assert list_metrics([["a"], ["b"]], [["a"], ["b"]])["ndcg_at_10"] == 1.0
    assert math.isnan(list_metrics([["a"]], [[]])["ndcg_at_10"])
    with pytest.raises(ValueError, match="2 lists but targets has 1"):
        list_metrics([["a"], ["b"]], [["a"]])


def test_order_by_scores_is_stable_and_puts_padding_last() -> None:
    items = np.array([["a", "b", "", "c"], ["d", "e", "f", ""]])
    scores = np.array([[0.1, 0.5, 9.0, 0.5], [0.0, 0.0, 0.0, 9.0]])
    ordered = order_by_scores(items, scores)
    assert ordered.tolist() == [["b", "c", "a", ""], ["d", "e", "f", ""]]  # ties keep the input order


def test_select_is_explicit_about_the_retrieval_order() -> None:
    from ecom_tasks.ranking.core import select

    better, worse = {"head_ndcg_at_10": 0.3}, {"head_ndcg_at_10": 0.1}
    retrieval = {"retrieval_ndcg_at_10": 0.2}
    assert select(better, retrieval, 0.0, 5)[0] == SELECTED_HEAD
    chosen, reason = select(worse, retrieval, 0.0, 5)
    assert chosen == SELECTED_RETRIEVAL and "does not beat the retrieval order" in reason
    assert select(better, retrieval, 0.2, 5)[0] == SELECTED_RETRIEVAL  # not by the required margin
    assert select(better, retrieval, 0.0, 0)[0] == SELECTED_RETRIEVAL  # nothing to evaluate on
    assert select({}, {}, 0.0, 0)[0] == SELECTED_RETRIEVAL  # no validation users at all


def test_schedule_freezes_first_then_unfreezes_at_a_lower_rate() -> None:
    phases = FreezeSchedule().phases
    assert [p[0] for p in phases] == [False, True]
    assert phases[1][2] < phases[0][2]
    assert FreezeSchedule(frozen_epochs=0, unfrozen_epochs=2).phases == [(True, 2, 3e-4)]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FreezeSchedule(frozen_epochs=-1), "frozen_epochs"),
        (lambda: FreezeSchedule(frozen_epochs=0, unfrozen_epochs=0), "at least one epoch"),
        (lambda: FreezeSchedule(unfrozen_learning_rate=0.0), "unfrozen_learning_rate"),
        (lambda: RankingConfig(top_k=30, candidates=20), "top_k"),
        (lambda: RankingConfig(eval_days=0), "eval_days"),
        (lambda: RankingConfig(hidden_units=()), "hidden_units"),
        (lambda: RankingConfig(validation_fraction=1.0), "validation_fraction"),
    ],
)
def test_bad_configuration_names_the_parameter(make, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()
