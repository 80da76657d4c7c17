"""The stage end to end on a tiny shop, and the exported SavedModel: save, reload, query."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc
from ecom_tasks.publish import evaluation
from ecom_tasks.retrieval import export
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    HISTORY_FILE,
    INTERACTIONS_TABLE,
    ITEM_FEATURES_TABLE,
    METRICS_FILE,
    USER_FEATURES_TABLE,
    VOCABULARIES_FILE,
    WEIGHTS_FILE,
)
from ecom_tasks.retrieval.evaluate import metric_names
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.retrieval.conftest import catalogue, tiny_config, walks

DS = "2024-03-04"  # the toy walks end on this day; holdout_days=1 holds it out


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("retrieval") / "data")
    items = catalogue()
    items[fc.TITLE_TOKENS] = items["title"].str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()
    profiles = pd.DataFrame({USER_ID: [f"u{i}" for i in range(48)], fc.RECENCY_DAYS: np.arange(48.0)})
    for table, frame, day in (
        (INTERACTIONS_TABLE, walks(), DS),
        (ITEM_FEATURES_TABLE, items, DS),
        (USER_FEATURES_TABLE, profiles, "2024-03-03"),  # as of the last training day
    ):
        storage.write_partition(frame, storage.partition_uri(root, FEATURES_STAGE, table, day), source="test")
    return root


@pytest.fixture(scope="module")
def run(shop) -> dict:
    config = tiny_config(negatives="sampled", num_sampled=16, max_epochs=3)
    return pretrain_retrieval(shop, DS, config)


def test_stage_writes_model_metrics_and_history(shop, run) -> None:
    out = storage.partition_uri(shop, "models", "retrieval", DS)
    assert run["model_uri"] == out and run["eval_users"] == 48
    for name in ("saved_model", WEIGHTS_FILE, VOCABULARIES_FILE, METRICS_FILE, HISTORY_FILE):
        assert os.path.exists(f"{out}/{name}"), name
    metrics = storage.read_json(run["metrics_uri"])
    expected = metric_names() + metric_names(prefix="popularity_") + metric_names(prefix="itemknn_")
    assert set(metrics) == set(expected)
    assert all(0.0 <= v <= 1.0 for v in metrics.values())
    history = storage.read_json(f"{out}/{HISTORY_FILE}")
    assert history["epochs"][0]["epoch"] == 0 and len(history["epochs"]) >= 2
    assert history["summary"]["train_interactions"] == 48 * 6
    assert storage.read_json(f"{out}/{VOCABULARIES_FILE}")["user_feature_names"] == [fc.RECENCY_DAYS]
    assert run["recall_at_20"] == metrics["recall_at_20"] and not run["warm_started"]
    # The gate's bootstrap resamples the held-out users: on all of them, the recorded figures.
    frame = evaluation.read(out)
    assert len(frame) == run["eval_users"]
    for name in ("recall_at_20", "popularity_ndcg_at_10", "itemknn_recall_at_20"):
        assert evaluation.sampler(frame, name)(np.arange(len(frame))) == pytest.approx(
            metrics[name], abs=1e-6
        )


def test_saved_model_answers_known_and_unseen_users_and_excludes(run) -> None:
    loaded = export.load_recommender(run["saved_model_uri"])
    ids, scores = export.recommend(
        loaded, ["u3", "nobody"], [["i1", "i2", "i3"], []], k=4, user_features=np.array([[3.0], [np.nan]])
    )
    assert ids.shape == (2, 4) and scores.shape == (2, 4)
    assert all(i.startswith("i") for i in ids.ravel())  # the cold-start user gets answers too
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first
    top = ids[0, 0]
    excluded, _ = export.recommend(
        loaded, ["u3"], [["i1", "i2", "i3"]], k=4, user_features=np.array([[3.0]]), exclude=[[top, "i2"]]
    )
    assert top not in excluded[0] and "i2" not in excluded[0] and len(set(excluded[0])) == 4
    assert export.recommend(loaded, ["u3"], [["i1"]], k=50, num_features=1)[0].shape == (1, 12)  # k <= items


def test_a_missing_warm_start_fails_naming_the_uri(shop, tmp_path) -> None:
    with pytest.raises(ConfigError, match="warm_start_uri"):
        pretrain_retrieval(shop, DS, tiny_config(), warm_start_uri=str(tmp_path / "nothing"))
