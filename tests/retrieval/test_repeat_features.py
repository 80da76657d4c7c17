"""The learned repeat signal (``RetrievalConfig.repeat_features``).

In the loss each query's logit of an item it has read gets ``w_read + w_count * log(1 + times
read)``; every place that ranks for a user adds the same lift (``RetrievalModel.repeat_lift``).
Checked by hand on small tensors, then on toy shops: customers who buy their own items again
(the lift is learned positive and lifts recall) and walks that never repeat (learned negative).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from ecom_tasks import storage
from ecom_tasks.contract import ITEM_ID, TS, USER_ID
from ecom_tasks.retrieval import backbone as bb
from ecom_tasks.retrieval import data, evaluate, export, pipeline, scoring, train
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    INTERACTIONS_TABLE,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_USER_ID,
    WEIGHT,
)
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.retrieval.conftest import START, catalogue, tiny_config, walks


def test_the_lift_grows_with_the_times_an_item_is_in_the_history_and_may_be_negative() -> None:
    scores = tf.constant([[0.9, 0.5, 0.4, 0.1]])
    history = tf.constant(scoring.pad_columns([[2, 1, 2, -1]]))  # item 2 twice, padding
    got = scoring.add_repeat_bonus(scores, history, 0.1, per_count=0.2).numpy()[0]
    want = [0.9, 0.5 + 0.1 + 0.2 * math.log(2), 0.4 + 0.1 + 0.2 * math.log(3), 0.1]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    lowered = scoring.add_repeat_bonus(scores, history, -0.5).numpy()[0]
    np.testing.assert_allclose(lowered, [0.9, 0.0, -0.1, 0.1], atol=1e-6)  # a scatter-max would keep 0.5


@pytest.mark.parametrize(("bonus", "per_count"), [(0.3, 0.1), (-0.4, 0.05), (0.2, -0.1)])
def test_top_k_with_a_lift_is_the_exact_top_k_of_the_lifted_scores(bonus, per_count) -> None:
    rng = np.random.default_rng(7)
    scores = tf.constant(rng.normal(size=(40, 700)).astype(np.float32))  # two-stage path: many rows
    history = tf.constant(
        scoring.pad_columns([rng.integers(0, 700, size=rng.integers(1, 30)) for _ in range(40)])
    )
    values, columns = scoring.top_k(scores, 10, history=history, bonus=bonus, per_count=per_count)
    want = tf.math.top_k(scoring.add_repeat_bonus(scores, history, bonus, per_count), k=10)
    np.testing.assert_allclose(values.numpy(), want.values.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(columns.numpy(), want.indices.numpy())


def _model(**overrides):
    interactions, items = walks(), catalogue()
    config = tiny_config(**{"repeat_features": True, "negatives": "full", **overrides})
    clean = data.clean_interactions(interactions)
    vocabs = data.build_vocabularies(clean, items, None, config)
    feats = data.user_feature_matrix(None, vocabs)
    return config, vocabs, feats, train.build_model(vocabs, config, items, feats)


def test_each_query_lifts_only_the_items_it_has_read_by_how_often() -> None:
    config, vocabs, _, model = _model()
    model.repeat_weights.assign([0.5, 1.0])
    a, b = vocabs.first_item_row + 3, vocabs.first_item_row + 7
    tokens = tf.constant([[vocabs.bos_row, a, b, a, 0]], tf.int32)
    valid = tf.constant([[True, True, True, True, False]])
    items, lifts = (t.numpy() for t in model._read_lifts(tokens, valid))
    scale = 1.0 / config.temperature  # the lift is in score units, the loss in logits
    assert (items[0] == -1).all()  # query 0 has read only BOS
    assert items[1].tolist() == [-1, a, -1, -1, -1]
    np.testing.assert_allclose(lifts[1, 1], (0.5 + math.log(2)) * scale, rtol=1e-6)
    assert items[3].tolist() == [-1, a, b, a, -1]
    np.testing.assert_allclose(
        lifts[3, [1, 2, 3]],
        np.array([0.5 + math.log(3), 0.5 + math.log(2), 0.5 + math.log(3)]) * scale,
        rtol=1e-6,
    )
    # As a [queries, items] matrix: item a's column carries its count-3 lift once, b's its own.
    n = vocabs.num_items
    matrix = model._lift_matrix(
        (items, lifts), tf.range(len(vocabs.items)) - vocabs.first_item_row, n
    ).numpy()
    col_a, col_b = a - vocabs.first_item_row, b - vocabs.first_item_row
    np.testing.assert_allclose(matrix[3, [col_a, col_b]], lifts[3, [1, 2]], rtol=1e-6)
    assert np.count_nonzero(matrix[3]) == 2 and np.count_nonzero(matrix[0]) == 0


def test_the_full_softmax_loss_adds_the_lift_to_the_logits_of_read_items() -> None:
    config, vocabs, _, model = _model()
    model.repeat_weights.assign([0.3, 0.2])
    a, b = vocabs.first_item_row + 1, vocabs.first_item_row + 2
    tokens = np.array([[vocabs.bos_row, a, b, a]], np.int32)
    targets = np.array([[a, b, a, b]], np.int32)
    batch = {
        pipeline.TOKENS: tf.constant(tokens),
        pipeline.TARGETS: tf.constant(targets),
        pipeline.WEIGHTS: tf.ones([1, 4]),
        pipeline.USER: tf.constant([2], tf.int32),
        pipeline.FEATURES: tf.zeros([1, 0]),
    }
    loss = float(model.compute_loss(batch, training=False))
    seq = model.query_tower.encode_sequence(
        batch[pipeline.TOKENS], batch[pipeline.USER], batch[pipeline.FEATURES]
    )
    q = seq.numpy()[0]
    q = q / np.linalg.norm(q, axis=1, keepdims=True) / config.temperature
    items = train.item_embeddings(model, vocabs)
    logits = q @ items.T
    read = [[], [a], [a, b], [a, b, a]]
    for p, seen in enumerate(read):
        for item in set(seen):
            logits[p, item - vocabs.first_item_row] += (
                0.3 + 0.2 * math.log1p(seen.count(item))
            ) / config.temperature
    cols = targets[0] - vocabs.first_item_row
    top = logits.max(1, keepdims=True)
    log_softmax = logits - top - np.log(np.exp(logits - top).sum(1, keepdims=True))
    assert loss == pytest.approx(-log_softmax[np.arange(4), cols].mean(), rel=1e-4)


def test_sampled_softmax_with_lifts_gives_finite_gradients_to_the_repeat_weights() -> None:
    config, vocabs, feats, model = _model(negatives="sampled", num_sampled=5)
    seqs = data.build_sequences(data.clean_interactions(repeat_shop()), vocabs, collapse_repeats=False)
    windows = pipeline.config_windows(seqs, vocabs.bos_row, config)
    batch = next(iter(pipeline.make_dataset(windows, feats, config)))
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=True)
    grad = tape.gradient(loss, model.repeat_weights)
    assert np.isfinite(float(loss)) and np.all(np.isfinite(grad.numpy())) and np.any(grad.numpy() != 0)


def repeat_shop(n_users: int = 48, n_items: int = 12, length: int = 10, seed: int = 3) -> pd.DataFrame:
    """Each customer buys their own three items again and again, in a random order."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        own = rng.choice(n_items, size=3, replace=False)
        for t in range(length):
            ts = START + pd.Timedelta(hours=t * 12 + u % 5)
            rows.append((f"u{u}", f"i{int(rng.choice(own))}", ts, 1.0))
    frame = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TS, WEIGHT])
    frame[TS] = frame[TS].astype("datetime64[us, UTC]")
    return frame


