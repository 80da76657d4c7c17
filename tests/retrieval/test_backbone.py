"""load_backbone rebuilds the trained model from a pretrain output folder; its helpers."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from ecom_tasks import storage
from ecom_tasks.contract import ITEM_ID, TS, USER_ID
from ecom_tasks.errors import ConfigError, ContractError
from ecom_tasks.features import columns as fc
from ecom_tasks.retrieval import backbone as bb
from ecom_tasks.retrieval import champion
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    INTERACTIONS_TABLE,
    ITEM_FEATURES_TABLE,
    METRICS_FILE,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_USER_ID,
    USER_FEATURES_TABLE,
)
from ecom_tasks.retrieval.evaluate import metric_names
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.retrieval.conftest import START, catalogue, tiny_config, walks

DS = "2024-03-04"
AS_OF = pd.Timestamp("2024-03-04", tz="UTC")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[str, dict, pd.DataFrame, pd.DataFrame]:
    root = str(tmp_path_factory.mktemp("backbone") / "data")
    items = catalogue()
    items[fc.TITLE_TOKENS] = items["title"].str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()
    profiles = pd.DataFrame({USER_ID: [f"u{i}" for i in range(48)], fc.RECENCY_DAYS: np.arange(48.0)})
    interactions = walks()
    for table, frame, day in (
        (INTERACTIONS_TABLE, interactions, DS),
        (ITEM_FEATURES_TABLE, items, DS),
        (USER_FEATURES_TABLE, profiles, "2024-03-03"),
    ):
        storage.write_partition(frame, storage.partition_uri(root, FEATURES_STAGE, table, day), source="test")
    run = pretrain_retrieval(root, DS, tiny_config(num_sampled=16, max_epochs=2))
    return root, run, interactions, profiles


def test_loaded_backbone_gives_the_saved_models_answers(trained) -> None:
    _, run, interactions, profiles = trained
    backbone = bb.load_backbone(run["model_uri"])
    assert backbone.feature_columns == [fc.RECENCY_DAYS] and backbone.config.embedding_dim == 16
    assert backbone.query_tower.trainable and backbone.query_tower.trainable_weights
    assert backbone.item_tower.trainable_weights
    inputs = backbone.query_inputs(interactions, profiles, ["u3", "u7"], AS_OF)
    assert inputs[SERVING_HISTORY].shape[0] == 2 and inputs[SERVING_FEATURES].tolist() == [[3.0], [7.0]]
    history = interactions[(interactions[USER_ID] == "u3") & (interactions[TS] < AS_OF)]
    assert list(inputs[SERVING_HISTORY][0]) == history[ITEM_ID].tolist()[-6:]  # oldest first, a window
    # The SavedModel exported in the same run is the in-memory model: same top items and scores.
    from ecom_tasks.retrieval import export

    loaded = export.load_recommender(run["saved_model_uri"])
    ids, scores = export.recommend(
        loaded,
        list(inputs[SERVING_USER_ID]),
        [[i for i in row if i] for row in inputs[SERVING_HISTORY]],
        k=5,
        user_features=inputs[SERVING_FEATURES],
    )
    got_ids, got_scores = backbone.top_k(inputs, 5)
    np.testing.assert_allclose(got_scores, scores, atol=1e-5)
    assert (got_ids[:, 0] == ids[:, 0]).all()
    vectors = backbone.query_vectors(inputs)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_loaded_backbone_equals_the_in_memory_model(trained) -> None:
    from ecom_tasks.retrieval import stage

    root, _, interactions, profiles = trained
    config = tiny_config(num_sampled=16, max_epochs=2)
    cutoff = AS_OF
    items = stage.catalogue(catalogue())
    result = stage.train_and_evaluate(
        interactions, items, profiles, config, cutoff=cutoff, end=cutoff + pd.Timedelta(days=1)
    )
    folder = f"{root}/memory"
    from ecom_tasks.retrieval import warmstart

    warmstart.save_weights(result.model, f"{folder}/weights.npz")
    bb.save_tower_state(result.model, f"{folder}/tower_state.npz")
    storage.write_json(result.vocabs.to_dict(), f"{folder}/vocabularies.json")
    storage.write_json({"config": config.to_dict()}, f"{folder}/history.json")
    backbone = bb.load_backbone(folder)
    inputs = backbone.query_inputs(interactions, profiles, ["u1", "u9", "stranger"], cutoff)
    expected = result.model.query_tower(
        {k: tf.constant(v, tf.float32 if k == SERVING_FEATURES else tf.string) for k, v in inputs.items()}
    ).numpy()
    np.testing.assert_allclose(backbone.query_vectors(inputs), expected, atol=1e-6)
    items_expected = result.model.item_tower.candidate_embeddings(tf.range(3, len(result.vocabs.items)))
    np.testing.assert_allclose(backbone.item_vectors(), items_expected.numpy(), atol=1e-6)


def test_unknown_users_and_items_get_answers(trained) -> None:
    _, run, interactions, profiles = trained
    backbone = bb.load_backbone(run["model_uri"])
    inputs = backbone.query_inputs(interactions, profiles, ["stranger", None, "u2"], AS_OF)
    assert list(inputs[SERVING_HISTORY][0]) == [""] * inputs[SERVING_HISTORY].shape[1]
    assert np.isnan(inputs[SERVING_FEATURES][:2]).all()
    ids, scores = backbone.top_k(inputs, 3, exclude=[["i0", "never-seen"], [], []])
    assert ids.shape == (3, 3) and np.isfinite(scores).all() and "i0" not in ids[0]
    assert (np.diff(scores, axis=1) <= 1e-6).all()
    vectors = backbone.item_vectors(["i1", "never-seen"])
    assert vectors.shape == (2, 16) and np.isfinite(vectors).all()
    none = backbone.query_inputs(None, None, ["u1"], AS_OF)
    assert none[SERVING_HISTORY].tolist() == [[""]] and np.isnan(none[SERVING_FEATURES]).all()
    # A history with unknown items and a window longer than the model's is fine too.
    extra = pd.DataFrame(
        {
            USER_ID: ["u1"] * 9,
            ITEM_ID: [f"new{i}" for i in range(9)],
            TS: [START + pd.Timedelta(hours=i) for i in range(9)],
        }
    )
    long = backbone.query_inputs(extra, None, ["u1"], AS_OF)
    assert np.isfinite(backbone.query_vectors(long)).all()
    # The tower reads its window (6); the history keeps the last repeat_window items for the lift.
    assert long[SERVING_HISTORY].shape == (1, 9)
    short = bb.Backbone(backbone.model, backbone.vocabs, replace(backbone.config, repeat_window=4), [])
    assert short.query_inputs(extra, None, ["u1"], AS_OF)[SERVING_HISTORY].shape == (1, 6)


def test_bad_folders_and_feature_frames_fail_clearly(trained, tmp_path) -> None:
    _, run, interactions, _ = trained
    with pytest.raises(ConfigError, match=r"tower_state\.npz"):
        bb.load_backbone(str(tmp_path))
    backbone = bb.load_backbone(run["model_uri"])
    with pytest.raises(ContractError, match=fc.RECENCY_DAYS):
        backbone.query_inputs(interactions, pd.DataFrame({USER_ID: ["u1"]}), ["u1"], AS_OF)


def test_champion_is_scored_on_the_same_users_and_targets(trained) -> None:
    root, run, _, _ = trained
    champion_dir = f"{root}/champion"
    shutil.copytree(run["model_uri"], champion_dir)
    # Tonight's candidate differs (another seed); the champion is last night's model.
    tonight = pretrain_retrieval(
        root, DS, tiny_config(num_sampled=16, max_epochs=1, seed=7), champion_uri=champion_dir
    )
    scored = storage.read_json(tonight["champion_metrics_uri"])
    assert os.path.dirname(tonight["champion_metrics_uri"]) == tonight["model_uri"]
    assert set(scored) == set(metric_names())  # no baseline keys
    # Same users, histories and targets: the champion scores exactly what it scored on its own run.
    own = storage.read_json(f"{champion_dir}/{METRICS_FILE}")
    for name in metric_names():
        assert scored[name] == pytest.approx(own[name], abs=1e-5), name
    assert tonight["champion_recall_at_20"] == scored["recall_at_20"]


def test_targets_and_users_the_champion_does_not_know_are_misses(trained) -> None:
    _, run, interactions, profiles = trained
    backbone = bb.load_backbone(run["model_uri"])
    n = len(backbone.item_ids)
    cols = champion.target_columns(backbone, [["i1", "new1", "new2", "i1"], []])
    assert cols[0].tolist() == [backbone.item_ids.index("i1"), n, n + 1] and cols[1].tolist() == []
    history = interactions[interactions[TS] < AS_OF]
    metrics = champion.champion_metrics(
        backbone, history, profiles, ["u1", "stranger"], [["new1"], ["new2", "new3"]], AS_OF
    )
    assert metrics["recall_at_50"] == 0.0 and metrics["hr_at_50"] == 0.0
    every = champion.champion_metrics(
        backbone, history, None, ["u1", "stranger"], [backbone.item_ids, ["i0", "new"]], AS_OF
    )
    assert every["hr_at_50"] == 1.0 and every["recall_at_50"] == pytest.approx(0.75)  # (1 + 1/2) / 2


def test_an_older_champion_without_tower_state_is_skipped_not_fatal(trained, tmp_path) -> None:
    from ecom_tasks.retrieval import stage

    _, run, _, _ = trained
    old = tmp_path / "old"
    shutil.copytree(run["model_uri"], old)
    os.remove(old / "tower_state.npz")
    assert stage._load_champion(str(old)) is None
    with pytest.raises(ConfigError, match="not a complete retrieval model folder"):
        stage._load_champion(str(tmp_path / "missing"))
