"""The train function of the forecast stage: ``train_forecast(root, ds, config, champion_uri)``.

Reads the validated purchases up to the end of ``ds`` (:mod:`ecom_tasks.forecast.data`), backtests
every candidate on the same two windows (:mod:`ecom_tasks.forecast.backtest`), publishes the one
that wins on validation, refit on every day up to ``ds``, and writes:

- ``{root}/models/forecast/ds=D/``: ``model/`` (the artifact), ``metrics.json``,
  ``champion_metrics.json`` (with a champion: its recipe refit and scored on the same test window),
  ``evaluation.parquet`` (per item, for the gate's paired bootstrap), ``history.json``,
  ``smoke_input.json``;
- ``{root}/outputs/demand_forecast``, ``inventory_plan`` and ``price_elasticity`` for ``ds``;
- ``{root}/reports/forecast/ds=D/`` (:mod:`ecom_tasks.forecast.report`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.contract import CATEGORY, ITEM_ID
from ecom_tasks.forecast import artifact, backtest, elasticity, embeddings, inventory, report, stock
from ecom_tasks.forecast import config as fcfg
from ecom_tasks.forecast import metrics as fm
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.data import DAY, UNITS, Demand, load
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation, tables
from ecom_tasks.publish.outputs import candidate_version, write_output

log = logging.getLogger(__name__)

QUANTILES = ("p50", "p10", "p90", "p2_5", "p97_5")


def forecast_frame(demand: Demand, q: dict[str, np.ndarray], version: str) -> pd.DataFrame:
    """The ``demand_forecast`` table: one row per item and day after ``ds``."""
    h = q["p50"].shape[1]
    days = pd.date_range(demand.days[-1] + pd.Timedelta(days=1), periods=h, freq="D")
    frame = pd.DataFrame(
        {
            ITEM_ID: pd.array(np.repeat(demand.items.astype(str), h), dtype="string"),
            DAY: np.tile(days.date, len(demand.items)),
        }
    )
    for name in ("p50", "mean", *QUANTILES[1:]):
        frame[name] = q[name].reshape(-1).astype(np.float64)
    frame[tables.MODEL_VERSION] = pd.array([version] * len(frame), dtype="string")
    return frame


def recent_frame(demand: Demand, days: int) -> pd.DataFrame:
    """The last ``days`` of daily units per item (``item_id, day, units``), kept for the UI."""
    start = max(0, len(demand.days) - days)
    n = len(demand.days) - start
    return pd.DataFrame(
        {
            ITEM_ID: pd.array(np.repeat(demand.items.astype(str), n), dtype="string"),
            DAY: np.tile(demand.days[start:].date, len(demand.items)),
            UNITS: demand.units[:, start:].reshape(-1),
        }
    )


def _plan_inputs(demand: Demand, bt: backtest.Backtest, config: ForecastConfig) -> tuple[dict, dict]:
    """The plan's backtest figures (calibrated on validation, checked on test) and the published
    plan's inputs: its calibration on the test window and the items' scales up to ``ds``."""
    from ecom_tasks.forecast import models

    h, sel, rows = config.horizon_days, bt.selected, bt.evaluated
    s_v, s_t = (
        models.scale(models.prepare(demand, c, config))[rows] for c in (bt.valid_start, bt.test_start)
    )
    y_v, y_t = bt.actual(demand, bt.valid_start, h), bt.actual(demand, bt.test_start, h)
    args = (config.lead_time_days, config.review_days, config.service_level)
    figures = inventory.evaluate(y_v, bt.valid[sel], s_v, y_t, bt.test[sel], s_t, *args)
    published = {
        "calibration": inventory.calibrate(y_t, bt.test[sel]["p50"], s_t, *args),
        "scale": models.scale(models.prepare(demand, len(demand.days), config)),
    }
    return figures, published


def _elasticities(demand: Demand, bt: backtest.Backtest, config: ForecastConfig) -> tuple[pd.DataFrame, dict]:
    """The published table (every day up to ds) and its check on the test window (fit before it)."""
    t0, h = bt.test_start, config.horizon_days
    before = elasticity.estimate(
        demand.units[:, :t0],
        demand.price[:, :t0],
        demand.category,
        demand.days[:t0],
        config.elasticity_min_changes,
        items=demand.items,
    )
    check = elasticity.check(
        before,
        demand.items,
        demand.category,
        demand.units[:, t0 - h : t0],
        demand.units[:, t0:],
        demand.price[:, t0 - h : t0],
        demand.price[:, t0:],
    )
    table = elasticity.estimate(
        demand.units,
        demand.price,
        demand.category,
        demand.days,
        config.elasticity_min_changes,
        items=demand.items,
    )
    return table, check


def _champion(
    champion_uri: str | None,
    demand: Demand,
    bt: backtest.Backtest,
    config: ForecastConfig,
    emb: np.ndarray | None,
) -> tuple[dict | None, np.ndarray | None]:
    """The champion's recipe refit on this run's windows: its test metrics and test forecasts."""
    test_forecast: list[np.ndarray] = []

    def score(uri: str) -> dict[str, float] | None:
        recipe = artifact.read_recipe(uri)
        if recipe is None or recipe.get("selected") not in fcfg.CANDIDATES:
            return None
        name = recipe["selected"]
        if name == fcfg.GLOBAL and emb is None:
            return None  # its item vectors are not available to this run
        known = {f.name for f in dataclasses.fields(ForecastConfig)}
        champ_config = dataclasses.replace(
            ForecastConfig(**{k: v for k, v in recipe.get("config", {}).items() if k in known}),
            horizon_days=config.horizon_days,  # the same windows as the candidate
        )
        if champ_config == config:
            q = bt.test[name]  # the same recipe: the same forecasts
            result = fm.all_metrics(
                bt.actual(demand, bt.test_start, config.horizon_days), q, _scale(demand, bt)
            )
        else:
            again = backtest.run(demand, champ_config, emb, candidates=(name,))
            q, result = again.test[name], {k: v for k, v in again.metrics.items() if isinstance(v, float)}
        test_forecast.append(q["p50"])
        return result

    metrics = champions.evaluate(champion_uri, score)
    return metrics, (test_forecast[0] if metrics is not None and test_forecast else None)


def _scale(demand: Demand, bt: backtest.Backtest) -> np.ndarray:
    from ecom_tasks.forecast import models

    fit = models.prepare(demand, bt.test_start, ForecastConfig())
    return fm.snaive_scale(fit.history[bt.evaluated], fit.alive[bt.evaluated])


def _evaluation(demand: Demand, bt: backtest.Backtest, h: int, champion_f: np.ndarray | None) -> pd.DataFrame:
    """Per evaluated item, each model's share of the test WAPE (see :func:`metrics.per_item_wape`)."""
    y = bt.actual(demand, bt.test_start, h)
    frame = pd.DataFrame({ITEM_ID: demand.items[bt.evaluated].astype(str)})
    for name, q in bt.test.items():
        prefix = "" if name == bt.selected else f"{name}_"
        frame[f"{prefix}wape"] = fm.per_item_wape(y, q["p50"])
    if champion_f is not None:
        frame[f"{evaluation.CHAMPION_PREFIX}wape"] = fm.per_item_wape(y, champion_f)
    return frame


