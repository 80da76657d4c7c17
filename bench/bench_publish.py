"""Benchmark of the gate and publication stage on the embedded SQLite MLflow store.

Prints its figures (nothing is asserted):

1. Store set-up: creating the SQLite tracking/registry database (MLflow's schema migrations).
2. A small scikit-learn churn candidate, gated and published for several consecutive days:
   seconds per ``gate_model`` and per ``publish_model`` (registration, serving check from the
   registry, alias and pointer move), a rerun of the same day (idempotent), ``models list`` and a
   rollback.
3. With ``--tensorflow``: an (untrained) retrieval SavedModel over ``--items`` items exported by
   ``ecom_tasks.retrieval.export``, published the same way; then top-10 latency for one user
   through ``models:/ecom_retrieval@champion`` (the pyfunc wrapper) against the raw SavedModel.

Usage: python bench/bench_publish.py [--days 5] [--tensorflow] [--items 12000] [--root DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecom_tasks import storage  # noqa: E402
from ecom_tasks.contract import USER_ID  # noqa: E402
from ecom_tasks.publish import outputs, rollback, stage, tracking  # noqa: E402
from ecom_tasks.publish.config import CHURN_SCORES  # noqa: E402

DAYS = pd.date_range("2024-03-01", periods=60, freq="D").strftime("%Y-%m-%d").tolist()


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def churn_candidate(root: str, ds: str, auc: float) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = pd.DataFrame({"recency_days": rng.normal(size=200), "frequency": rng.normal(size=200)})
    model = LogisticRegression().fit(x, (x["frequency"] > 0).astype(int))
    folder = Path(storage.partition_uri(root, "models", "churn", ds))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(model))
    metrics = {
        "churn_roc_auc": auc,
        "churn_ece": 0.03,
        "rfm_logreg_churn_roc_auc": 0.7,
        "gbdt_churn_roc_auc": 0.71,
    }
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "champion_metrics.json").write_text(json.dumps({"churn_roc_auc": auc - 0.005}))
    users = pd.DataFrame({USER_ID: [f"u{i}" for i in range(1000)], "churn_score": rng.random(1000)})
    storage.write_partition(
        users, storage.partition_uri(root, "features", "customer_profiles", ds), source="bench"
    )
    outputs.write_output(root, CHURN_SCORES, ds, users, source="bench")


def bench_sklearn(root: str, days: int) -> None:
    gates, publishes, checks = [], [], []
    for i, ds in enumerate(DAYS[:days]):
        churn_candidate(root, ds, 0.78 + 0.002 * i)
        gated, g = timed(stage.gate_model, root, ds, "churn")
        assert gated["blessed"], gated
        result, p = timed(stage.publish_model, root, ds, "churn")
        gates.append(g)
        publishes.append(p)
        checks.append(result["serving_check_seconds"])
    print(f"churn (scikit-learn pickle), {days} days:")
    print(
        f"  gate_model     first {gates[0]:.2f} s, then median {statistics.median(gates[1:] or gates):.2f} s"
    )
    rest = statistics.median(publishes[1:] or publishes)
    print(f"  publish_model  first {publishes[0]:.2f} s, then median {rest:.2f} s")
    print(f"  serving check (load from registry + smoke query) median {statistics.median(checks):.2f} s")
    _, rerun = timed(lambda: (stage.gate_model(root, DAYS[days - 1], "churn"),
                              stage.publish_model(root, DAYS[days - 1], "churn")))  # fmt: skip
    print(f"  rerun of the last day (gate + publish, no new version) {rerun:.2f} s")
    rows, listing = timed(rollback.list_models, root, "churn")
    print(f"  models list ({len(rows)} versions) {listing:.2f} s")
    _, back = timed(rollback.rollback, root, "churn", "1")
    print(f"  rollback to version 1 (serving check + alias + pointer) {back:.2f} s")


def bench_tensorflow(root: str, n_items: int) -> None:
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    from ecom_tasks.contract import ITEM_ID, TS
    from ecom_tasks.retrieval import data, export, train
    from ecom_tasks.retrieval.config import RetrievalConfig

    rng = np.random.default_rng(0)
    n = 20 * n_items
    inter = pd.DataFrame({
        USER_ID: [f"u{u}" for u in rng.integers(0, n_items // 2, n)],
        ITEM_ID: [f"i{i}" for i in rng.integers(0, n_items, n)],
        TS: pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
    })  # fmt: skip
    config = RetrievalConfig(embedding_dim=64, max_history=20, num_blocks=1)
    clean = data.clean_interactions(inter)
    vocabs = data.build_vocabularies(clean, None, None, config)
    model = train.build_model(vocabs, config, None, data.user_feature_matrix(None, vocabs))
    ds = DAYS[0]
    folder = Path(storage.partition_uri(root, "models", "retrieval", ds))
    folder.mkdir(parents=True, exist_ok=True)
    _, export_s = timed(export.export_saved_model, model, vocabs, str(folder / "saved_model"), 100)
    metrics = {"recall_at_20": 0.2, "ndcg_at_10": 0.1}
    metrics |= {"popularity_recall_at_20": 0.1, "itemknn_recall_at_20": 0.15}
    metrics |= {"popularity_ndcg_at_10": 0.05, "itemknn_ndcg_at_10": 0.08}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    _, g = timed(stage.gate_model, root, ds, "retrieval")
    result, p = timed(stage.publish_model, root, ds, "retrieval")
    print(f"retrieval SavedModel, {vocabs.num_items:,} items, d=64 (export {export_s:.1f} s):")
    check = result["serving_check_seconds"]
    print(f"  gate_model {g:.2f} s, publish_model {p:.2f} s (serving check {check:.2f} s)")

    import mlflow
    import tensorflow as tf

    served = mlflow.pyfunc.load_model("models:/ecom_retrieval@champion")
    query = {"user_id": np.array(["u1"], object), "history": np.array([["i1", "i2", "i3"]], object),
             "user_features": np.zeros((1, 0), np.float32), "k": np.int32(10)}  # fmt: skip
    raw = tf.saved_model.load(str(folder / "saved_model")).signatures["serving_default"]
    feeds = {k: tf.constant(v) for k, v in query.items()}
    for label, call in (
        ("pyfunc models:/…@champion", lambda: served.predict(query)),
        ("raw SavedModel", lambda: raw(**feeds)),
    ):
        call()
        laps = [timed(call)[1] * 1000 for _ in range(50)]
        print(f"  top-10 for one user via {label}: p50 {statistics.median(laps):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--tensorflow", action="store_true")
    parser.add_argument("--items", type=int, default=12_000)
    parser.add_argument(
        "--root", default=None, help="where to make the temp data root (default: system temp)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.pop(tracking.TRACKING_URI_ENV, None)
    root = tempfile.mkdtemp(prefix="bench-publish-", dir=args.root)
    try:
        _, imported = timed(__import__, "mlflow")
        _, created = timed(lambda: tracking.configure(root).search_experiments())
        print(f"import mlflow {imported:.2f} s; SQLite store creation (schema migrations) {created:.2f} s")
        bench_sklearn(root, args.days)
        if args.tensorflow:
            bench_tensorflow(root, args.items)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
