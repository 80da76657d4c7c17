"""Benchmark: the anomaly stage on the busiest day of the 10M-event synthetic shop (issue 20).

The shop is bench/bench_synthetic.py's (``bench_config``: 10 million events over about 60 days, 200k
customers, 20k items), generated day by day and written as validated partitions (what validation
keeps: duplicate event ids and unknown items dropped). Then, for the day with the most orders:

1. ``data.load``: every validated day up to it (purchases; views of the daily metrics' weeks);
2. the reference statistics (items' trailing prices and quantities, customers' habits) of the history;
3. the detectors fitted on the orders before it (at most ``max_train_orders``: the nightly's fit);
4. scoring the day: its order features, every candidate's scores, the top ``budget`` with reasons.

"Scoring the busiest day" is 1 + 2 + 4 (what a night needs for its orders besides the fit), in wall
and CPU seconds (the machine is shared: CPU is the fairer figure). Then, apart, the daily metrics:
reading the views of their weeks and computing them.
With ``--full`` the whole ``train_anomalies`` runs for that day too (a 14-day test window: the shop
has too few days for the default 28 plus 14 plus four weeks).

Usage: nice -n 10 python bench/bench_anomalies_synthetic.py --root /tmp/shop10m_validated
       [--events 10000000] [--days 60] [--full]
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import validated_days  # noqa: E402
from ecom_tasks import contract  # noqa: E402
from ecom_tasks.anomalies import daily, data  # noqa: E402
from ecom_tasks.anomalies import features as f  # noqa: E402
from ecom_tasks.anomalies import reference as ref  # noqa: E402
from ecom_tasks.anomalies.config import AnomalyConfig  # noqa: E402
from ecom_tasks.anomalies.model import AnomalyModel  # noqa: E402
from ecom_tasks.anomalies.outputs import top_orders  # noqa: E402

log = logging.getLogger("bench_anomalies_synthetic")


class Timer:
    """Wall and CPU seconds of each step, printed as it ends; the fit is kept out of the total."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        self.sum_wall = self.sum_cpu = 0.0

    def lap(self, what: str, fit: bool = False) -> None:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        print(f"{what}: {wall:.1f} s wall, {cpu:.1f} s CPU")
        if not fit:
            self.sum_wall, self.sum_cpu = self.sum_wall + wall, self.sum_cpu + cpu
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def time(self, what: str, fn: Callable, *args: object) -> Any:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        out = fn(*args)
        self.lap(what)
        return out

    def total(self) -> tuple[float, float]:
        return self.sum_wall, self.sum_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validated_days.add_synthetic_arguments(parser, days=60)
    parser.add_argument("--full", action="store_true", help="also run train_anomalies for the busiest day")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root, days = validated_days.prepare_synthetic(args, "anomaly_synthetic_")

    config = AnomalyConfig()
    t = time.perf_counter()
    inputs = data.load(root, days[-1], view_days=0)  # purchases only: which day is the busiest
    load_all_s = time.perf_counter() - t
    lines = inputs.lines
    per_day = lines.groupby(data.DAY)[contract.ORDER_ID].nunique()
    busiest = per_day.idxmax()
    print(
        f"{len(lines):,} purchase lines, {lines[contract.ORDER_ID].nunique():,} orders over {len(days)} days "
        f"(read in {load_all_s:.1f} s); busiest day {busiest.date()} with {per_day.max():,} orders"
    )

    timer = Timer()
    # What the night of the busiest day reads for its orders: every purchase up to it.
    inputs = timer.time("read the purchases up to the busiest day", data.load, root, busiest.date(), 0)
    lines = inputs.lines
    reference = timer.time("reference statistics", ref.build, lines, config)
    history = f.order_features(lines[lines[data.DAY] < busiest], reference, config)
    model = AnomalyModel(config).fit(history.tail(config.max_train_orders))
    timer.lap("fit (features of the earlier orders, four detectors on 20,000 of them)", fit=True)
    window = lines[(lines[data.DAY] >= busiest - pd.Timedelta(days=config.lookback_days))]
    day_orders = f.order_features(window, reference, config)
    day_orders = day_orders[day_orders[data.DAY] == busiest].reset_index(drop=True)
    top = top_orders(model, day_orders, config)
    timer.lap(f"the day's {len(day_orders):,} orders: features, scores, the top {config.budget} with reasons")
    wall, cpu = timer.total()
    print(f"scoring the busiest day's orders (read, reference, score): {wall:.1f} s wall, {cpu:.1f} s CPU")
    views = timer.time(
        f"read the views of the metrics' {config.metric_view_days} days",
        data.load,
        root,
        busiest.date(),
        config.metric_view_days,
    )
    first = busiest - pd.Timedelta(days=config.test_days - 1)
    rows = timer.time(
        "daily metrics of the test window", daily.anomalies, lines, views.sessions, first, busiest, config
    )
    print(f"  ({len(rows):,} metric rows, {int(rows[daily.FLAGGED].sum())} flagged)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MiB")
    for _, row in top.head(5).iterrows():
        print(f"  #{row['rank']} {row[contract.ORDER_ID]}: {row['reasons']}")
    if args.full:
        from ecom_tasks.anomalies.stage import train_anomalies

        t = time.perf_counter()
        result = train_anomalies(root, busiest.date().isoformat(), replace(config, test_days=14), None)
        print(f"train_anomalies (test_days=14) for {busiest.date()}: {time.perf_counter() - t:.1f} s")
        print({k: v for k, v in result.items() if not k.endswith("uri")})


if __name__ == "__main__":
    main()