def _fit(interactions: pd.DataFrame, **overrides):
    config = tiny_config(
        **{
            "repeat_features": True,
            "negatives": "full",
            "max_epochs": 6,
            "learning_rate": 0.03,
            "repeat_bonus": 0.0,
            **overrides,
        }
    )
    clean = data.clean_interactions(interactions)
    vocabs = data.build_vocabularies(clean, catalogue(), None, config)
    feats = data.user_feature_matrix(None, vocabs)
    seqs = data.build_sequences(clean, vocabs, collapse_repeats=False)
    train_seqs, hist, last = data.leave_last_out(seqs)
    windows = pipeline.config_windows(train_seqs, vocabs.bos_row, config)
    model = train.build_model(vocabs, config, catalogue(), feats, windows)
    val = evaluate.make_eval_set(
        hist, [np.array([t]) for t in last], vocabs, config, feats, exclude_history=False
    )
    train.fit(model, windows, feats, config, vocabs, None, epochs=config.max_epochs)
    return model, vocabs, val, config


def test_a_shop_that_buys_again_learns_a_positive_lift_and_walks_a_negative_one() -> None:
    model, vocabs, val, _ = _fit(repeat_shop())
    bonus, per_count = model.repeat_lift()
    assert bonus + per_count * math.log(2) > 0.1  # an item read once is worth more than a new one
    with_lift = train.evaluate_model(model, val, vocabs, ks=(3,))["recall_at_3"]
    own = train.validation_recalls(model, val, vocabs, 3, [None])[0]
    assert with_lift >= own and with_lift > 0.5  # three own items: the lift puts them on top

    walk_model, *_ = _fit(walks(length=8))  # 8 steps over 12 items: never the same item twice
    bonus, per_count = walk_model.repeat_lift()
    assert bonus + per_count * math.log(2) < 0


