"""The repeat bonus: history items get ``repeat_bonus`` on their cosine score wherever the model ranks.

One untrained tiny model (scoring does not depend on training): evaluation, the backbone and the
exported SavedModel must all lift a history item above the item whose raw score is just higher.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ecom_tasks.errors import ConfigError
from ecom_tasks.retrieval import data, evaluate, export, scoring, train
from ecom_tasks.retrieval.backbone import Backbone
from ecom_tasks.retrieval.config import SERVING_FEATURES, SERVING_HISTORY, SERVING_USER_ID, RetrievalConfig
from tests.retrieval.conftest import tiny_config

BONUS = 0.5


def test_bonus_is_added_once_per_history_item_and_exclusion_wins() -> None:
    scores = tf.constant([[0.9, 0.5, 0.4, 0.1], [0.2, 0.3, 0.4, 0.5]])
    history = tf.constant(scoring.pad_columns([[2, 2, -1], [0]]))  # repeated, padded, unknown
    lifted = scoring.add_repeat_bonus(scores, history, 1.0).numpy()
    np.testing.assert_allclose(lifted, [[0.9, 0.5, 1.4, 0.1], [1.2, 0.3, 0.4, 0.5]], rtol=1e-6)
    both = scoring.score_items(
        scores,
        tf.eye(4),  # queries @ candidates.T == scores
        history=history,
        bonus=1.0,
        exclude=tf.constant([[2], [-1]], tf.int64),
    ).numpy()
    assert both[0, 2] == -np.inf and both[1, 0] == pytest.approx(1.2)
    assert scoring.pad_columns([[1, 2, 3], []], width=2).tolist() == [[2, 3], [-1, -1]]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "1", True])
def test_repeat_bonus_must_be_a_finite_non_negative_number(bad) -> None:
    with pytest.raises(ConfigError, match="repeat_bonus"):
        RetrievalConfig(repeat_bonus=bad)


def _model(toy):
    interactions, items = toy
    config = tiny_config(repeat_bonus=BONUS)
    clean = data.clean_interactions(interactions)
    vocabs = data.build_vocabularies(clean, items, None, config)
    feats = data.user_feature_matrix(None, vocabs)
    return config, vocabs, feats, train.build_model(vocabs, config, items, feats)


def _eval_set(vocabs, config, feats, user: str, item: str) -> evaluate.EvalSet:
    row = vocabs.item_rows([item])
    hist = data.Sequences(vocabs.user_rows([user]), [row.copy()], [np.ones(1)])
    return evaluate.make_eval_set(hist, [row], vocabs, config, feats, exclude_history=False)


def test_bonus_lifts_a_history_item_in_evaluation_backbone_and_saved_model(toy, tmp_path) -> None:
    config, vocabs, feats, model = _model(toy)
    catalogue = vocabs.items[vocabs.first_item_row :]
    items = train.item_embeddings(model, vocabs)
    # A history item whose raw score has another item just above it, within the bonus.
    for user, seen in ((u, i) for u in ("u3", "u5", "u8") for i in catalogue):
        eval_set = _eval_set(vocabs, config, feats, user, seen)
        raw = (train.query_embeddings(model, eval_set) @ items.T)[0]
        a = catalogue.index(seen)
        above = np.flatnonzero(raw > raw[a])
        if len(above) and raw[above].min() - raw[a] < BONUS:
            break
    else:
        pytest.fail("no history item with a slightly higher-scored neighbour in the toy model")
    b = int(above[np.argmin(raw[above])])  # the item just above the history item
    k = len(above)  # a's raw position (0-based): outside the raw top k, inside it with the bonus

    # Evaluation (metrics.json and the gate): the target is the history item itself.
    assert train.evaluate_model(model, eval_set, vocabs, ks=(k,), repeat_bonus=0.0)[f"hr_at_{k}"] == 0.0
    assert train.evaluate_model(model, eval_set, vocabs, ks=(k,))[f"hr_at_{k}"] == 1.0
    top = train.top_items(
        train.query_embeddings(model, eval_set),
        items,
        len(catalogue),
        histories=eval_set.histories,
        repeat_bonus=BONUS,
    )[0].tolist()
    assert top.index(a) < top.index(b)

    # Backbone.top_k (ranking candidates, champion scoring) and the exported SavedModel.
    inputs = {
        SERVING_USER_ID: np.array([user]),
        SERVING_HISTORY: np.array([[seen]]),
        SERVING_FEATURES: np.zeros((1, 0), np.float32),
    }
    ids, scores = Backbone(model, vocabs, config, []).top_k(inputs, len(catalogue))
    assert ids[0].tolist() == [catalogue[c] for c in top]
    got = dict(zip(ids[0], scores[0], strict=True))
    assert got[seen] == pytest.approx(raw[a] + BONUS, abs=1e-5)
    assert got[catalogue[b]] == pytest.approx(raw[b], abs=1e-5)

    loaded = export.load_recommender(export.export_saved_model(model, vocabs, str(tmp_path / "sm"), k=5))
    served, served_scores = export.recommend(loaded, [user], [[seen]], k=len(catalogue))
    assert served[0].tolist() == ids[0].tolist()
    np.testing.assert_allclose(served_scores, scores, atol=1e-5)
    # Excluding wins over the bonus.
    kept, _ = export.recommend(loaded, [user], [[seen]], k=len(catalogue) - 1, exclude=[[seen]])
    assert seen not in kept[0] and len(set(kept[0])) == len(catalogue) - 1


def test_distinct_counts_gives_each_rows_items_and_how_often() -> None:
    columns, counts = scoring.distinct_counts([np.array([3, 1, 3, -1, 3]), np.array([], int), np.array([0])])
    np.testing.assert_array_equal(columns, [[1, 3], [-1, -1], [0, -1]])
    np.testing.assert_array_equal(counts, [[1, 3], [0, 0], [1, 0]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_lift_ranks_as_the_lift_added_to_every_score(seed) -> None:
    # Integer scores force ties (lower column first), some rows have excluded history items and
    # fewer servable items than k; lifts include none, negative ones and per-count ones.
    rng = np.random.default_rng(seed)
    b, n, k = 9, 30, 12
    scores = tf.constant(rng.integers(0, 6, (b, n)).astype(np.float32) / 4)
    histories = [rng.integers(-1, n, rng.integers(0, 25)) for _ in range(b)]
    exclude = [rng.choice(n, 26 if r == 0 else rng.integers(0, 5), replace=False) for r in range(b)]
    scores = scoring.exclude_columns(scores, tf.constant(scoring.pad_columns(exclude)))
    lifts = [(0.0, 0.0), (0.25, 0.0), (0.0, 0.5), (0.5, 0.25), (-0.25, 0.0), (0.0, -0.5)]
    columns, counts = scoring.distinct_counts(histories)
    got = scoring.top_k_each_lift(scores, columns, counts, lifts, k)
    history = tf.constant(scoring.pad_columns(histories))
    for (bonus, per_count), ranked in zip(lifts, got, strict=True):
        best = tf.math.top_k(scoring.add_repeat_bonus(scores, history, bonus, per_count), k=k)
        np.testing.assert_array_equal(ranked, scoring.served_columns(best.values, best.indices))
    assert (got[0][0] == -1).sum() == k - (n - 26)  # the row with 26 of 30 excluded: empty slots
