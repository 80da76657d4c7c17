"""The stage end to end on a tiny validated shop: outputs, gate inputs, champion, point in time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.forecast import artifact, inventory
from ecom_tasks.forecast import config as fcfg
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.stage import train_forecast
from ecom_tasks.publish import evaluation
from ecom_tasks.ui import labels
from tests.forecast import shop
from tests.forecast.conftest import CONFIG, DS, N_DAYS, write_shop


def test_the_stage_writes_its_candidate_outputs_and_report(trained: dict, data_root: str) -> None:
    folder = Path(trained["model_uri"])
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["selected"] in fcfg.CANDIDATES and metrics["selection"].startswith(
        "lowest daily error per item (WAPE"
    )
    # plain words, no raw keys: every candidate by its label, its WAPE as a percentage
    assert labels.model_name(metrics["selected"]) in metrics["selection"]
    assert "global_noemb" not in metrics["selection"] and "%" in metrics["selection"]
    for key in (
        "wape",
        "weekly_wape",
        "mase",
        "bias",
        "coverage_80",
        "coverage_95",
        "pinball_90",
        "valid_wape",
    ):
        assert key in metrics, key
        for name in ("snaive", "ets", "intermittent", "global_noemb"):
            if name != metrics["selected"]:
                assert f"{name}_{key}" in metrics, (name, key)
    assert metrics["items_evaluated"] == 25 and metrics["embeddings_used"] is False
    assert 0 <= metrics["coverage_80"] <= 1
    per_item = evaluation.read(str(folder))
    assert len(per_item) == 25
    assert per_item["wape"].mean() == pytest.approx(metrics["wape"], rel=1e-4)
    assert evaluation.sampler(per_item, "wape", "snaive_") is not None or metrics["selected"] == "snaive"
    forecast = storage.read_partition(trained["demand_forecast_uri"])
    assert len(forecast) == 25 * 14
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()
    assert (forecast["p2_5"] <= forecast["p10"]).all() and (forecast["p90"] <= forecast["p97_5"]).all()
    assert str(forecast["day"].min()) == str(dt.date.fromisoformat(DS) + dt.timedelta(days=1))
    for key in ("inventory_coverage", "median_sum_inventory_coverage"):
        assert 0 <= metrics[key] <= 1, key
    assert np.isfinite(metrics["mean_bias"]) and metrics["mean_ratio"] > 0
    # the expected demand is the median rescaled by one ratio; the plan sums it over lead time + review
    sold = forecast["p50"] > 0
    ratio = (forecast["mean"][sold] / forecast["p50"][sold]).to_numpy()
    assert np.allclose(ratio, ratio[0]) and ratio[0] > 0
    plan = storage.read_partition(trained["inventory_plan_uri"]).set_index("item_id")
    first = str(forecast["item_id"].iloc[0])
    mean = forecast.loc[forecast["item_id"] == first, "mean"].to_numpy()[None, :]
    cover = CONFIG.lead_time_days + CONFIG.review_days
    assert plan.loc[first, "expected_demand"] == pytest.approx(inventory._extend(mean, cover).sum())
    assert (plan["demand_quantile"] >= 0).all() and (plan["order_up_to"] == plan["demand_quantile"]).all()
    plan_manifest = storage.read_manifest(trained["inventory_plan_uri"])
    assert plan_manifest.extra["stock"] == "no stock supplied"
    assert len(storage.read_partition(trained["price_elasticity_uri"])) == 1  # one category
    assert Path(trained["report_uri"]).exists()
    assert (Path(trained["report_uri"]).parent / "top_items.png").exists()
    served = artifact.load(trained["artifact_uri"])
    assert len(served.predict(served.smoke_input())) == 14


def test_the_champion_is_refit_and_scored_on_the_same_test_window(trained: dict, data_root: str) -> None:
    again = train_forecast(data_root, DS, CONFIG, champion_uri=trained["model_uri"])
    folder = Path(again["model_uri"])
    champion = json.loads((folder / "champion_metrics.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    assert champion["wape"] == pytest.approx(metrics["wape"], rel=1e-5)  # the same recipe, same window
    assert "champion_wape" in evaluation.read(str(folder)).columns


def test_a_later_days_data_never_changes_a_forecast_made_as_of_an_earlier_day(
    trained: dict, data_root: str
) -> None:
    before = storage.read_partition(trained["demand_forecast_uri"])
    metrics_before = json.loads((Path(trained["model_uri"]) / "metrics.json").read_text())
    # Twenty more days of different sales land after ds; the run as of ds must not see them.
    later = shop.poisson_units(25, N_DAYS + 20, seed=99)
    ev = shop.events({k: [0.0] * N_DAYS + v[N_DAYS:] for k, v in later.items()})
    for d in range(N_DAYS, N_DAYS + 20):
        day = shop.START + dt.timedelta(days=d)
        part = ev[ev["ts"].dt.date == day].reset_index(drop=True)
        storage.write_partition(
            part, storage.partition_uri(data_root, "validated", "events", day), source="t"
        )
    rerun = train_forecast(data_root, DS, CONFIG)
    after = storage.read_partition(rerun["demand_forecast_uri"])
    cols = ["item_id", "day", "p50", "p10", "p90", "p2_5", "p97_5"]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    metrics_after = json.loads((Path(rerun["model_uri"]) / "metrics.json").read_text())
    assert metrics_after == metrics_before


def test_a_young_shop_is_skipped_with_the_reason(data_root: str) -> None:
    write_shop(data_root, 30)
    ds = (shop.START + dt.timedelta(days=29)).isoformat()
    with pytest.raises(NotEnoughDataError, match=r"needs 56 days of sales history .* the shop has 30"):
        train_forecast(data_root, ds, CONFIG)


def test_the_run_parameters_select_the_configuration() -> None:
    from ecom_tasks.params import RunParams

    run = RunParams(forecast_horizon_days=14, lead_time_days=3, review_days=0, service_level=0.9, seed=5)
    config = ForecastConfig.from_run(run)
    assert dataclasses.astuple(config) == dataclasses.astuple(
        dataclasses.replace(ForecastConfig(), horizon_days=14, lead_time_days=3, review_days=0,
                            service_level=0.9, seed=5)
    )  # fmt: skip
    assert np.isclose(config.service_level, 0.9)


def test_the_stage_runs_on_an_object_store_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uuid

    import fsspec

    root = f"memory://forecast-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    monkeypatch.chdir(tmp_path)  # nothing may land on local disk
    write_shop(root, N_DAYS)
    try:
        result = train_forecast(root, DS, CONFIG)
        fs = fsspec.filesystem("memory")
        folder = result["model_uri"]
        for name in ("metrics.json", "history.json", "evaluation.parquet", "model/forecast.parquet"):
            assert fs.exists(f"{folder}/{name}"), name
        assert fs.exists(result["report_uri"]) and storage.read_manifest(result["inventory_plan_uri"])
        assert not any(tmp_path.iterdir())
    finally:
        fsspec.filesystem("memory").rm(root, recursive=True)
