"""Benchmark of the UI's customer explorer: lookups through the plugin's app with 100,000
customers published.

Publishes (with the publish stage's output tables and pointer) 100,000 customers' churn and
repurchase scores, top-10 recommendations with titles, customer profiles, and ``--days`` days of
validated events with purchases; then times, in-process through the FastAPI app (TestClient, auth
off): the first lookup (reads and indexes the tables), warm lookups of random customers via the
JSON endpoint, via the page and without HTTP (p50/p95/max), and an unknown customer. Prints figures only.

Usage: python bench/bench_ui_lookup.py [--customers 100000] [--days 30] [--lookups 1000] [--root DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
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
sys.path.insert(0, str(ROOT / "plugins"))

from ecom_tasks import contract, storage  # noqa: E402
from ecom_tasks.features import columns as fc  # noqa: E402
from ecom_tasks.features.stage import PROFILES  # noqa: E402
from ecom_tasks.publish import outputs  # noqa: E402
from ecom_tasks.publish import tables as out  # noqa: E402
from ecom_tasks.publish.config import CHURN_SCORES, RECOMMENDATIONS, REPURCHASE_SCORES, PublishConfig  # noqa: E402

DS = dt.date(2024, 6, 30)
TOP_K = 10


def publish(root: str, n: int, days: int, n_items: int = 5000, seed: int = 0) -> list[str]:
    """Write everything a lookup reads for ``n`` customers; return their ids."""
    rng = np.random.default_rng(seed)
    users = np.array([f"c{i:06d}" for i in range(n)], dtype=object)
    items = np.array([f"i{i:05d}" for i in range(n_items)], dtype=object)
    titles = pd.DataFrame(
        {contract.ITEM_ID: items, contract.TITLE: [f"Item {i} mug" for i in range(n_items)]}
    )
    profile = {contract.USER_ID: users, fc.SEGMENT: rng.choice(["champions", "loyal", "at_risk", "lost"], n)}
    for col in (
        fc.TENURE_DAYS,
        fc.RECENCY_DAYS,
        fc.MONETARY,
        fc.AVG_ORDER_VALUE,
        fc.RETURN_RATE,
        fc.ACTIVITY_TREND,
        fc.ORDER_TREND,
        fc.GAP_MEAN_DAYS,
        fc.SPEND_RECENT,
        fc.SPEND_PRIOR,
    ):
        profile[col] = rng.random(n) * 100
    for col in (fc.FREQUENCY, fc.N_EVENTS, fc.N_VIEWS, fc.ORDERS_RECENT, fc.R_SCORE, fc.F_SCORE, fc.M_SCORE):
        profile[col] = rng.integers(0, 50, n)
    storage.write_partition(
        pd.DataFrame(profile), storage.partition_uri(root, "features", PROFILES, DS), source="bench"
    )
    reasons = json.dumps(
        [{out.REASON_FEATURE: fc.RECENCY_DAYS, out.REASON_VALUE: 42.0, out.REASON_EFFECT: 0.2}] * 3
    )
    churn = pd.DataFrame(
        {
            contract.USER_ID: users,
            out.CHURN_RISK: rng.random(n),
            fc.SEGMENT: profile[fc.SEGMENT],
            out.CHURN_REASONS: reasons,
            out.MODEL_VERSION: "bench",
        }
    )
    rep = pd.DataFrame(
        {
            contract.USER_ID: users,
            out.REPURCHASE_PROPENSITY: rng.random(n),
            out.EXPECTED_ORDERS: rng.random(n) * 3,
            fc.SEGMENT: profile[fc.SEGMENT],
            out.MODEL_VERSION: "bench",
        }
    )
    recs = pd.DataFrame(
        {
            contract.USER_ID: np.repeat(users, TOP_K),
            out.RANK: np.tile(np.arange(1, TOP_K + 1), n),
            contract.ITEM_ID: items[rng.integers(0, n_items, n * TOP_K)],
            out.SCORE: rng.random(n * TOP_K),
            out.RETRIEVAL_RANK: np.tile(np.arange(1, TOP_K + 1), n),
            out.MODEL_VERSION: "bench",
        }
    )
    recs = outputs.with_item_titles(recs, titles)
    for table, frame in ((CHURN_SCORES, churn), (REPURCHASE_SCORES, rep), (RECOMMENDATIONS, recs)):
        outputs.write_output(root, table, DS.isoformat(), frame, source="bench")
    cfg = PublishConfig()
    for model in ("churn", "repurchase", "ranking"):
        outputs.move_pointer(root, cfg.model(model), "1", DS.isoformat(), require_outputs=True)
    per_day = max(1, n // 5)  # about 6 purchase lines per customer over 30 days
    for k in range(days):
        day = DS - dt.timedelta(days=k)
        start = pd.Timestamp(day, tz="UTC")
        ts = start + pd.to_timedelta(rng.integers(0, 86_400, per_day), unit="s")
        buyers = users[rng.integers(0, n, per_day)]
        ev = pd.DataFrame(
            {
                contract.EVENT_ID: [f"e{k}_{j}" for j in range(per_day)],
                contract.TS: ts,
                contract.USER_ID: buyers,
                contract.SESSION_ID: [f"s{k}_{j}" for j in range(per_day)],
                contract.ITEM_ID: items[rng.integers(0, n_items, per_day)],
                contract.EVENT_TYPE: contract.PURCHASE,
                contract.QUANTITY: rng.integers(1, 4, per_day),
                contract.UNIT_PRICE: rng.random(per_day) * 20,
                contract.ORDER_ID: [f"o{k}_{j}" for j in range(per_day)],
                contract.COUNTRY: "GB",
            }
        )
        ev = contract.conform(ev, contract.EVENTS)
        storage.write_partition(
            ev, storage.partition_uri(root, "validated", contract.EVENTS, day), source="bench"
        )
    items_frame = contract.conform(
        pd.DataFrame(
            {
                contract.ITEM_ID: items,
                contract.TITLE: titles[contract.TITLE],
                contract.CATEGORY: "mugs",
                contract.PRICE: 5.0,
                contract.FIRST_SEEN: pd.Timestamp("2024-01-01", tz="UTC"),
            }
        ),
        contract.ITEMS,
    )
    storage.write_partition(
        items_frame, storage.partition_uri(root, "validated", contract.ITEMS, DS), source="bench"
    )
    return list(users)


def timings(client, paths: list[str]) -> list[float]:
    out_ms = []
    for path in paths:
        began = time.perf_counter()
        resp = client.get(path)
        out_ms.append((time.perf_counter() - began) * 1000)
        if resp.status_code != 200:
            raise SystemExit(f"{path}: {resp.status_code} {resp.text[:300]}")
    return out_ms


def describe(name: str, ms: list[float]) -> None:
    q = statistics.quantiles(ms, n=100)
    print(f"{name}: n={len(ms)} p50={q[49]:.1f} ms p95={q[94]:.1f} ms max={max(ms):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--root", default=None, help="data root to use (default: a temp folder, removed)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = args.root or tempfile.mkdtemp(prefix="bench-ui-")
    os.environ["ECOM_DATA_ROOT"] = root
    try:
        began = time.perf_counter()
        users = publish(root, args.customers, args.days)
        took = time.perf_counter() - began
        print(f"published {len(users):,} customers, {args.days} days of purchases in {took:.1f}s")
        from ecom_ui.app import create_app
        from fastapi.testclient import TestClient

        rng = np.random.default_rng(1)
        picks = [users[i] for i in rng.integers(0, len(users), args.lookups)]
        with TestClient(create_app(root, auth=False)) as client:
            first = timings(client, [f"/api/customers/{picks[0]}"])[0]
            print(f"first lookup (reads and indexes every table): {first:.0f} ms")
            describe(
                "warm JSON lookups /api/customers/{id}",
                timings(client, [f"/api/customers/{u}" for u in picks]),
            )
            describe(
                "warm page lookups /?customer={id}", timings(client, [f"/?customer={u}" for u in picks[:200]])
            )
            builder = client.app.state.builder  # the same cache, without HTTP and JSON encoding
            direct = []
            for u in picks:
                began = time.perf_counter()
                builder.customer(u, None)
                direct.append((time.perf_counter() - began) * 1000)
            describe("warm lookups without HTTP (ecom_tasks.ui.customers.lookup_customer)", direct)
            began = time.perf_counter()
            assert client.get("/api/customers/nobody").status_code == 404
            print(f"unknown customer: 404 in {(time.perf_counter() - began) * 1000:.1f} ms")
    finally:
        if args.root is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
