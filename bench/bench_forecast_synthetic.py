"""Benchmark: the forecast stage on a synthetic shop of 20,000 items (issue 19: under 10 minutes and 8 GiB).

The shop is bench/bench_synthetic.py's (``bench_config``: 10 million events make 200k customers and
20k items) spread over about ``--days`` days, so that the rolling-origin backtest has its two windows
of ``forecast_horizon_days`` and enough history before them. It is written as validated partitions
(bench/validated_days.py ``write_synthetic``; a prepared ``--root`` is reused), then ``train_forecast``
runs for the last day exactly as the nightly calls it (no retrieval champion in that root: the
global model runs without item vectors, which the stage logs).

Prints the wall seconds of the stage, its own per-step CPU seconds (``history.json``), the peak
resident memory of the process, the items forecast and the published metrics. Nothing is asserted.

Usage: nice -n 10 python bench/bench_forecast_synthetic.py --root /tmp/forecast20k
       [--events 10000000] [--days 150] [--config '{"forecast_horizon_days": 28}']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import validated_days  # noqa: E402
from ecom_tasks import contract, storage  # noqa: E402
from ecom_tasks.forecast.config import ForecastConfig  # noqa: E402
from ecom_tasks.forecast.stage import train_forecast  # noqa: E402

KEYS = ("wape", "snaive_wape", "ets_wape", "global_noemb_wape", "coverage_80", "items_evaluated", "selected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validated_days.add_synthetic_arguments(parser, days=150)
    parser.add_argument("--config", default="{}", help="JSON overrides of ForecastConfig fields")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = dataclasses.replace(ForecastConfig(), **json.loads(args.config))
    root, days = validated_days.prepare_synthetic(args, "forecast_synthetic_")
    ds = days[-1]
    items = storage.read_partition(storage.partition_uri(root, "validated", contract.ITEMS, ds))
    print(f"{len(items):,} items in the catalogue on {ds}")

    wall, cpu = time.perf_counter(), time.process_time()
    result = train_forecast(root, ds.isoformat(), config)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"train_forecast for {ds}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {peak_gib:.2f} GiB")

    print({k: v for k, v in result.items() if not k.endswith("uri")})
    folder = storage.partition_uri(root, "models", "forecast", ds)
    metrics = storage.read_json(f"{folder}/metrics.json")
    for step, seconds in sorted(storage.read_json(f"{folder}/history.json")["seconds"].items()):
        print(f"  {step}: {seconds:.1f} s")
    print(json.dumps({k: metrics.get(k) for k in KEYS}, indent=1))


if __name__ == "__main__":
    main()
