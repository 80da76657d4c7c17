"""Benchmark of the retrieval stage on the built-in synthetic shop, as a nightly run trains it.

The steps of the nightly up to retrieval, in process: ingest (the synthetic source with the run
parameters' shop), validation, the feature stage and its training data for ``--ds``, then
``pretrain_retrieval`` with the nightly's configuration (``RetrievalConfig.from_run``, plus
``--config`` overrides). Prints the model's and the baselines' figures of the run's
``metrics.json`` (nothing is asserted): the issue's target is the model's Recall@20 >= item-kNN's.
A root that already holds the day is reused (only retrieval runs again).

Usage: python bench/bench_retrieval_builtin_shop.py [--ds 2024-06-30] [--small (tests/small_shop's shop)]
       [--root PATH] [--config '{"negatives": "full"}'] [--params '{"epochs": 4}']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecom_tasks import catalog, contract, storage  # noqa: E402
from ecom_tasks.features.stage import build_features, build_training_data  # noqa: E402
from ecom_tasks.ingest import IngestConfig, ingest  # noqa: E402
from ecom_tasks.params import RunParams  # noqa: E402
from ecom_tasks.retrieval.config import RetrievalConfig  # noqa: E402
from ecom_tasks.retrieval.stage import pretrain_retrieval  # noqa: E402
from ecom_tasks.validation.backlog import validate_landed  # noqa: E402

log = logging.getLogger("bench_retrieval_builtin_shop")
FIGURES = ("recall_at_20", "ndcg_at_10", "hr_at_10", "itemknn_recall_at_20", "itemknn_ndcg_at_10")


def prepare(root: str, ds: str, params: dict) -> None:
    """Ingest, validate and build the features and training data of ``ds`` (skipped when present)."""
    done = storage.partition_uri(root, catalog.FEATURES, catalog.TRAINING_INTERACTIONS, ds)
    if storage.read_manifest(done) is not None:
        return
    if storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, ds)) is None:
        ingest(root, ds, IngestConfig.from_params(params))
        validate_landed(root, ds)
    build_features(root, ds)
    build_training_data(root, ds)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (arguments as on the command line); print and return its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ds", default="2024-06-30", help="the run's day (make demo's default)")
    parser.add_argument("--root", default=None, help="data root (default: /tmp/bench_builtin_shop[_small])")
    parser.add_argument(
        "--small", action="store_true", help="tests/small_shop.py's shop instead of the default"
    )
    parser.add_argument("--params", default="{}", help="JSON run parameters (the trigger form's)")
    parser.add_argument("--config", default="{}", help="JSON overrides of RetrievalConfig fields")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("ecom_tasks.storage", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    params = json.loads(args.params)
    if args.small:
        from tests.small_shop import SMALL_SHOP

        params = {**SMALL_SHOP, **params}
    root = args.root or f"/tmp/bench_builtin_shop{'_small' if args.small else ''}"
    t0 = time.perf_counter()
    prepare(root, args.ds, params)
    prepared = time.perf_counter() - t0
    config = dataclasses.replace(
        RetrievalConfig.from_run(RunParams.from_mapping(params)), **json.loads(args.config)
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    result = pretrain_retrieval(root, args.ds, config)
    metrics = storage.read_json(result["metrics_uri"])
    history = storage.read_json(f"{result['model_uri']}/{catalog.HISTORY_FILE}")
    out = {
        "ds": args.ds,
        "params": params,
        "config_overrides": json.loads(args.config),
        "prepare_seconds": round(prepared, 1),
        "retrieval_seconds": round(time.perf_counter() - t0, 1),
        "retrieval_cpu_seconds": round(time.process_time() - cpu0, 1),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "best_epoch": history["best_epoch"],
        "epochs_run": len(history["epochs"]) - 1,
        "repeat_bonus": result["repeat_bonus"],
        "repeat_per_count": result.get("repeat_per_count"),
        "eval_users": result["eval_users"],
        **{k: round(metrics[k], 4) for k in FIGURES if k in metrics},
    }
    print(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
