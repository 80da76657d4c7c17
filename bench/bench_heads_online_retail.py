"""Benchmark of the churn and repurchase heads on UCI Online Retail II (the issue's protocol).

Protocol: ``ds`` = the last day of the data; cutoff = ``ds`` - 90 days; customers active in the 90
days before the cutoff; labels from the 90 (churn) and 30 (repurchase) days after it. Everything
runs through the real stages on a data root:

1. the canonical tables are written as validated partitions, one per day (no ingest/validation
   run: the source adapter's tables are already canonical);
2. ``build_training_data(ds)`` (examples at the cutoff) and ``build_features(ds)`` (profiles to score);
3. the backbone: ``pretrain_retrieval`` as of the cutoff day (it sees nothing after the cutoff,
   so the head cannot learn the labels through the item vectors; ``--backbone ds`` pretrains as
   of ``ds`` instead, what the nightly run does when no cutoff backbone exists);
4. ``fine_tune_churn`` and ``fine_tune_repurchase``: head, ``rfm_logreg`` and ``gbdt`` on the same
   split, in the same run.

Prints the metrics of every model, the selection and the training time per head (nothing is
asserted). Targets: churn ROC AUC >= 0.78 and ECE <= 0.05; the fine-tuned head against the best
baseline. ``--root`` keeps the prepared data root between runs (steps already done are skipped).

One split holds only 380 test customers (a test ROC AUC has a standard error of about 0.025), so
``--seeds 42,1,2,3,4`` repeats step 4 with each split seed (the same prepared data and backbone)
and prints the mean, standard deviation, minimum and maximum of every model's test metrics.

Usage: nice -n 10 python bench/bench_heads_online_retail.py [--root /tmp/heads_bench] [--epochs 8]
       [--config '{"frozen_epochs": 40}'] [--backbone cutoff|ds] [--tasks churn,repurchase]
       [--seeds 42,1,2,3,4]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import validated_days  # noqa: E402
from ecom_tasks import contract, storage  # noqa: E402
from ecom_tasks.features import store  # noqa: E402
from ecom_tasks.features import training as feature_training  # noqa: E402
from ecom_tasks.features.config import DEFAULT_TRAINING  # noqa: E402
from ecom_tasks.features.stage import INTERACTIONS, build_features, build_training_data  # noqa: E402
from ecom_tasks.heads.config import HeadConfig  # noqa: E402

log = logging.getLogger("bench_heads_online_retail")
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
PRETRAIN = {"holdout_days": 7, "negatives": "full", "tokens_per_batch": 1024, "val_k": 20, "patience": 2}
# Model -> metric-name prefix in metrics.json ("selected": the published model, unprefixed).
MODEL_PREFIXES = {"head": "finetuned_", "rfm_logreg": "rfm_logreg_", "gbdt": "gbdt_", "selected": ""}
SUMMARY_METRICS = ("roc_auc", "pr_auc", "log_loss", "ece", "top_decile_lift")
VALID_AUC = "valid_roc_auc"  # the validation split's ROC AUC: what selection compares


def write_validated(root: str) -> dt.date:
    """Online Retail II as validated daily partitions (bench/validated_days.py); the last day."""
    return validated_days.write_validated(root, ONLINE_RETAIL)


def _done(root: str, stage: str, table: str, day: dt.date) -> bool:
    return storage.read_manifest(storage.partition_uri(root, stage, table, day)) is not None


def prepare(root: str, ds: dt.date, backbone_day: dt.date, epochs: int) -> dict:
    """Features, training data and the backbone; returns timings of the steps that ran."""
    from ecom_tasks.retrieval.config import RetrievalConfig
    from ecom_tasks.retrieval.stage import pretrain_retrieval

    timings = {}
    if not _done(root, "features", "training_examples", ds):
        t = time.perf_counter()
        build_training_data(root, ds.isoformat())
        build_features(root, ds.isoformat())
        timings["features_and_training_data_s"] = round(time.perf_counter() - t, 1)
    if not os.path.exists(storage.partition_uri(root, "models", "retrieval", backbone_day) + "/weights.npz"):
        t = time.perf_counter()
        last_train_day = backbone_day - dt.timedelta(days=PRETRAIN["holdout_days"])
        build_features(root, last_train_day.isoformat())
        if not _done(root, "features", INTERACTIONS, backbone_day):
            days = store.event_days(root, None, backbone_day)
            cols = [contract.TS, contract.USER_ID, contract.ITEM_ID, contract.EVENT_TYPE]
            inter = feature_training.interactions(store.read_events(root, days, cols), DEFAULT_TRAINING)
            store.write_table(root, INTERACTIONS, backbone_day, inter)
        if not _done(root, "features", "item_features", backbone_day):
            build_features(root, backbone_day.isoformat())
        config = RetrievalConfig(max_epochs=epochs, **PRETRAIN)
        result = pretrain_retrieval(root, backbone_day.isoformat(), config)
        timings["pretrain_s"] = round(time.perf_counter() - t, 1)
        timings["pretrain_recall_at_20"] = result.get("recall_at_20")
    return timings


def seed_summary(task: str, runs: dict[int, dict]) -> dict:
    """Mean, sd, min and max over split seeds of each model's test metrics and validation ROC AUC,
    and the selections.

    Args:
        runs: ``{seed: metrics.json of the task}``.
    """
    out: dict = {"seeds": list(runs), "selected": [m["selected"] for m in runs.values()]}
    for model, prefix in MODEL_PREFIXES.items():
        for metric in (*SUMMARY_METRICS, VALID_AUC):
            name = f"{prefix}valid_{task}_roc_auc" if metric == VALID_AUC else f"{prefix}{task}_{metric}"
            values = [m.get(name) for m in runs.values()]
            values = np.array([v for v in values if v is not None], dtype=np.float64)
            if len(values):
                out[f"{model}_{metric}"] = {
                    "mean": round(float(values.mean()), 4),
                    "sd": round(float(values.std(ddof=1)) if len(values) > 1 else 0.0, 4),
                    "min": round(float(values.min()), 4),
                    "max": round(float(values.max()), 4),
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="data root to prepare or reuse (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=8, help="pretraining epochs of the backbone")
    parser.add_argument("--config", default="{}", help="JSON overrides of HeadConfig fields")
    parser.add_argument("--backbone", choices=("cutoff", "ds"), default="cutoff")
    parser.add_argument("--tasks", default="churn,repurchase")
    parser.add_argument("--seeds", default="", help="comma-separated split seeds to repeat the heads with")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("ecom_tasks.storage", "absl", "tensorflow"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    root = args.root or tempfile.mkdtemp(prefix="heads_bench_")
    overrides = json.loads(args.config)
    if "hidden_units" in overrides:
        overrides["hidden_units"] = tuple(overrides["hidden_units"])
    config = dataclasses.replace(HeadConfig(), **overrides)
    t = time.perf_counter()
    ds = write_validated(root)
    cutoff = ds - dt.timedelta(days=DEFAULT_TRAINING.horizon_days)
    out: dict = {"root": root, "ds": ds.isoformat(), "cutoff": cutoff.isoformat(), "config": config.to_dict()}
    out["write_validated_s"] = round(time.perf_counter() - t, 1)
    backbone_day = cutoff if args.backbone == "cutoff" else ds
    out["prepare"] = prepare(root, ds, backbone_day, args.epochs)
    backbone_uri = storage.partition_uri(root, "models", "retrieval", backbone_day)
    from ecom_tasks.heads.stage import fine_tune

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()] or [config.seed]
    metrics: dict = {}
    cpu = time.process_time()
    for task in args.tasks.split(","):
        runs, head_seconds = {}, []
        for seed in seeds:
            result = fine_tune(
                task, root, ds.isoformat(), dataclasses.replace(config, seed=seed), backbone_uri=backbone_uri
            )
            runs[seed] = storage.read_json(result["metrics_uri"])
            head_seconds.append(result["train_seconds"]["head"])
            out[task if len(seeds) == 1 else f"{task}_seed_{seed}"] = {
                k: v for k, v in result.items() if not k.endswith("_uri")
            }
        metrics[task] = runs[seeds[0]] if len(seeds) == 1 else runs
        if len(seeds) > 1:
            out[f"{task}_over_seeds"] = seed_summary(task, runs)
            out[f"{task}_over_seeds"]["head_train_s"] = [round(x, 1) for x in head_seconds]
    out["metrics"] = metrics
    out["heads_cpu_s"] = round(time.process_time() - cpu, 1)
    out["total_wall_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
