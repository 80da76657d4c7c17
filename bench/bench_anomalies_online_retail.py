"""Benchmark of the anomaly stage on UCI Online Retail II (the issue's protocol).

Protocol: ``ds`` = the last day of the data; the last ``anomaly_test_days`` (28) days are the test
window, the 14 before them the validation window; the detectors learn from the orders before.
Everything runs through the real stage on a data root:

1. the source adapter's canonical tables written as validated partitions, one per day (as
   bench/bench_heads_online_retail.py does; no ingest/validation run);
2. ``train_anomalies(root, ds)``: rules, Isolation Forest, ECOD, COPOD, HBOS and the ensemble,
   injected anomalies, selection, metrics, outputs, the day's alert;
3. timings: scoring one day (its order features and the selected detector's scores, from the
   already-built reference statistics and model), and the whole year as a backlog (reference
   statistics, features and scores of every order of the year);
4. how often each rule fires on the real orders (per day), and what the selected detector ranks
   highest among the real orders of a few days, with reasons.

Prints everything (nothing is asserted). Targets: ``injected_recall_at_budget`` >= 0.85 overall,
>= 0.7 per type, above the rules and the best single detector; one day in under 2 s, the year in
under 60 s.

Usage: nice -n 10 python bench/bench_anomalies_online_retail.py [--root /tmp/anomaly_bench]
       [--days 2010-11-23,2010-12-02,2010-12-09]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import validated_days  # noqa: E402
from ecom_tasks import contract  # noqa: E402
from ecom_tasks.anomalies import data, inject  # noqa: E402
from ecom_tasks.anomalies import features as f  # noqa: E402
from ecom_tasks.anomalies import reference as ref  # noqa: E402
from ecom_tasks.anomalies.config import CANDIDATES, MODEL_DIR, AnomalyConfig  # noqa: E402
from ecom_tasks.anomalies.model import load  # noqa: E402
from ecom_tasks.anomalies.outputs import top_orders  # noqa: E402
from ecom_tasks.anomalies.rules import rule_strengths  # noqa: E402
from ecom_tasks.anomalies.stage import train_anomalies  # noqa: E402

log = logging.getLogger("bench_anomalies_online_retail")
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
KEYS = (
    "injected_recall_at_budget",
    "injected_precision_at_budget",
    "injected_roc_auc",
    *(f"recall_{t}" for t in inject.ORDER_TYPES),
)


def write_validated(root: str) -> dt.date:
    """Online Retail II as validated daily partitions (bench/validated_days.py); the last day."""
    return validated_days.write_validated(root, ONLINE_RETAIL)


def table(metrics: dict) -> str:
    """Every candidate's figures, one row per candidate (the selected one bare)."""
    rows = [
        f"{'model':<10}" + "".join(f"{k.replace('injected_', '').replace('recall_', 'r_'):>20}" for k in KEYS)
    ]
    for name, prefix in [("selected", ""), *((c, f"{c}_") for c in CANDIDATES)]:
        cells = "".join(f"{metrics.get(prefix + k) or float('nan'):>20.3f}" for k in KEYS)
        rows.append(f"{name:<10}{cells}")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None)
    parser.add_argument("--days", default="2010-11-23,2010-12-02,2010-12-09")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not ONLINE_RETAIL.exists():
        sys.exit(f"{ONLINE_RETAIL} is missing: put UCI Online Retail II under ../shared/data")
    root = args.root or tempfile.mkdtemp(prefix="anomaly_bench_")
    t = time.perf_counter()
    ds = write_validated(root)
    print(f"data root {root}; ds {ds}; validated partitions ready in {time.perf_counter() - t:.1f} s")
    config = AnomalyConfig()
    t = time.perf_counter()
    result = train_anomalies(root, ds.isoformat(), config, None)
    train_s = time.perf_counter() - t
    metrics = json.loads(Path(result["model_uri"], "metrics.json").read_text())
    print(f"train_anomalies: {train_s:.1f} s; selected {metrics['selected']}")
    print(metrics["selection"])
    print(table(metrics))
    print(f"recall_metric_drop {metrics.get('recall_metric_drop')}")

    model = load(f"{result['model_uri']}/{MODEL_DIR}")
    inputs = data.load(root, ds)
    lines = inputs.lines
    t = time.perf_counter()
    reference = ref.build(lines, config)
    every = f.order_features(lines, reference, config)
    scores = model.predict(every)
    year_s = time.perf_counter() - t
    print(f"backlog: reference, features and scores of all {len(every)} orders of the year in {year_s:.1f} s")
    # How often each rule fires on the real orders (no injection): what a person would be shown.
    n_days = every[data.DAY].nunique()
    test = every[data.DAY] > pd.Timestamp(ds) - pd.Timedelta(days=config.test_days)
    for rule, strength in rule_strengths(every, config).items():
        fires = strength >= 1
        print(
            f"rule {rule}: fires on {fires.sum()} real orders of the year ({fires.sum() / n_days:.2f} a day "
            f"with orders), {fires[test.to_numpy()].sum()} in the test window"
        )
    for day in args.days.split(","):
        d = pd.Timestamp(day)
        t = time.perf_counter()
        window = lines[
            (lines[data.DAY] >= d - pd.Timedelta(days=config.lookback_days)) & (lines[data.DAY] <= d)
        ]
        day_orders = f.order_features(window, reference, config)
        day_orders = day_orders[day_orders[data.DAY] == d].reset_index(drop=True)
        top = top_orders(model, day_orders, config)
        one_day_s = time.perf_counter() - t
        print(
            f"\n{day}: {len(day_orders)} orders scored in {one_day_s:.2f} s; the top 5 by {model.selected}:"
        )
        for _, row in top.head(5).iterrows():
            who = row[contract.USER_ID] if pd.notna(row[contract.USER_ID]) else "anonymous"
            print(
                f"  #{row['rank']} {row[contract.ORDER_ID]} ({who}, {row[contract.COUNTRY]}, "
                f"{row[ref.VALUE]:,.2f}; severity {row['severity']:.4f}): {row['reasons']}"
            )
    del scores


if __name__ == "__main__":
    main()