def test_the_backbone_and_the_saved_model_serve_the_learned_lift(tmp_path) -> None:
    root = str(tmp_path / "data")
    interactions = repeat_shop()
    storage.write_partition(
        interactions,
        storage.partition_uri(root, FEATURES_STAGE, INTERACTIONS_TABLE, "2024-03-06"),
        source="test",
    )
    config = tiny_config(
        repeat_features=True, negatives="full", max_epochs=3, learning_rate=0.03, repeat_bonus=0.0
    )
    run = pretrain_retrieval(root, "2024-03-06", config)
    loaded = bb.load_backbone(run["model_uri"])
    bonus, per_count = loaded.model.repeat_lift()
    assert per_count != 0 and loaded.config.repeat_features
    user, history = "u4", ["i1", "i1", "i5"]
    inputs = {
        SERVING_USER_ID: np.array([user]),
        SERVING_HISTORY: np.array([history]),
        SERVING_FEATURES: np.zeros((1, 0), np.float32),
    }
    raw = (loaded.query_vectors(inputs) @ loaded.item_vectors().T)[0]
    ids, scores = loaded.top_k(inputs, 12)
    got = dict(zip(ids[0], scores[0], strict=True))
    items = list(loaded.item_ids)
    assert got["i1"] == pytest.approx(raw[items.index("i1")] + bonus + per_count * math.log(3), abs=1e-5)
    assert got["i5"] == pytest.approx(raw[items.index("i5")] + bonus + per_count * math.log(2), abs=1e-5)
    recommender = export.load_recommender(f"{run['model_uri']}/saved_model")
    served, served_scores = export.recommend(recommender, [user], [history], k=12)
    assert served[0].tolist() == ids[0].tolist()
    np.testing.assert_allclose(served_scores, scores, atol=1e-5)


def test_a_model_saved_before_the_repeat_window_keeps_its_lift_on_the_towers_window(tmp_path) -> None:
    root = str(tmp_path / "data")
    storage.write_partition(
        repeat_shop(),
        storage.partition_uri(root, FEATURES_STAGE, INTERACTIONS_TABLE, "2024-03-06"),
        source="test",
    )
    run = pretrain_retrieval(root, "2024-03-06", tiny_config(max_epochs=1))
    history_uri = f"{run['model_uri']}/history.json"
    history = storage.read_json(history_uri)
    assert history["config"]["repeat_window"] == 500
    for key in ("repeat_window", "repeat_per_count", "repeat_features", "learning_rate_decay"):
        del history["config"][key]  # the keys an older history.json lacks
    storage.write_json(history, history_uri)
    old = bb.load_backbone(run["model_uri"])
    assert old.config.repeat_window == old.config.max_history == 6
    assert old.model.repeat_lift() == (history["config"]["repeat_bonus"], 0.0)
