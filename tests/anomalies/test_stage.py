"""The stage on a small built-in shop: metrics, per-example results, champion, outputs, the shop's dirt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import catalog, storage
from ecom_tasks.anomalies import data, evaluate, inject
from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import CANDIDATES, MODEL_DIR
from ecom_tasks.anomalies.model import load
from ecom_tasks.anomalies.outputs import ORDER_COLUMNS, REASONS
from ecom_tasks.anomalies.stage import train_anomalies
from ecom_tasks.contract import ORDER_ID
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import evaluation
from tests.anomalies.conftest import CONFIG, DS

KEYS = (evaluate.RECALL, evaluate.PRECISION, evaluate.AUC, *(f"recall_{t}" for t in inject.ORDER_TYPES))


def test_metrics_name_every_candidate_and_the_selection(stage_run):
    metrics = json.loads(Path(stage_run["model_uri"], catalog.METRICS_FILE).read_text())
    for key in KEYS:
        assert key in metrics, key
        for name in CANDIDATES:
            assert f"{name}_{key}" in metrics, (name, key)
    assert f"recall_{inject.METRIC_DROP}" in metrics
    assert metrics["selected"] in CANDIDATES and "validation window" in metrics["selection"]
    # The published (unprefixed) figures are the selected candidate's.
    assert metrics[evaluate.RECALL] == metrics[f"{metrics['selected']}_{evaluate.RECALL}"]
    assert metrics[evaluate.RECALL] >= 0.8 and metrics[evaluate.RECALL] >= metrics[f"rules_{evaluate.RECALL}"]


def test_per_example_results_let_the_gate_resample_the_injected_anomalies(stage_run):
    frame = evaluation.read(stage_run["model_uri"])
    metrics = json.loads(Path(stage_run["model_uri"], catalog.METRICS_FILE).read_text())
    everyone = np.arange(len(frame))
    for prefix in ("", "rules_", "iforest_"):
        sampler = evaluation.sampler(frame, evaluate.RECALL, prefix)
        assert sampler is not None and sampler(everyone) == pytest.approx(
            metrics[f"{prefix}{evaluate.RECALL}"]
        )


def test_the_champion_is_scored_on_the_same_injected_orders(stage_run, shop_root):
    again = train_anomalies(shop_root, DS, CONFIG, stage_run["model_uri"])  # the same model as champion
    folder = Path(again["model_uri"])
    champion = json.loads((folder / catalog.CHAMPION_METRICS_FILE).read_text())
    metrics = json.loads((folder / catalog.METRICS_FILE).read_text())
    assert champion[evaluate.RECALL] == metrics[evaluate.RECALL]
    assert f"champion_{evaluate.RECALL}" in evaluation.read(str(folder)).columns
    model = load(f"{folder}/{MODEL_DIR}")  # what the publication's loader opens
    smoke = json.loads((folder / catalog.SMOKE_INPUT_FILE).read_text())
    assert len(model.predict(smoke)) == 2


def test_outputs_hold_the_days_top_orders_with_reasons_and_the_metrics(stage_run):
    orders = storage.read_partition(stage_run["output_uri"])
    assert list(orders.columns) == list(ORDER_COLUMNS)
    assert 0 < len(orders) <= CONFIG.budget and list(orders["rank"]) == list(range(1, len(orders) + 1))
    assert (orders["day"] == pd.Timestamp(DS)).all() and orders[REASONS].str.len().min() > 0
    assert orders["score"].is_monotonic_decreasing
    metrics = storage.read_partition(stage_run["metrics_output_uri"])
    assert {"revenue", "orders", "units", "anonymous_share", "conversion"} <= set(metrics["metric"])
    assert metrics["day"].max() == pd.Timestamp(DS)


def test_the_shops_configured_dirt_is_found(stage_run, shop_root):
    """The synthetic shop keeps zero-price purchases and purchases whose customer id was lost
    through validation: the published detector puts them in their day's budget."""
    inputs = data.load(shop_root, pd.Timestamp(DS).date())
    lines = inputs.lines
    reference = ref.build(lines, CONFIG)
    first = pd.Timestamp(DS) - pd.Timedelta(days=CONFIG.test_days - 1)
    frame = f.order_features(lines[lines[data.DAY] >= first], reference, CONFIG)
    model = load(f"{stage_run['model_uri']}/{MODEL_DIR}")
    hit = evaluate.found(frame[data.DAY].to_numpy(), model.predict(frame), CONFIG.budget)
    zero = frame[f.ZERO_PRICES].to_numpy() > 0
    anonymous = (frame[f.ANONYMOUS].to_numpy() > 0) | (frame[f.LOST_CUSTOMER].to_numpy() > 0)
    assert zero.sum() >= 3 and anonymous.sum() >= 3, "the shop's dirt rates should plant some"
    assert hit[zero].mean() == 1.0, frame.loc[zero & ~hit, ORDER_ID].tolist()
    assert hit[anonymous].mean() >= 0.8, frame.loc[anonymous & ~hit, ORDER_ID].tolist()


def test_a_young_shop_is_not_enough_data(tmp_path):
    from tests.anomalies.conftest import write_shop

    root = str(tmp_path)
    write_shop(root, n_days=30)
    with pytest.raises(NotEnoughDataError, match=r"needs 63 days of history .* the shop has 30"):
        train_anomalies(root, "2024-01-30", CONFIG, None)
