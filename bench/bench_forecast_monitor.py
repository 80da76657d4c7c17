"""Time of the nightly forecast monitor's reading and figures on a shop-sized set of forecasts.

Writes ``--nights`` demand forecasts (``--items`` items x ``--horizon`` days each, published one a
night through the outputs pointer, as the forecast stage's publication moves it) under a temporary
root, then times what the ``monitor`` task does for the next day: find every forecast current in
the nights before it (:func:`ecom_tasks.monitoring.forecast_realized.published`, point in time),
read their rows for the day, and compute the realized WAPE by horizon and the coverage. The units
sold are random (reading the validated events is the features' and the forecast's own cost).
Prints the seconds; nothing is asserted.

Usage: python bench/bench_forecast_monitor.py [--items 4000] [--horizon 28] [--nights 28]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecom_tasks import catalog
from ecom_tasks.monitoring import forecast_realized as fr
from ecom_tasks.publish import outputs
from ecom_tasks.publish.specs import ModelSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4000)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument("--nights", type=int, default=28)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="bench_forecast_monitor_")
    items = np.array([f"i{i}" for i in range(args.items)])
    spec = ModelSpec(catalog.FORECAST, output_tables=(catalog.DEMAND_FORECAST,))
    day, rng = dt.date(2024, 3, 1), np.random.default_rng(0)
    for back in range(args.nights, 0, -1):
        ds = day - dt.timedelta(days=back)
        days = pd.date_range(ds + dt.timedelta(days=1), periods=args.horizon).date
        frame = pd.DataFrame({"item_id": np.repeat(items, args.horizon), "day": np.tile(days, len(items))})
        frame["p50"] = rng.random(len(frame))
        frame["p10"], frame["p90"] = 0.0, 2 * frame["p50"]
        outputs.write_output(root, catalog.DEMAND_FORECAST, ds.isoformat(), frame, source="bench")
        outputs.move_pointer(root, spec, str(back), ds.isoformat(), require_outputs=True)
    started = time.perf_counter()
    found = fr.published(root, day, args.horizon)
    read = time.perf_counter() - started
    actual = pd.Series(rng.poisson(1.0, len(items)).astype(float), index=items)
    started = time.perf_counter()
    forecasts = [((day - dt.date.fromisoformat(e["ds"])).days, rows) for e, rows in found]
    judged = fr.judged_rows(forecasts, actual)
    figures = fr.figures(judged, (7, 14, 28))
    computed = time.perf_counter() - started
    shape = f"{args.items} items x {args.horizon} days"
    print(f"{len(found)} forecasts of {shape}: {len(judged):,} item-days judged")
    print(f"find and read: {read:.2f} s; figures: {computed:.2f} s; wape {figures['wape']:.3f}")


if __name__ == "__main__":
    main()
