"""Benchmark of the forecast stage on UCI Online Retail II (issue 19): the last 28 days are the test.

Protocol: ``ds`` = the last day of the data. Everything runs through the real stage code on a data
root:

1. the source's canonical tables (``read_online_retail``, the project's Online Retail source) as
   validated daily partitions (as bench_heads_online_retail.py);
2. a retrieval model pretrained as of the day before the test window (``--backbone-epochs``; 0:
   none), so the item vectors saw nothing of the test window (point in time for the test);
3. ``train_forecast(ds)`` with that backbone: the backtest of every candidate (snaive, ets,
   intermittent, global_noemb, global), the published forecast, inventory plan, elasticity and
   report, each step timed;
4. ablations on the same data: without the cap on one-off lines (``cap_multiplier=None``).

Prints the timings and every metric (nothing is asserted). Done-when targets: published ``wape``
at least 10 % below ``snaive_wape`` and 3 % below the best statsforecast baseline, ``coverage_80``
in 0.75-0.85. ``--root`` keeps the prepared data root between runs (steps already done are skipped).

Usage: nice -n 10 python bench/bench_forecast_online_retail.py [--root /tmp/forecast_bench]
       [--backbone-epochs 3] [--config '{"lgbm_objective": "l1"}'] [--no-ablation]
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
import warnings
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench import validated_days  # noqa: E402
from ecom_tasks import contract, storage  # noqa: E402
from ecom_tasks.forecast import backtest, data  # noqa: E402
from ecom_tasks.forecast.config import STATS_MODELS, ForecastConfig  # noqa: E402
from ecom_tasks.forecast.stage import train_forecast  # noqa: E402

log = logging.getLogger("bench_forecast_online_retail")
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
PRETRAIN = {"holdout_days": 7, "negatives": "full", "tokens_per_batch": 1024, "val_k": 20, "patience": 2}
KEYS = ("wape", "weekly_wape", "mase", "bias", "coverage_80", "coverage_95", "pinball_90", "valid_wape")


def write_validated(root: str) -> dt.date:
    """Online Retail II as validated daily partitions (bench/validated_days.py); the last day."""
    return validated_days.write_validated(root, ONLINE_RETAIL)


def backbone(root: str, day: dt.date, epochs: int) -> str | None:
    """A retrieval model pretrained as of ``day`` (reused when present); None with 0 epochs."""
    if epochs <= 0:
        return None
    from ecom_tasks.features import store
    from ecom_tasks.features import training as feature_training
    from ecom_tasks.features.config import DEFAULT_TRAINING
    from ecom_tasks.features.stage import INTERACTIONS, build_features
    from ecom_tasks.retrieval.config import RetrievalConfig
    from ecom_tasks.retrieval.stage import pretrain_retrieval

    folder = storage.partition_uri(root, "models", "retrieval", day)
    if os.path.exists(f"{folder}/weights.npz"):
        return folder
    build_features(root, (day - dt.timedelta(days=PRETRAIN["holdout_days"])).isoformat())
    days = store.event_days(root, None, day)
    cols = [contract.TS, contract.USER_ID, contract.ITEM_ID, contract.EVENT_TYPE]
    inter = feature_training.interactions(store.read_events(root, days, cols), DEFAULT_TRAINING)
    store.write_table(root, INTERACTIONS, day, inter)
    build_features(root, day.isoformat())
    pretrain_retrieval(root, day.isoformat(), RetrievalConfig(max_epochs=epochs, **PRETRAIN))
    return folder


def summary(metrics: dict) -> dict:
    """Every candidate's headline figures (the published one under its own name)."""
    out = {}
    names = [*STATS_MODELS, "global_noemb", "global"]
    for name in names:
        prefix = "" if metrics["selected"] == name else f"{name}_"
        if f"{prefix}wape" in metrics:
            out[name] = {k: metrics.get(f"{prefix}{k}") for k in KEYS}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="data root to prepare or reuse (default: a temp dir)")
    parser.add_argument(
        "--backbone-epochs", type=int, default=3, help="retrieval pretraining epochs (0: none)"
    )
    parser.add_argument("--config", default="{}", help="JSON overrides of ForecastConfig fields")
    parser.add_argument("--no-ablation", action="store_true", help="skip the run without the cap")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    warnings.simplefilter("ignore")
    root = args.root or tempfile.mkdtemp(prefix="forecast_bench_")
    config = dataclasses.replace(ForecastConfig(), **json.loads(args.config))
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ds = write_validated(root)
    timings["validated_partitions_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    bb = backbone(root, ds - dt.timedelta(days=config.horizon_days), args.backbone_epochs)
    timings["backbone_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    result = train_forecast(root, ds.isoformat(), config, backbone_uri=bb)
    timings["train_forecast_s"] = round(time.perf_counter() - t, 1)
    folder = storage.partition_uri(root, "models", "forecast", ds)
    metrics = storage.read_json(f"{folder}/metrics.json")
    history = storage.read_json(f"{folder}/history.json")
    out = {
        "ds": ds.isoformat(),
        "backbone": bb,
        "timings": timings,
        "steps_s": history["seconds"],
        "selected": metrics["selected"],
        "selection": metrics["selection"],
        "items_evaluated": metrics["items_evaluated"],
        "capped_item_days": metrics["capped_item_days"],
        "elasticity": {k: v for k, v in metrics.items() if "elasticity" in k},
        "models": summary(metrics),
        "inventory": {
            k: metrics.get(k)
            for k in ("inventory_coverage", "median_sum_inventory_coverage", "mean_bias", "mean_ratio")
        },
    }
    best_stats = min(out["models"][m]["wape"] for m in STATS_MODELS)
    out["targets"] = {
        "wape_vs_snaive": round(1 - metrics["wape"] / out["models"]["snaive"]["wape"], 4),
        "wape_vs_best_statsforecast": round(1 - metrics["wape"] / best_stats, 4),
        "coverage_80": metrics["coverage_80"],
    }
    if not args.no_ablation:
        t = time.perf_counter()
        demand = data.load(root, ds)
        nocap = dataclasses.replace(config, cap_multiplier=None)
        emb = None
        if bb:
            from ecom_tasks.forecast.embeddings import item_embeddings

            emb = item_embeddings(bb, demand.items, config.embedding_dims)
        ablation = backtest.run(demand, nocap, emb)
        out["ablation_no_cap"] = {"selected": ablation.selected, "models": summary(ablation.metrics)}
        timings["ablation_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps(out, indent=1, default=str))
    log.info("report: %s", result["report_uri"])


if __name__ == "__main__":
    main()
