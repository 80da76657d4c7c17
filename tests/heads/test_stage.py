"""The head stage end to end on the tiny shop: artifacts, metrics, outputs, champion, bad input."""

from __future__ import annotations

import json
import os
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc
from ecom_tasks.heads import data
from ecom_tasks.heads.baselines import fit_baseline
from ecom_tasks.heads.config import (
    BASELINES,
    CHAMPION_METRICS_FILE,
    METRICS_FILE,
    PICKLE_FILE,
    SAVED_MODEL_DIR,
    SMOKE_INPUT_FILE,
)
from ecom_tasks.heads.export import export_baseline
from ecom_tasks.heads.metrics import METRICS
from ecom_tasks.heads.stage import choose_backbone, fine_tune_churn, fine_tune_repurchase
from ecom_tasks.publish import tables
from ecom_tasks.publish.config import CHURN_SCORES, REPURCHASE_SCORES
from ecom_tasks.publish.outputs import output_uri
from tests.heads.conftest import DS, head_config

CONFIG = head_config()


@pytest.fixture(scope="module")
def champion(shop_root: str, tmp_path_factory) -> str:
    """A champion folder: an older model (a logistic regression on RFM) of the churn stage."""
    inputs = data.load_inputs(shop_root, storage.as_date(DS), CONFIG)
    ex, y = inputs.examples, inputs.examples[fc.LABEL_CHURN].to_numpy(float)
    model = fit_baseline(BASELINES[0], "churn", ex, y, ex, y, CONFIG)
    return export_baseline(model, str(tmp_path_factory.mktemp("champion"))).rsplit("/", 1)[0]


@pytest.fixture(scope="module")
def churn(shop_root: str, champion: str) -> dict:
    return fine_tune_churn(shop_root, DS, CONFIG, champion_uri=champion)


@pytest.fixture(scope="module")
def repurchase(shop_root: str) -> dict:
    # The tuned phase is covered by test_network and the churn run: one graph trace less here.
    return fine_tune_repurchase(shop_root, DS, head_config(tuned_epochs=0))


def _names(task: str, prefix: str = "") -> set[str]:
    return {f"{prefix}{task}_{m}" for m in METRICS}


def _active_now(root: str) -> set[str]:
    prof = storage.read_partition(storage.partition_uri(root, "features", "customer_profiles", DS))
    return set(data.active(prof, CONFIG.active_days)[USER_ID])


def test_churn_metrics_selection_and_champion(shop_root: str, churn: dict) -> None:
    folder = churn["model_uri"]
    metrics = storage.read_json(f"{folder}/{METRICS_FILE}")
    expected = _names("churn") | _names("churn", "finetuned_")
    expected |= {n for b in BASELINES for n in _names("churn", f"{b}_")}
    assert expected <= set(metrics)
    # Chosen on the validation split, reported on the test split.
    best = max(BASELINES, key=lambda b: metrics[f"{b}_valid_churn_roc_auc"])
    head_wins = metrics["finetuned_valid_churn_roc_auc"] > metrics[f"{best}_valid_churn_roc_auc"]
    assert metrics["selected"] == ("head" if head_wins else best)
    assert metrics["finetuned_beats_baselines"] is head_wins and "best baseline" in metrics["selection"]
    published = "finetuned_" if head_wins else f"{best}_"
    assert metrics["churn_roc_auc"] == metrics[f"{published}churn_roc_auc"]  # unprefixed = what is published
    champion = storage.read_json(f"{folder}/{CHAMPION_METRICS_FILE}")
    assert set(champion) == _names("churn")  # same names, no baselines
    assert 0.5 < champion["churn_roc_auc"] <= 1.0
    artifacts = {SAVED_MODEL_DIR, PICKLE_FILE} & set(os.listdir(folder))
    assert artifacts == {SAVED_MODEL_DIR if head_wins else PICKLE_FILE}
    for name in (SMOKE_INPUT_FILE, "history.json", "reliability.png"):
        assert os.path.exists(f"{folder}/{name}"), name
    assert os.path.exists(churn["report_uri"]) and churn["train_seconds"]["head"] > 0


def test_churn_scores_table(shop_root: str, churn: dict) -> None:
    frame = storage.read_partition(output_uri(shop_root, CHURN_SCORES, DS))
    assert list(frame.columns) == [
        USER_ID,
        tables.CHURN_RISK,
        fc.SEGMENT,
        tables.CHURN_REASONS,
        tables.MODEL_VERSION,
    ]
    assert set(frame[USER_ID]) == _active_now(shop_root) and frame[USER_ID].is_unique
    assert frame[tables.CHURN_RISK].between(0, 1).all()
    assert (frame[tables.MODEL_VERSION] == churn["model_version"]).all()
    reasons = [json.loads(r) for r in frame[tables.CHURN_REASONS]]
    assert all(len(r) <= CONFIG.top_reasons for r in reasons) and any(reasons)
    # Sign sanity: the customers gone longest have recency pushing their risk up, the most recent down.
    prof = storage.read_partition(storage.partition_uri(shop_root, "features", "customer_profiles", DS))
    recency = frame[[USER_ID]].merge(prof[[USER_ID, fc.RECENCY_DAYS]], on=USER_ID)[fc.RECENCY_DAYS].to_numpy()
    effect = np.array(
        [
            next((e[tables.REASON_EFFECT] for e in r if e[tables.REASON_FEATURE] == fc.RECENCY_DAYS), 0.0)
            for r in reasons
        ]
    )
    assert effect[recency >= np.quantile(recency, 0.9)].mean() > 0
    assert effect[recency <= np.quantile(recency, 0.1)].mean() <= 0


