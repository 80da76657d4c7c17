"""Bad inputs (no orders, one order, an unseen item, zero prices) and the one-alert-per-day budget."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.anomalies import alert, daily
from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import MODEL_DIR
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.anomalies.model import load
from ecom_tasks.anomalies.outputs import FLAGGED, ORDER_COLUMNS, top_orders
from ecom_tasks.anomalies.stage import train_anomalies
from tests.anomalies.conftest import CONFIG, DS, day_frame

NEXT = (dt.date.fromisoformat(DS) + dt.timedelta(days=1)).isoformat()


def _orders(n: int, flagged: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            DAY: [pd.Timestamp(DS)] * n,
            "order_id": [f"o{i}" for i in range(n)],
            "user_id": [f"u{i}" if i % 2 else None for i in range(n)],
            "country": ["GB"] * n,
            ref.VALUE: [100.0 + i for i in range(n)],
            "score": [10.0 - i for i in range(n)],
            "severity": [0.9999] * flagged + [0.5] * (n - flagged),
            "rank": list(range(1, n + 1)),
            "detector": ["ensemble"] * n,
            "reasons": ["unit price 10.0x the item's median (A: 20.00 against 2.00); no customer id"] * n,
            FLAGGED: [True] * flagged + [False] * (n - flagged),
        }
    )


def _metrics(flagged: bool) -> pd.DataFrame:
    return pd.DataFrame(
        {
            DAY: [pd.Timestamp(DS)],
            daily.SEGMENT: ["country: GB"],
            daily.METRIC: [daily.REVENUE],
            daily.VALUE: [300.0],
            daily.EXPECTED: [1000.0],
            daily.LOWER: [700.0],
            daily.UPPER: [1300.0],
            daily.DEVIATION: [-0.7],
            daily.FLAGGED: [flagged],
        }
    )


def test_many_flagged_orders_make_one_alert_that_names_a_few(tmp_path):
    sent = alert.send_summary(str(tmp_path), DS, _orders(10, 8), _metrics(True), pd.Timestamp(DS))
    lines = (tmp_path / catalog.ALERTS_FILE).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["kind"] == catalog.ANOMALIES
    assert sent["orders_flagged"] == 8 and sent["metrics_flagged"] == 1
    assert sent["text"].count("Order o") == alert.MAX_LISTED
    assert "revenue (country: GB): 300.00 against an expected 1,000.00 (-70%)" in sent["text"]


def test_nothing_above_the_threshold_sends_nothing(tmp_path):
    assert alert.send_summary(str(tmp_path), DS, _orders(10, 0), _metrics(False), pd.Timestamp(DS)) is None
    assert (
        alert.send_summary(str(tmp_path), DS, _orders(0, 0), _metrics(False).iloc[0:0], pd.Timestamp(DS))
        is None
    )
    assert not (tmp_path / catalog.ALERTS_FILE).exists()


def test_one_order_an_unseen_item_and_a_zero_price_have_defined_results(stage_run):
    model = load(f"{stage_run['model_uri']}/{MODEL_DIR}")
    history = [(f"2024-01-0{d} 10:00", "u1", "A", 1, 2.0, f"h{d}", "GB") for d in range(1, 4)]
    for last in (
        ("2024-01-04 10:00", "u1", "NEW", 1, 5.0, "x", "GB"),
        ("2024-01-04 10:00", "u1", "A", 1, 0.0, "x", "GB"),
    ):
        lines = day_frame(*history, last)
        frame = f.order_features(lines, ref.build(lines, CONFIG), CONFIG)
        day = frame[frame[DAY] == pd.Timestamp("2024-01-04")].reset_index(drop=True)
        top = top_orders(model, day, CONFIG)
        assert list(top.columns) == list(ORDER_COLUMNS) and len(top) == 1
        assert top["rank"].tolist() == [1] and pd.notna(top["score"].iloc[0])
    assert "unit price of 0" in top["reasons"].iloc[0]
    empty = top_orders(model, day.iloc[0:0], CONFIG)
    assert empty.empty and list(empty.columns) == list(ORDER_COLUMNS)


def test_a_day_without_orders_writes_empty_findings(shop_root, tmp_path):
    root = tmp_path / "shop"
    shutil.copytree(shop_root, root, ignore=shutil.ignore_patterns("models", "outputs", "alerts"))
    day = dt.date.fromisoformat(NEXT)
    last = storage.read_partition(storage.partition_uri(str(root), catalog.VALIDATED, contract.EVENTS, DS))
    views = last[last[contract.EVENT_TYPE] == contract.VIEW].copy()
    views[contract.TS] = views[contract.TS] + pd.Timedelta(days=1)
    views[contract.EVENT_ID] = views[contract.EVENT_ID] + "-next"
    for table, frame in ((contract.EVENTS, views.reset_index(drop=True)),):
        storage.write_partition(
            frame, storage.partition_uri(str(root), catalog.VALIDATED, table, day), source="test"
        )
    result = train_anomalies(str(root), NEXT, CONFIG, None)
    assert result["orders_scored"] == 0
    assert storage.read_partition(result["output_uri"]).empty
    metrics = storage.read_partition(result["metrics_output_uri"])
    shop = metrics[(metrics[DAY] == pd.Timestamp(NEXT)) & (metrics[daily.SEGMENT] == daily.ALL)]
    shop = shop.set_index(daily.METRIC)
    assert shop.loc[daily.REVENUE, daily.VALUE] == 0.0 and shop.loc[daily.ORDERS, daily.VALUE] == 0.0
    assert shop.loc[daily.ORDERS, daily.FLAGGED]  # below its band (revenue's band is wider: it may not be)
    assert Path(root, catalog.ALERTS_FILE).exists()  # a day of no revenue is worth one alert
