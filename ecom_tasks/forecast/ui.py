"""The forecast stage's section on the UI page: a product explorer (``?item=<id>``).

For the published forecast (the champion's ``demand_forecast``, ``inventory_plan`` and
``price_elasticity`` tables): the item's recent daily sales, its expected daily demand (``mean``, what
the plan sums), the median day (``p50``) and the 80 % interval (an inline SVG chart: the page allows
no scripts), its inventory plan row (with its stock, order quantity and days of cover when the
landing folder supplied stock) and its category's elasticity; without ``item``, the items with the
most expected demand to pick from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.contract import CATEGORY, ITEM_ID, ON_HAND, ON_ORDER
from ecom_tasks.forecast import artifact, elasticity, stock
from ecom_tasks.forecast.config import DEMAND_FORECAST, INVENTORY_PLAN, PRICE_ELASTICITY
from ecom_tasks.forecast.data import DAY, UNITS
from ecom_tasks.publish.outputs import read_current, read_pointer
from ecom_tasks.ui import charts, inputs
from ecom_tasks.ui.sections import SectionRequest

ITEM_PARAM = "item"
PICK = 12
PLAN_COLUMNS = {
    "expected_demand": "expected demand, lead time + review (units)",
    "demand_quantile": "demand at the service level, lead time + review (units)",
    "safety_stock": "safety stock (units)",
    "reorder_point": "reorder point (units)",
    "order_up_to": "order-up-to level (units)",
}
STOCK_COLUMNS = {
    ON_HAND: "on hand (units)",
    ON_ORDER: "on order (units)",
    stock.ORDER_QUANTITY: "suggested order today (units)",
    stock.DAYS_OF_COVER: "days the units on hand last at the expected demand",
}
MEAN_LABEL = "expected demand (mean)"


def _item(request: SectionRequest) -> str | None:
    raw = (request.query.get(ITEM_PARAM) or "").strip()
    if not raw:
        return None
    if len(raw) > request.config.max_id_length or not all(c.isalnum() or c in "._:@- " for c in raw):
        raise inputs.BadInput(ITEM_PARAM, "an item id consists of letters, digits, spaces and . _ : @ -")
    return raw


def _published(root: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    try:
        tables = [read_current(root, t) for t in (DEMAND_FORECAST, INVENTORY_PLAN, PRICE_ELASTICITY)]
    except FileNotFoundError:
        raise inputs.NotFound("no demand forecast is published yet") from None
    return (*tables, read_pointer(root)["models"].get(catalog.FORECAST, {}))


def section(request: SectionRequest) -> dict[str, Any]:
    """The explorer's data (see the module docstring)."""
    item = _item(request)
    forecast, plan, elasticities, model = _published(request.root)
    ds = model.get("ds", "")
    top = plan.nlargest(PICK, "expected_demand")[ITEM_ID].astype(str).tolist()
    out: dict[str, Any] = {
        "ds": ds,
        "version": model.get("version", ""),
        "items": top,
        "item": item,
        "text": [f"Forecast made as of ds={ds}; pick an item to see its history, forecast and plan."],
    }
    if item is None:
        return out
    rows = forecast[forecast[ITEM_ID].astype(str) == item]
    if rows.empty:
        raise inputs.NotFound("that item has no published forecast (it has not sold yet, or is unknown)")
    recent = artifact.read_recent(storage.partition_uri(request.root, catalog.MODELS, catalog.FORECAST, ds))
    history = pd.DataFrame(columns=[DAY, UNITS])
    if recent is not None:
        history = recent[recent[ITEM_ID].astype(str) == item]
    # a table published before the expected demand existed has only the median
    expected = rows["mean"] if "mean" in rows.columns else rows["p50"]
    labels = [str(d) for d in history[DAY]] + [str(d) for d in rows[DAY]]
    n_hist = len(history)
    pad: list[float | None] = [None] * n_hist

    def series(values: Any) -> list[float | None]:
        return pad + [float(v) for v in values]

    last = [None] * (n_hist - 1) + [float(history[UNITS].iloc[-1])] if n_hist else []
    chart = charts.line_chart(
        labels,
        {
            "units sold": [float(v) for v in history[UNITS]] + [None] * len(rows),
            "80 % low (p10)": series(rows["p10"]),
            "80 % high (p90)": series(rows["p90"]),
            "median day (p50)": series(rows["p50"]),
            # drawn last, on top: the expected demand is the figure the plan and the total use
            MEAN_LABEL: (last + [float(v) for v in expected]) if n_hist else series(expected),
        },
        f"Item {item}: daily units sold and forecast",
        width=900,
        height=260,
    )
    plan_row = plan[plan[ITEM_ID].astype(str) == item]
    out["chart"] = chart
    out["plan"] = []
    category = None
    if not plan_row.empty:
        r = plan_row.iloc[0]
        category = str(r[CATEGORY]) if CATEGORY in plan_row.columns else None
        out["plan"] = [[label, float(r[col])] for col, label in PLAN_COLUMNS.items()]
        with_stock = stock.ORDER_QUANTITY in plan_row.columns
        if with_stock:
            out["plan"] += [
                [label, float(r[col]) if np.isfinite(float(r[col])) else None]
                for col, label in STOCK_COLUMNS.items()
            ]
        note = (
            "stock from the landing folder's stock file"
            if with_stock
            else "no stock supplied, so no order quantity"
        )
        if with_stock and not np.isfinite(float(r[ON_HAND])):
            note = "this item is not in the stock file, so no order quantity"
        out["plan_note"] = (
            f"lead time {int(r['lead_time_days'])} days, review every {int(r['review_days'])} days, "
            f"service level {float(r['service_level']):.0%}; {note}"
        )
    out["category"] = category
    out["elasticity"] = None
    level = elasticities[elasticity.LEVEL].astype(str)
    own = elasticities[(level == elasticity.ITEM) & (elasticities[ITEM_ID].astype(str) == item)]
    match = (
        own
        if not own.empty
        else elasticities[(level == CATEGORY) & (elasticities[CATEGORY].astype(str) == str(category))]
    )
    if not match.empty:
        e = match.iloc[0]
        value = float(e[elasticity.ELASTICITY])
        out["elasticity"] = {
            "value": value if np.isfinite(value) else None,
            "low": float(e[elasticity.LOW]) if np.isfinite(float(e[elasticity.LOW])) else None,
            "high": float(e[elasticity.HIGH]) if np.isfinite(float(e[elasticity.HIGH])) else None,
            "changes": int(e[elasticity.CHANGES]),
            "distinguishable": bool(e[elasticity.NOT_ZERO]),
            "own": not own.empty,
        }
    out["forecast_total"] = float(expected.sum())  # the expected units: the mean, not the median
    out["horizon"] = len(rows)
    return out
