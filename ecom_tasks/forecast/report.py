"""The forecast report a planner reads: ``{root}/reports/forecast/ds=D/index.html`` and its PNGs.

- the top items (most units in the test window): history, the expected demand (``mean``, what the
  inventory plan sums), the median day (``p50``), 80 % and 95 % intervals;
- backtest error by horizon (WAPE per day ahead on the test window, every candidate);
- the inventory plan's items with the highest order-up-to levels;
- elasticities per category with their 90 % intervals;
- the metrics of every candidate, the selection, units by category and country, capped days.
"""

from __future__ import annotations

import html
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote, storage
from ecom_tasks.contract import CATEGORY, ITEM_ID
from ecom_tasks.forecast import elasticity, inventory
from ecom_tasks.forecast.backtest import Backtest
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.data import DAY, Demand

INDEX = catalog.DATA_DOCS_INDEX  # the same name: a folder's start page
METRIC_LABELS = {
    "wape": "WAPE (daily)",
    "weekly_wape": "WAPE (weekly)",
    "mase": "MASE",
    "bias": "bias",
    "coverage_80": "80 % interval coverage (% of item-days)",
    "coverage_95": "95 % interval coverage (% of item-days)",
    "pinball_90": "pinball loss, p90 (units)",
    "valid_wape": "validation WAPE",
}
MODEL_LABELS = {
    "snaive": "seasonal naive (7 days)",
    "ets": "AutoETS",
    "intermittent": "Croston SBA (intermittent)",
    "global_noemb": "LightGBM, no embeddings",
    "global": "LightGBM with item embeddings",
}


def folder(root: str, ds: str) -> str:
    """``{root}/reports/forecast/ds=D``."""
    return storage.partition_uri(root, catalog.REPORTS, catalog.FORECAST, ds)


def _save(fig: plt.Figure, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _top_items(local: str, demand: Demand, bt: Backtest, forecast: pd.DataFrame, h: int) -> str:
    top = np.argsort(-demand.units[:, bt.test_start :].sum(axis=1))[:4]
    fig, axes = plt.subplots(len(top), 1, figsize=(9, 2.4 * len(top)), squeeze=False)
    for ax, i in zip(axes[:, 0], top, strict=False):
        item = str(demand.items[i])
        start = max(0, len(demand.days) - 3 * h)
        ax.plot(demand.days[start:], demand.units[i, start:], color="#444", lw=1, label="units sold")
        f = forecast[forecast[ITEM_ID] == item]
        x = pd.to_datetime(f[DAY])
        ax.fill_between(x, f["p2_5"], f["p97_5"], color="#1f77b4", alpha=0.15, label="95 % interval")
        ax.fill_between(x, f["p10"], f["p90"], color="#1f77b4", alpha=0.3, label="80 % interval")
        ax.plot(x, f["mean"], color="#d62728", lw=2, label="expected demand (mean; the plan uses it)")
        ax.plot(x, f["p50"], color="#1f77b4", lw=1.5, ls="--", label="median day (p50)")
        ax.set_title(f"item {item}", fontsize=10)
        ax.set_ylabel("units per day")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    name = "top_items.png"
    _save(fig, os.path.join(local, name))
    return name


def _by_horizon(local: str, demand: Demand, bt: Backtest, h: int) -> str:
    y = bt.actual(demand, bt.test_start, h)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    total = y.sum(axis=0)
    sold = total > 0  # a day nobody bought (a closed day) has no WAPE: left out of the line
    for model, q in bt.test.items():
        label = MODEL_LABELS.get(model, model) + (" (published)" if model == bt.selected else "")
        per_day = np.abs(q["p50"] - y).sum(axis=0)[sold] / total[sold]
        ax.plot(np.arange(1, h + 1)[sold], per_day, marker=".", label=label)
    ax.set_xlabel("days ahead (days without any sale left out)")
    ax.set_ylabel("WAPE on the test window")
    ax.legend(fontsize=8)
    name = "error_by_horizon.png"
    _save(fig, os.path.join(local, name))
    return name


def _plan(local: str, plan: pd.DataFrame) -> str:
    top = plan.nlargest(15, "order_up_to").iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 4))
    labels = top[ITEM_ID].astype(str)
    ax.barh(labels, top["order_up_to"], color="#ff7f0e", label="order-up-to level")
    ax.barh(labels, top["expected_demand"], color="#1f77b4", label="expected demand (lead time + review)")
    ax.set_xlabel("units")
    ax.legend(fontsize=8)
    name = "inventory_plan.png"
    _save(fig, os.path.join(local, name))
    return name


