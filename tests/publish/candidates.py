"""Builders of small trained candidates as the training stages leave them for the gate."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ecom_tasks import storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.publish import outputs
from ecom_tasks.publish.config import (
    CHAMPION_METRICS_FILE,
    CHURN_SCORES,
    METRICS_FILE,
    ModelSpec,
    PublishConfig,
)
from ecom_tasks.publish.gate import GateConfig, ModelGate, Threshold
from tests.publish import fakes

CHURN = "churn"
FAKE = "fake"
FAKE_SCORES = "fake_scores"
FAKE_SPEC = ModelSpec(
    FAKE, artifacts=("model_dir",), flavor="callable", loader="tests.publish.fakes:load_fake",
    output_tables=(FAKE_SCORES,),
)  # fmt: skip
FAKE_GATE = ModelGate(
    FAKE,
    thresholds=(Threshold("auc", minimum=0.5),),
    compare=("auc",),
    baselines=("pop_",),
    metrics={"auc": "higher"},
)
CONFIG = PublishConfig(
    gate=GateConfig(models=(*GateConfig().models, FAKE_GATE)),
    models=(*PublishConfig().models, FAKE_SPEC),
    lock_timeout_s=60,
)


def folder(root: str, model: str, ds: str) -> Path:
    path = Path(storage.partition_uri(root, "models", model, ds))
    path.mkdir(parents=True, exist_ok=True)
    return path


def tiny_classifier(seed: int = 0) -> LogisticRegression:
    """A logistic regression fitted on 8 rows with named features."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"recency_days": rng.normal(size=8), "frequency": rng.normal(size=8)})
    return LogisticRegression().fit(x, [0, 1, 0, 1, 1, 0, 1, 0])


def write_inputs(root: str, ds: str, rows: int = 4) -> None:
    """A features partition and the churn output table for ``ds`` (their hashes are the lineage)."""
    users = pd.DataFrame({USER_ID: [f"u{i}" for i in range(rows)], "frequency": np.arange(rows, dtype=float)})
    storage.write_partition(
        users, storage.partition_uri(root, "features", "customer_profiles", ds), source="test"
    )
    scores = pd.DataFrame({USER_ID: users[USER_ID], "churn_score": np.linspace(0.1, 0.9, rows)})
    outputs.write_output(root, CHURN_SCORES, ds, scores, source="test")


def churn_candidate(
    root: str,
    ds: str,
    *,
    auc: float = 0.80,
    baseline: float = 0.72,
    champion_auc: float | None = None,
    corrupt: bool = False,
    seed: int = 0,
) -> Path:
    """A churn candidate: ``model.pkl``, ``metrics.json`` (with baselines), optional champion metrics."""
    path = folder(root, CHURN, ds)
    blob = b"\x80\x04 definitely not a pickle" if corrupt else pickle.dumps(tiny_classifier(seed))
    (path / "model.pkl").write_bytes(blob)
    metrics = {
        "churn_roc_auc": auc, "churn_pr_auc": auc - 0.2, "churn_ece": 0.03, "churn_log_loss": 0.45,
        "rfm_logreg_churn_roc_auc": baseline, "gbdt_churn_roc_auc": baseline - 0.01,
        "rfm_logreg_churn_ece": 0.05, "gbdt_churn_ece": 0.06,
    }  # fmt: skip
    (path / METRICS_FILE).write_text(json.dumps(metrics))
    if champion_auc is not None:
        champ = {"churn_roc_auc": champion_auc, "churn_ece": 0.04}
        (path / CHAMPION_METRICS_FILE).write_text(json.dumps(champ))
    write_inputs(root, ds)
    return path


def fake_candidate(root: str, ds: str, *, auc: float = 0.7, corrupt: bool = False) -> Path:
    """A directory artifact opened by ``tests.publish.fakes:load_fake``."""
    path = folder(root, FAKE, ds)
    fakes.save_fake(path / "model_dir", corrupt=corrupt)
    (path / METRICS_FILE).write_text(json.dumps({"auc": auc, "pop_auc": 0.55}))
    users = pd.DataFrame({USER_ID: ["a", "b"], "s": [0.1, 0.2]})
    outputs.write_output(root, FAKE_SCORES, ds, users, source="test")
    return path
