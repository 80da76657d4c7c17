"""Benchmark of the feature stage: profiles and item features on real and synthetic data.

Prints its figures (nothing is asserted):

1. UCI Online Retail II (../shared/data): full-history state + customer profiles + item
   features (target < 10 s), and one nightly incremental update (state of the day before + the
   last day).
2. Synthetic shops of 1..10 million events over a year (a quick vectorised generator in this file: the
   day-by-day simulator in ecom_tasks.sources.synthetic is built for realism, not for 10 million
   events in seconds): the same computation, timed per size to show how it grows (target at 10M:
   < 2 minutes, peak memory < 6 GiB), each size in a fresh process so peaks do not mix; plus one
   nightly incremental update (state of the day before + the last day) at each size.
3. The RFM aggregation (``rfm_aggregate``) against DuckDB running the same aggregation on the same
   in-memory frame in the same process (target: within 2x; the ratio is printed).

Usage: python bench/bench_features.py [--sizes 1,2,5,10] [--repeats 3] [--skip-real] [--threads 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ecom_tasks import contract  # noqa: E402
from ecom_tasks.features.aggregate import rfm_aggregate, summarise  # noqa: E402
from ecom_tasks.features.config import FeatureConfig  # noqa: E402
from ecom_tasks.features.items import item_features  # noqa: E402
from ecom_tasks.features.profiles import customer_profiles  # noqa: E402
from ecom_tasks.features.state import merge  # noqa: E402

log = logging.getLogger("bench_features")
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
GIB = 2**30


def _ids(prefix: str, codes: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    digits = pc.cast(pa.array(codes.astype(np.int64)), pa.string())
    arr = pc.binary_join_element_wise(pa.scalar(prefix), digits, pa.scalar(""))
    if null is not None:
        arr = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), arr)
    return pd.Series(pd.array(arr, dtype=contract.STRING_DTYPE))


def synthetic_shop(
    n_events: int, seed: int = 0, days: int = 365
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A vectorised shop: sessions of ~10 events by ~n/50 users with lognormal activity, Zipf items,
    orders per buying session, returns, anonymous visitors, zero prices and untitled items."""
    rng = np.random.default_rng(seed)
    n_sess, n_users, n_items = (
        max(n_events // 10, 1),
        max(n_events // 50, 1),
        max(min(n_events // 200, 50_000), 10),
    )
    activity = rng.lognormal(0.0, 1.0, n_users)
    sess_user = rng.choice(n_users, size=n_sess, p=activity / activity.sum())
    sess_start = np.sort(rng.integers(0, days * 86_400, n_sess)) * 1_000_000
    sess = np.sort(rng.integers(0, n_sess, n_events))
    pos = np.arange(n_events) - np.searchsorted(sess, sess, side="left")
    t0 = pd.Timestamp("2024-01-01", tz="UTC").value // 1000
    ts = t0 + sess_start[sess] + pos * 30_000_000
    et = rng.choice(4, n_events, p=[0.70, 0.15, 0.13, 0.02])
    item = (rng.zipf(1.3, n_events) - 1) % n_items
    price = np.where(rng.random(n_items) < 0.01, 0.0, np.round(rng.gamma(2.0, 5.0, n_items), 2))
    qty = rng.integers(1, 4, n_events)
    anon = (rng.random(n_sess) < 0.1)[sess] & (et < 2)
    events = pd.DataFrame(
        {
            contract.EVENT_ID: _ids("e", np.arange(n_events)),
            contract.TS: pd.Series(ts.view("datetime64[us]")).dt.tz_localize("UTC"),
            contract.USER_ID: _ids("u", sess_user[sess], anon),
            contract.SESSION_ID: _ids("s", sess),
            contract.ITEM_ID: _ids("i", item),
            contract.EVENT_TYPE: pd.Series(
                pd.array(np.array(contract.EVENT_TYPES, dtype=object)[et], dtype="string")
            ),
            contract.QUANTITY: np.where(et == 3, -qty, qty).astype(np.int64),
            contract.UNIT_PRICE: price[item],
            contract.ORDER_ID: _ids("o", np.where(et == 3, sess + n_sess, sess), et < 2),
            contract.COUNTRY: pd.Series(
                pd.array(np.array(["GB", "DE", "FR", "NL", "US"])[sess_user[sess] % 5], dtype="string")
            ),
        }
    )
    items = pd.DataFrame(
        {
            contract.ITEM_ID: _ids("i", np.arange(n_items)),
            contract.TITLE: _ids("Item number ", np.arange(n_items), rng.random(n_items) < 0.02),
            contract.CATEGORY: _ids("cat", np.arange(n_items) % 40),
            contract.PRICE: price,
            contract.FIRST_SEEN: pd.Series(np.full(n_items, t0).view("datetime64[us]")).dt.tz_localize("UTC"),
        }
    )
    users = pd.DataFrame(
        {
            contract.USER_ID: _ids("u", np.arange(n_users)),
            contract.FIRST_SEEN: pd.Series(np.full(n_users, t0).view("datetime64[us]")).dt.tz_localize("UTC"),
            contract.COUNTRY: pd.Series(
                pd.array(np.array(["GB", "DE", "FR", "NL", "US"])[np.arange(n_users) % 5], dtype="string")
            ),
        }
    )
    return events, items, users


def features(
    events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, ds, config: FeatureConfig
) -> dict:
    """Full recompute: state from the whole history, then profiles and item features (timed)."""
    c0, t0 = time.process_time(), time.perf_counter()
    state = summarise(events, ds, config)
    t1 = time.perf_counter()
    prof, _ = customer_profiles(state, users, items, config)
    t2 = time.perf_counter()
    feats = item_features(state, items, config)
    t3 = time.perf_counter()
    cpu = time.process_time() - c0  # steadier than wall time on a shared machine
    return {"cpu_s": cpu, "state_s": t1 - t0, "profiles_s": t2 - t1, "items_s": t3 - t2, "total_s": t3 - t0,
            "customers": len(prof), "items": len(feats), "state": state}  # fmt: skip


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux >= 4.0)
        return True
    except OSError:
        return False


def _peak_rss() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / GIB
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def duckdb_rfm(con, events: pd.DataFrame) -> pd.DataFrame:
    con.register("events", events)
    return con.sql(
        f"""SELECT {contract.USER_ID}, max({contract.TS}) AS last_ts,
                   count(DISTINCT ({contract.ORDER_ID}, CAST({contract.TS} AS DATE))) AS n_orders,
                   sum({contract.QUANTITY} * {contract.UNIT_PRICE}) AS gross_value
            FROM events WHERE {contract.EVENT_TYPE} = 'purchase' AND {contract.USER_ID} IS NOT NULL
            GROUP BY {contract.USER_ID} ORDER BY {contract.USER_ID}"""
    ).df()


def child(size_m: float, path: str, repeats: int, threads: int) -> dict:
    """One synthetic size in this (fresh) process: features, peak memory, RFM vs DuckDB."""
    import duckdb

    events = pd.read_parquet(path)
    items = pd.read_parquet(path + ".items")
    users = pd.read_parquet(path + ".users")
    gc.collect()
    base = _peak_rss()
    reset = _peak_rss_reset()
    ds = events[contract.TS].max().date()
    config = FeatureConfig()
    runs = [features(events, items, users, ds, config) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["total_s"])
    peak = _peak_rss()
    # One night: the state of the day before (computed untimed) + one full day's events.
    night = ds - dt.timedelta(days=1)  # the last date holds only sessions running past midnight
    start = pd.Timestamp(night, tz="UTC")
    ts = events[contract.TS]
    last = ((ts >= start) & (ts < start + pd.Timedelta(days=1))).to_numpy()
    prev = summarise(events[(ts < start).to_numpy()], night - dt.timedelta(days=1), config)
    c, t = time.process_time(), time.perf_counter()
    state = merge(prev, summarise(events[last], night, config), config)
    customer_profiles(state, users, items, config)
    item_features(state, items, config)
    nightly, nightly_cpu = time.perf_counter() - t, time.process_time() - c
    del prev, state
    con = duckdb.connect()
    con.execute(f"SET threads TO {threads}")
    ours, theirs = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        rfm = rfm_aggregate(events)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref = duckdb_rfm(con, events)
        theirs.append(time.perf_counter() - t)
    same = len(ref) == len(rfm) and np.array_equal(ref["n_orders"].to_numpy(), rfm["n_orders"].to_numpy())
    same = same and np.allclose(ref["gross_value"].to_numpy(), rfm["gross_value"].to_numpy())
    return {
        "events_m": round(len(events) / 1e6, 2), "customers": best["customers"], "items": best["items"],
        "state_s": round(best["state_s"], 2), "profiles_s": round(best["profiles_s"], 2),
        "items_s": round(best["items_s"], 2), "total_s": round(best["total_s"], 2),
        "cpu_s": round(min(r["cpu_s"] for r in runs), 2),
        "nightly_s": round(nightly, 2), "nightly_cpu_s": round(nightly_cpu, 2), "day_events": int(last.sum()),
        "rss_before_gib": round(base, 2), "peak_gib": round(peak, 2) if reset else None,
        "rfm_s": round(min(ours), 3), "duckdb_s": round(min(theirs), 3),
        "rfm_ratio": round(min(ours) / min(theirs), 2), "rfm_matches_duckdb": bool(same),
    }  # fmt: skip


def bench_online_retail(repeats: int) -> None:
    if not ONLINE_RETAIL.is_file():
        print(f"Online Retail II: skipped ({ONLINE_RETAIL} is absent)")
        return
    from ecom_tasks.sources.online_retail import read_online_retail

    t = time.perf_counter()
    shop = read_online_retail(ONLINE_RETAIL)
    load_s = time.perf_counter() - t
    ev, items, users = shop.events, shop.items, shop.users
    ds = ev[contract.TS].max().date()
    config = FeatureConfig()
    runs = [features(ev, items, users, ds, config) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["total_s"])
    print(f"Online Retail II: {len(ev):,} events, {best['customers']:,} customers, {best['items']:,} items "
          f"(reading the CSV with the adapter: {load_s:.1f} s, not counted)")  # fmt: skip
    parts = (
        f"state {best['state_s']:.2f} s + profiles {best['profiles_s']:.2f} s + items {best['items_s']:.2f} s"
    )
    print(f"  full history -> {parts} = {best['total_s']:.2f} s (best of {repeats}; target < 10 s)")
    # One night: yesterday's state + the last day's events.
    last = ev[contract.TS].dt.date == ds
    prev = summarise(ev[~last], ds - dt.timedelta(days=1), config)
    t = time.perf_counter()
    state = merge(prev, summarise(ev[last], ds, config), config)
    customer_profiles(state, users, items, config)
    item_features(state, items, config)
    print(f"  nightly update for {ds} ({int(last.sum()):,} events): {time.perf_counter() - t:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,2,5,10", help="synthetic sizes in millions of events")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="DuckDB threads")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("SIZE_M", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        print(json.dumps(child(float(args.child[0]), args.child[1], args.repeats, args.threads)))
        return
    versions = f"pandas {pd.__version__}, numpy {np.__version__}, pyarrow {pa.__version__}"
    print(f"machine: {os.cpu_count()} CPUs, {versions}")
    if not args.skip_real:
        bench_online_retail(args.repeats)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [float(s) for s in args.sizes.split(",") if s]:
            t = time.perf_counter()
            events, items, users = synthetic_shop(int(size * 1_000_000))
            path = f"{tmp}/events-{size}.parquet"
            events.to_parquet(path)
            items.to_parquet(path + ".items")
            users.to_parquet(path + ".users")
            gen_s = time.perf_counter() - t
            del events, items, users
            gc.collect()
            cmd = [sys.executable, __file__, "--child", str(size), path, "--repeats", str(args.repeats)]
            cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["generate_s"] = round(gen_s, 1)
            rows.append(row)
            print(f"synthetic {size:g}M: {json.dumps(row)}", flush=True)
    if rows:
        table = pd.DataFrame(rows).set_index("events_m")
        table["s_per_m_events"] = (table["total_s"] / table.index).round(2)
        print("\nsynthetic shop, full recompute of state + profiles + item features (best of repeats):")
        shown = ["customers", "items", "state_s", "profiles_s", "items_s", "total_s", "cpu_s"]
        shown += [
            "s_per_m_events",
            "nightly_s",
            "nightly_cpu_s",
            "peak_gib",
            "rfm_s",
            "duckdb_s",
            "rfm_ratio",
        ]
        print(table[[*shown, "rfm_matches_duckdb"]].to_string())
        if len(table) > 1:
            x = np.log(table.index.to_numpy(float))
            wall = np.polyfit(x, np.log(table["total_s"].to_numpy(float)), 1)[0]
            cpu = np.polyfit(x, np.log(table["cpu_s"].to_numpy(float)), 1)[0]
            print(f"growth: wall time ~ events^{wall:.2f}, CPU time ~ events^{cpu:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