def _elasticity(local: str, table: pd.DataFrame) -> str:
    categories = table[table[elasticity.LEVEL].astype(str) == CATEGORY]
    ok = categories[np.isfinite(categories[elasticity.ELASTICITY].astype(float))]
    fig, ax = plt.subplots(figsize=(8, max(2.0, 0.35 * len(ok) + 1)))
    if len(ok):
        e = ok[elasticity.ELASTICITY].astype(float)
        err = np.vstack([e - ok[elasticity.LOW].astype(float), ok[elasticity.HIGH].astype(float) - e])
        ax.errorbar(e, ok[CATEGORY].astype(str), xerr=np.nan_to_num(err), fmt="o", capsize=3)
        ax.axvline(0, color="#999", lw=1)
        ax.set_xlabel("own-price elasticity (with 90 % interval)")
    else:
        ax.text(0.5, 0.5, "no category had enough price changes", ha="center", va="center")
        ax.set_axis_off()
    name = "elasticity.png"
    _save(fig, os.path.join(local, name))
    return name


def metrics_table(metrics: dict, selected: str, names: list[str]) -> pd.DataFrame:
    """One row per candidate (the published one unprefixed in ``metrics``), one column per metric."""
    rows = []
    for model in names:
        prefix = "" if model == selected else f"{model}_"
        row = {"model": MODEL_LABELS.get(model, model) + (" (published)" if model == selected else "")}
        for key, label in METRIC_LABELS.items():
            value = metrics.get(f"{prefix}{key}")
            share = key.startswith("coverage") and value is not None
            row[label] = 100 * value if share else value  # shares as percentages
        rows.append(row)
    return pd.DataFrame(rows)


def write(
    root: str,
    ds: str,
    demand: Demand,
    bt: Backtest,
    forecast: pd.DataFrame,
    plan: pd.DataFrame,
    elasticities: pd.DataFrame,
    metrics: dict,
    config: ForecastConfig,
    stock_note: str = inventory.NO_STOCK,
) -> str:
    """Write the report (module docstring); returns the URI of its ``index.html``."""
    h = config.horizon_days
    uri = folder(root, ds)
    table = metrics_table(metrics, bt.selected, list(bt.test))
    recent = slice(bt.test_start, None)
    cats = demand.by_category().iloc[recent].sum().sort_values(ascending=False).head(12)
    countries = demand.by_country.iloc[recent].sum().sort_values(ascending=False).head(12)
    with remote.staged_path(uri) as local:
        os.makedirs(local, exist_ok=True)
        images = [
            ("Top items: history and forecast", _top_items(local, demand, bt, forecast, h)),
            ("Backtest error by horizon", _by_horizon(local, demand, bt, h)),
            ("Inventory plan: highest order-up-to levels", _plan(local, plan)),
            ("Price elasticity by category", _elasticity(local, elasticities)),
        ]
        cap = f"{metrics.get('capped_item_days')} (x{config.cap_multiplier})"
        facts = {
            "published model": MODEL_LABELS.get(bt.selected, bt.selected),
            "selection": bt.selection,
            "items evaluated": metrics.get("items_evaluated"),
            "capped item-days (training only; cap: a multiple of the item's 90th percentile day)": cap,
            "item embeddings": "used"
            if metrics.get("embeddings_used")
            else "not used (no retrieval champion)",
            f"units sold, last {h} days": f"{demand.units[:, recent].sum():,.0f}",
            f"units returned, last {h} days": f"{demand.returns[:, recent].sum():,.0f}",
            "days without data": demand.days_without_data,
            "inventory plan": f"lead time {config.lead_time_days} days, review every {config.review_days} "
            f"days, service level {config.service_level:.0%}; stock: {stock_note}",
        }
        body = [
            f"<h1>Demand forecast, ds={html.escape(ds)}</h1>",
            "<ul>"
            + "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>" for k, v in facts.items())
            + "</ul>",
            f"<h2>Test window ({h} days up to ds): every candidate</h2>",
            table.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-"),
            f"<h2>Units sold by category, last {h} days</h2>",
            cats.rename("units").to_frame().to_html(float_format=lambda v: f"{v:,.0f}"),
            f"<h2>Units sold by country, last {h} days</h2>",
            countries.rename("units").to_frame().to_html(float_format=lambda v: f"{v:,.0f}"),
        ]
        body += [f"<h2>{html.escape(t)}</h2><img src='{n}' alt='{html.escape(t)}'>" for t, n in images]
        page = "<!doctype html><meta charset='utf-8'><title>Demand forecast</title>" + "\n".join(body)
        with open(os.path.join(local, INDEX), "w", encoding="utf-8") as fh:
            fh.write(page)
    return f"{uri}/{INDEX}"
