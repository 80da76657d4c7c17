"""Towers, training, warm start and the guards that fail before training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from ecom_tasks.contract import CATEGORY, ITEM_ID, TITLE, TS, USER_ID
from ecom_tasks.retrieval import data, evaluate, pipeline, stage, train, warmstart
from ecom_tasks.retrieval.config import (
    FULL_SOFTMAX_MAX_ITEMS,
    NUM_RESERVED,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_USER_ID,
)
from ecom_tasks.retrieval.model import RetrievalModel
from tests.retrieval.conftest import START, catalogue, tiny_config, walks

CUT = START + pd.Timedelta(days=10)  # after every toy interaction: nothing held out
END = CUT


def prepare(interactions: pd.DataFrame, items: pd.DataFrame, config, user_features=None):
    clean = data.clean_interactions(interactions)
    vocabs = data.build_vocabularies(clean, items, user_features, config)
    feats = data.user_feature_matrix(user_features, vocabs)
    seqs = data.build_sequences(clean, vocabs, collapse_repeats=True)
    train_seqs, val_hist, val_t = data.leave_last_out(seqs)
    windows = pipeline.training_windows(train_seqs, config.max_history, vocabs.bos_row)
    val = evaluate.make_eval_set(
        val_hist, [np.array([t]) for t in val_t], vocabs, config, feats, exclude_history=False
    )
    return vocabs, feats, windows, val


@dataclass
class Cold:
    vocabs: data.Vocabularies
    feats: np.ndarray
    windows: pipeline.Windows
    model: RetrievalModel
    fit: train.FitResult
    weights: dict[str, np.ndarray]
    val: evaluate.EvalSet


@pytest.fixture(scope="module")
def cold(toy) -> Cold:
    """One model trained from scratch on the toy walks (with a profile feature), shared by the tests."""
    interactions, items = toy
    profile = pd.DataFrame({USER_ID: ["u0", "u1"], "recency_days": [3.0, np.nan], "segment": ["a", "b"]})
    config = tiny_config(max_epochs=4, patience=10)
    vocabs, feats, windows, val = prepare(interactions, items, config, profile)
    model = train.build_model(vocabs, config, items, feats, windows)
    fit = train.fit(model, windows, feats, config, vocabs, val)
    return Cold(vocabs, feats, windows, model, fit, warmstart.weight_arrays(model), val)


def test_tower_shapes_and_lookups_match_the_vocabularies(cold) -> None:
    vocabs, model = cold.vocabs, cold.model
    assert vocabs.user_feature_names == ["recency_days"]  # strings are not features
    ids = ["i3", "i0", "never-seen"]
    np.testing.assert_array_equal(
        model.item_tower.item_lookup(tf.constant(ids)).numpy(), vocabs.item_rows(ids)
    )
    np.testing.assert_array_equal(
        model.query_tower.user_lookup(tf.constant(["u1", "zz"])).numpy(), vocabs.user_rows(["u1", "zz"])
    )
    cand = model.item_tower(
        {
            ITEM_ID: tf.constant(ids),
            CATEGORY: tf.constant(["c0", "", "new"]),
            TITLE: tf.constant(["item 3", "", "brand new thing"]),
        }
    )
    assert cand.shape == (3, 16)
    np.testing.assert_allclose(np.linalg.norm(cand.numpy(), axis=1), 1.0, rtol=1e-5)
    tokens, users, feats = (
        tf.constant([[2, 5, 6, 0], [2, 7, 0, 0]]),
        tf.constant([3, 4]),
        tf.constant([[1.0], [0.0]]),
    )
    seq = model.query_tower.encode_sequence(tokens, users, feats)
    assert seq.shape == (2, 4, 16)
    # Computing only the last positions in the final block gives the same vectors.
    last = model.query_tower.encode_sequence(tokens, users, feats, last=tf.constant([2, 1]))
    np.testing.assert_allclose(last[:, 0].numpy(), tf.gather(seq, [2, 1], batch_dims=1).numpy(), atol=1e-5)
    query = model.query_tower(
        {
            SERVING_USER_ID: tf.constant(["u0", "stranger"]),
            SERVING_HISTORY: tf.constant([["i1", "i2", "", ""], ["", "", "", ""]]),
            SERVING_FEATURES: tf.constant([[2.0], [np.nan]]),
        }
    )
    assert query.shape == (2, 16) and np.isfinite(query.numpy()).all()
    row = vocabs.item_rows(["i3"])[0]  # the catalogue tables: i3 is in category c0
    assert model.item_tower.item_category.numpy()[row] == vocabs.categories.index("c0")


def test_training_learns_the_next_item_pattern(cold) -> None:
    result = cold.fit
    losses = [h["loss"] for h in result.history[1:]]
    assert losses[-1] < losses[0]
    assert result.history[0][result.metric] < result.best_value
    # The towers' own ranking (no repeat bonus): walks never repeat, so this is what they learn.
    own, served = train.validation_recalls(cold.model, cold.val, cold.vocabs, 2, [0.0, 2.0])
    assert own >= 0.5  # chance would be 2/12
    # Early stopping scored the served ranking, ties broken by the towers' own (the bonus puts the
    # walk's earlier items first: served recall 0 whatever the epoch), best weights restored.
    assert served == 0.0 and result.metric == "val_served_recall_at_2"
    assert result.best_value == pytest.approx(served + own * train.TIE_BREAK)
    assert result.examples_per_epoch == cold.windows.num_examples and result.steps > 0


def test_sampled_softmax_loss_and_gradients_are_finite(toy) -> None:
    interactions, items = toy
    config = tiny_config(negatives="sampled", num_sampled=64)  # every positive is also drawn: hits masked
    vocabs, feats, windows, _ = prepare(interactions, items, config)
    model = train.build_model(vocabs, config, items, feats, windows)
    batch = next(iter(pipeline.make_dataset(windows, feats, config)))
    with tf.GradientTape() as tape:
        loss = model.compute_loss(batch, training=True)
    grads = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(float(loss)) and float(loss) > 0
    assert all(np.isfinite(tf.convert_to_tensor(g).numpy()).all() for g in grads if g is not None)


def test_full_softmax_is_the_cross_entropy_over_every_item(toy) -> None:
    interactions, items = toy
    config = tiny_config(negatives="full")
    vocabs, feats, windows, _ = prepare(interactions, items, config)
    model = train.build_model(vocabs, config, items, feats, windows)
    batch = next(iter(pipeline.make_dataset(windows, feats, config, shuffle=False)))
    loss = float(model.compute_loss(batch))
    # By hand: each predicted position's softmax over all 12 items at temperature 0.1, weighted.
    seq = model.query_tower.encode_sequence(batch["tokens"], batch["user"], batch["user_features"]).numpy()
    targets, weights = batch["targets"].numpy(), batch["weights"].numpy()
    valid = targets > 0
    q = seq[valid] / np.linalg.norm(seq[valid], axis=1, keepdims=True) / config.temperature
    logits = q @ train.item_embeddings(model, vocabs).T
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    nll = -log_p[np.arange(len(q)), targets[valid] - vocabs.first_item_row]
    assert loss == pytest.approx(float((nll * weights[valid]).sum() / weights[valid].sum()), rel=1e-4)


def test_auto_negatives_use_the_full_softmax_on_a_small_catalogue(toy) -> None:
    auto = tiny_config(negatives="auto")
    assert auto.uses_full_softmax(FULL_SOFTMAX_MAX_ITEMS) and not auto.uses_full_softmax(
        FULL_SOFTMAX_MAX_ITEMS + 1
    )
    assert tiny_config(negatives="full").uses_full_softmax(10**6)
    assert not tiny_config(negatives="sampled").uses_full_softmax(12)
    interactions, items = toy
    vocabs, feats, windows, _ = prepare(interactions, items, auto)
    assert train.build_model(vocabs, auto, items, feats, windows).negatives == "full"  # 12 items


def test_warm_start_reuses_rows_and_reaches_the_cold_recall_sooner(toy, cold) -> None:
    interactions, _ = toy
    config = tiny_config(max_epochs=3, patience=10)
    target = cold.fit.best_value
    cold_steps = next(h["step"] for h in cold.fit.history if h.get(cold.fit.metric, -1) >= target)
    # The next night: two new items and new users walking through them.
    tonight = pd.concat([interactions, walks(n_users=10, n_items=14, seed=3, prefix="n")], ignore_index=True)
    vocabs2, feats2, windows2, val2 = prepare(tonight, catalogue(14), config)
    assert set(vocabs2.items) - set(cold.vocabs.items) == {"i12", "i13"}
    warm = train.build_model(vocabs2, config, catalogue(14), feats2, windows2)
    fresh = warm.item_tower.id_embedding.embeddings.numpy().copy()
    stats = warmstart.warm_start(warm, cold.weights, cold.vocabs, vocabs2)
    table = warm.item_tower.id_embedding.embeddings.numpy()
    old_table = cold.weights["item_id_embedding/embeddings:0"]
    for item in ("i0", "i7"):
        np.testing.assert_array_equal(
            table[vocabs2.items.index(item)], old_table[cold.vocabs.items.index(item)]
        )
    new_row = vocabs2.items.index("i13")
    np.testing.assert_array_equal(table[new_row], fresh[new_row])  # a new id keeps its fresh row
    assert stats["reused_rows"] > 0 and stats["fresh_rows"] >= 2 and stats["copied_weights"] > 0
    warm_fit = train.fit(warm, windows2, feats2, config, vocabs2, val2)
    warm_steps = next(
        (h["step"] for h in warm_fit.history if h.get(warm_fit.metric, -1) >= 0.95 * target), None
    )
    assert warm_steps is not None and warm_steps < cold_steps


def test_weights_round_trip_through_a_file(cold, tmp_path) -> None:
    uri = warmstart.save_weights(cold.model, str(tmp_path / "weights.npz"))
    loaded = warmstart.load_weights(uri)
    assert loaded.keys() == cold.weights.keys()
    for name, value in cold.weights.items():
        np.testing.assert_array_equal(loaded[name], value)


def test_an_empty_training_window_fails_clearly(toy) -> None:
    interactions, items = toy
    with pytest.raises(data.TrainingDataError, match="training window"):
        stage.train_and_evaluate(interactions, items, None, tiny_config(), cutoff=START, end=END)
    with pytest.raises(data.TrainingDataError, match="no interactions at all"):
        stage.train_and_evaluate(interactions.iloc[:0], items, None, tiny_config(), cutoff=CUT, end=END)


def test_a_vocabulary_too_large_for_memory_fails_before_training(toy, monkeypatch) -> None:
    interactions, items = toy

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train, "fit", no_training)
    monkeypatch.setattr(train.tf.keras.utils, "set_random_seed", no_training)  # not even variables
    config = tiny_config(max_embedding_bytes=10_000)
    with pytest.raises(
        train.VocabularyTooLargeError, match=r"vocabulary too large for memory.*max_embedding_bytes"
    ):
        stage.train_and_evaluate(interactions, items, None, config, cutoff=CUT, end=END)
    vocabs = data.build_vocabularies(data.clean_interactions(interactions), items, None, config)
    assert train.ensure_fits_in_memory(vocabs, tiny_config()) > 10_000
    assert len(vocabs.items) > NUM_RESERVED


def test_interactions_without_time_are_rejected(toy) -> None:
    interactions, items = toy
    with pytest.raises(ValueError, match=TS):
        stage.train_and_evaluate(
            interactions.drop(columns=[TS]), items, None, tiny_config(), cutoff=CUT, end=END
        )


def test_a_warm_started_night_stops_with_warm_patience(toy, cold, monkeypatch) -> None:
    interactions, items = toy
    patience = {}
    real_fit = train.fit

    def recording_fit(*args, **kwargs):
        patience[len(patience)] = kwargs.get("patience")
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(train, "fit", recording_fit)
    config = tiny_config(max_epochs=6, patience=4, warm_patience=0)
    warm = stage.train_and_evaluate(
        interactions, items, None, config, cutoff=CUT, end=END, warm=(cold.weights, cold.vocabs)
    )
    stage.train_and_evaluate(interactions, items, None, config, cutoff=CUT, end=END)
    assert patience == {0: 0, 1: 4}  # warm night, then a cold one
    # Patience 0: training ends at the first epoch without a gain (or at max_epochs while improving).
    assert len(warm.fit.history) - 1 <= warm.fit.best_epoch + 1


def test_the_repeat_bonus_is_learned_on_validation(cold) -> None:
    config = tiny_config()
    (bonus, per_count), recalls = train.learn_repeat_bonus(cold.model, cold.val, cold.vocabs, config)
    # The walks never revisit an item: a bonus of 2 lists the earlier items first and hits nothing.
    assert recalls["2"] == 0.0 and recalls[train.lift_name(bonus, per_count)] == max(recalls.values()) >= 0.5
    assert recalls["2+0.1*log(1+n)"] == 0.0  # every bonus with every per-count weight was tried
    assert bonus < 0.5 and cold.model.repeat_bonus == 2.0  # choosing does not change the model


def test_repeat_bonus_ties_keep_the_configured_one_then_the_smallest(cold, monkeypatch) -> None:
    config = tiny_config()

    def fixed(values):
        monkeypatch.setattr(
            train,
            "validation_recalls",
            lambda model, val, vocabs, k, grid: [values.get(p, 0.1) for p in grid],
        )
        return train.learn_repeat_bonus(cold.model, cold.val, cold.vocabs, config)[0]

    assert fixed({}) == (2.0, 0.0)  # all alike: the model's own
    assert fixed({(0.05, 0.1): 0.3, (0.1, 0.0): 0.3}) == (0.05, 0.1)
    assert fixed({(2.0, 0.0): 0.3, (0.0, 0.0): 0.3}) == (2.0, 0.0)
    assert fixed({(0.0, 0.2): 0.3, (0.0, 0.05): 0.3}) == (0.0, 0.05)


def test_learning_rate_decay_follows_a_cosine_over_max_epochs_of_batches(toy, cold) -> None:
    _, items = toy
    config = tiny_config(max_epochs=3, learning_rate_decay=True)
    steps = pipeline.steps_per_epoch(cold.windows, config)
    assert steps == sum(1 for _ in pipeline.make_dataset(cold.windows, cold.feats, config))
    model = train.build_model(cold.vocabs, config, items, cold.feats, cold.windows)
    schedule = model.optimizer.learning_rate
    assert float(schedule(0)) == pytest.approx(config.learning_rate)
    half = config.learning_rate * (0.05 + 0.95 * 0.5)  # cosine at mid-way: 0.5
    assert float(schedule(3 * steps / 2)) == pytest.approx(half, rel=1e-4)
    assert float(schedule(3 * steps)) == pytest.approx(config.learning_rate * 0.05, rel=1e-4)
    constant = train.build_model(cold.vocabs, tiny_config(), items, cold.feats, cold.windows)
    assert float(constant.optimizer.learning_rate) == pytest.approx(tiny_config().learning_rate)