def _stock_note(meta: dict) -> str:
    if meta["stock"] == inventory.NO_STOCK:
        return f"{inventory.NO_STOCK} ({meta['stock_note']})"
    return (
        f"{meta['stock']}: {meta['stock_items']} items with stock, {meta['stock_items_missing']} without "
        "(no order quantity for them)"
    )


def _no_stock_reason(config: ForecastConfig, ds: str) -> str:
    if not config.stock_folder:
        return "the run's source is not a landing folder, so no stock file is read: no order quantities"
    return (
        f"no {catalog.STOCK} file for ds={ds} in the landing folder {config.stock_folder}: "
        "no order quantities or days of cover"
    )


def train_forecast(
    root: str,
    ds: str,
    config: ForecastConfig | None = None,
    champion_uri: str | None = None,
    backbone_uri: str | None = None,
) -> dict[str, Any]:
    """Backtest, select, forecast, plan and estimate elasticities for ``ds`` (module docstring).

    Args:
        backbone_uri: the retrieval model whose item vectors the global model uses; by default the
            retrieval champion when it was trained on or before ``ds``
            (:func:`ecom_tasks.forecast.embeddings.champion_backbone`).

    Raises:
        ForecastDataError: too little sales history for the backtest (the task is skipped).
    """
    config = config or ForecastConfig()
    started, cpu = time.perf_counter(), time.process_time()
    root, day = storage.data_root(root), storage.as_date(ds)
    ds_text = day.isoformat()
    demand = load(root, day)
    backtest.windows(len(demand.days), config)  # too short: skipped before anything heavy
    on_hand = stock.read(config.stock_folder, ds_text)  # a bad stock file fails before anything is written
    steps: dict[str, float] = {"data": round(time.perf_counter() - started, 3)}
    bb = backbone_uri or embeddings.champion_backbone(root, day)
    t = time.perf_counter()
    emb = embeddings.item_embeddings(bb, demand.items, config.embedding_dims) if bb else None
    steps["embeddings"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mlforecast warns on every young item's undefined lags
        bt = backtest.run(demand, config, emb)
        steps["backtest"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        widths = backtest.recalibrate(bt, demand, bt.selected, config)
        q = backtest.final(demand, config, bt.selected, widths, emb)
        steps["final_forecast"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        champ, champ_f = _champion(champion_uri, demand, bt, config, emb)
        steps["champion"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    elasticities, check = _elasticities(demand, bt, config)
    steps["elasticity"] = round(time.perf_counter() - t, 3)
    plan_figures, plan_inputs = _plan_inputs(demand, bt, config)
    q["mean"] = q["p50"] * plan_inputs["calibration"].ratio
    metrics = {
        k: (round(v, 6) if isinstance(v, float) and np.isfinite(v) else v) for k, v in bt.metrics.items()
    }
    metrics |= {k: (round(v, 6) if isinstance(v, float) else v) for k, v in (check | plan_figures).items()}
    metrics = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}
    out = storage.partition_uri(root, catalog.MODELS, fcfg.MODEL, day)
    champions.record(out, champ)
    evaluation.write(out, _evaluation(demand, bt, config.horizon_days, champ_f))
    version = candidate_version(
        fcfg.MODEL,
        ds_text,
        bt.selected,
        config=config.to_dict(),
        backbone_uri=bb or "none/none",
        input_uris=demand.uris[-3:],
    )
    frame = forecast_frame(demand, q, version)
    recipe = {"selected": bt.selected, "config": config.to_dict(), "backbone_uri": bb, "ds": ds_text}
    artifact_uri = artifact.write(out, frame, recipe, recent_frame(demand, 3 * config.horizon_days))
    storage.write_json([{ITEM_ID: str(demand.items[0])}], f"{out}/{catalog.SMOKE_INPUT_FILE}")
    storage.write_json(metrics, f"{out}/{catalog.METRICS_FILE}")
    plan = inventory.plan(
        demand.items,
        q["p50"],
        plan_inputs["scale"],
        plan_inputs["calibration"],
        config.lead_time_days,
        config.review_days,
        config.service_level,
    )
    plan[CATEGORY] = pd.array(demand.category, dtype="string")
    plan_meta = {"stock": inventory.NO_STOCK, "stock_note": _no_stock_reason(config, ds_text)}
    if on_hand is not None:
        plan, plan_meta = stock.apply(plan, q["mean"], on_hand)
    plan[tables.MODEL_VERSION] = pd.array([version] * len(plan), dtype="string")
    elasticities[tables.MODEL_VERSION] = pd.array([version] * len(elasticities), dtype="string")
    source = f"forecast.{bt.selected}"
    uris = {
        fcfg.DEMAND_FORECAST: write_output(root, fcfg.DEMAND_FORECAST, ds_text, frame, source=source),
        fcfg.INVENTORY_PLAN: write_output(
            root, fcfg.INVENTORY_PLAN, ds_text, plan, source=source, extra=plan_meta
        ),
        fcfg.PRICE_ELASTICITY: write_output(
            root, fcfg.PRICE_ELASTICITY, ds_text, elasticities, source=source
        ),
    }
    t = time.perf_counter()
    report_uri = report.write(
        root, ds_text, demand, bt, frame, plan, elasticities, metrics, config, _stock_note(plan_meta)
    )
    steps["report"] = round(time.perf_counter() - t, 3)
    steps["total"] = round(time.perf_counter() - started, 3)
    steps["total_cpu"] = round(time.process_time() - cpu, 3)
    history = {
        "ds": ds_text,
        "config": config.to_dict(),
        "selected": bt.selected,
        "selection": bt.selection,
        "backbone_uri": bb,
        "embeddings": "retrieval champion's item vectors"
        if bb
        else "none: no retrieval champion on or before ds",
        "windows": {
            "validation": [
                str(demand.days[bt.valid_start].date()),
                str(demand.days[bt.test_start - 1].date()),
            ],
            "test": [str(demand.days[bt.test_start].date()), ds_text],
        },
        "days_without_data": demand.days_without_data,
        "stock": _stock_note(plan_meta),
        "units_returned_last_window": float(demand.returns[:, bt.test_start :].sum()),
        "seconds": {**steps, **bt.seconds},
        "model_version": version,
        "champion_uri": champion_uri,
    }
    storage.write_json(history, f"{out}/{catalog.HISTORY_FILE}")
    result = {
        "ds": ds_text,
        "selected": bt.selected,
        "wape": metrics.get("wape"),
        "coverage_80": metrics.get("coverage_80"),
        "items_evaluated": metrics["items_evaluated"],
        "embeddings_used": emb is not None,
        "seconds": round(time.perf_counter() - started, 3),
        "model_uri": out,
        "artifact_uri": artifact_uri,
        "report_uri": report_uri,
        **{f"{k}_uri": v for k, v in uris.items()},
    }
    log.info("forecast for %s: %s", ds_text, {k: v for k, v in result.items() if not k.endswith("uri")})
    return result