def test_published_artifact_answers_the_serving_check(churn: dict) -> None:
    from ecom_tasks.publish.pyfunc_model import ArtifactModel
    from ecom_tasks.publish.registry import read_smoke_input

    folder = churn["model_uri"]
    head = os.path.isdir(f"{folder}/{SAVED_MODEL_DIR}")
    path = f"{folder}/{SAVED_MODEL_DIR}" if head else f"{folder}/{PICKLE_FILE}"
    model = ArtifactModel()
    model.load_context(
        SimpleNamespace(
            model_config={"flavor": "tensorflow" if head else "pickle"}, artifacts={"model": path}
        )
    )
    answer = model.predict(None, read_smoke_input(folder))
    values = answer[tables.CHURN_RISK] if head else answer
    assert np.isfinite(np.asarray(values, dtype=float)).all() and len(values) == 1


def test_repurchase_outputs(shop_root: str, repurchase: dict) -> None:
    metrics = storage.read_json(repurchase["metrics_uri"])
    assert _names("repurchase") <= set(metrics) and "repurchase_orders_mae" in metrics
    assert {f"{b}_repurchase_orders_mae" for b in BASELINES} <= set(metrics)
    assert not os.path.exists(f"{repurchase['model_uri']}/{CHAMPION_METRICS_FILE}")
    frame = storage.read_partition(output_uri(shop_root, REPURCHASE_SCORES, DS))
    assert list(frame.columns) == [
        USER_ID, tables.REPURCHASE_PROPENSITY, tables.EXPECTED_ORDERS, fc.SEGMENT, tables.MODEL_VERSION,
    ]  # fmt: skip
    assert set(frame[USER_ID]) == _active_now(shop_root)
    assert (
        frame[tables.REPURCHASE_PROPENSITY].between(0, 1).all() and (frame[tables.EXPECTED_ORDERS] >= 0).all()
    )


def test_bad_input(shop_root: str, tmp_path, churn: dict) -> None:
    with pytest.raises(FileNotFoundError, match="training_examples/ds=2024-02-10"):
        fine_tune_churn(shop_root, "2024-02-10", CONFIG)
    with pytest.raises(data.HeadDataError, match="min_customers is 100000"):
        fine_tune_churn(shop_root, DS, head_config(min_customers=100_000))
    with pytest.raises(ConfigError, match="champion_uri"):
        fine_tune_churn(shop_root, DS, CONFIG, champion_uri=str(tmp_path / "nowhere"))
    # Features without a pretrained backbone.
    bare = str(tmp_path / "bare")
    shutil.copytree(f"{shop_root}/features", f"{bare}/features")
    with pytest.raises(
        FileNotFoundError, match="models/retrieval/ds=2024-02-09: no pretrained retrieval model"
    ):
        fine_tune_churn(bare, DS, CONFIG)


def test_backbone_of_the_cutoff_is_preferred(tmp_path) -> None:
    root = str(tmp_path)
    cutoff_end = pd.Timestamp("2024-01-27", tz="UTC")
    assert choose_backbone(root, storage.as_date(DS), cutoff_end).endswith("retrieval/ds=2024-02-09")
    folder = data.backbone_uri(root, storage.as_date("2024-01-26"))
    os.makedirs(folder)
    open(f"{folder}/weights.npz", "wb").close()
    assert choose_backbone(root, storage.as_date(DS), cutoff_end) == folder


def test_per_example_scores_reproduce_every_compared_metric(shop_root: str, churn: dict) -> None:
    """The gate's bootstrap resamples these: on all examples they give metrics.json's figures."""
    import numpy as np

    from ecom_tasks.publish import evaluation

    folder = churn["model_uri"]
    frame = evaluation.read(folder)
    metrics = storage.read_json(f"{folder}/{METRICS_FILE}")
    champion = storage.read_json(f"{folder}/{CHAMPION_METRICS_FILE}")
    everyone = np.arange(len(frame))
    assert len(frame) == metrics["test_customers"]
    for prefix, expected in [
        ("", metrics["churn_roc_auc"]),
        ("rfm_logreg_", metrics["rfm_logreg_churn_roc_auc"]),
        ("gbdt_", metrics["gbdt_churn_roc_auc"]),
        ("champion_", champion["churn_roc_auc"]),
    ]:
        assert evaluation.sampler(frame, "churn_roc_auc", prefix)(everyone) == pytest.approx(
            expected, abs=1e-6
        )
