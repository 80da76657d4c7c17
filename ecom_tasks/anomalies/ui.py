"""The anomaly stage's section of the UI page: the day's unusual orders and daily metrics.

Reads the stage's output tables of the day shown (``outputs/anomalies`` and
``outputs/metric_anomalies`` of ``ds``; the current ones when no day is chosen). Each order links
to the customer explorer (``?customer=ID&ds=D``); the shop's revenue and orders are drawn against
their expected band (inline SVG, no script).
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from ecom_tasks import storage
from ecom_tasks.anomalies import daily
from ecom_tasks.anomalies import outputs as out
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import METRICS_TABLE, ORDERS_TABLE
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.contract import COUNTRY, ORDER_ID, USER_ID
from ecom_tasks.publish.outputs import output_uri, read_current
from ecom_tasks.ui import charts, inputs
from ecom_tasks.ui.sections import SectionRequest

METRIC_LABELS = {
    daily.REVENUE: "revenue",
    daily.ORDERS: "orders",
    daily.UNITS: "units",
    daily.ANONYMOUS_SHARE: "anonymous share of orders",
    daily.CONVERSION: "conversion (orders per viewing session)",
}


def _read(root: str, table: str, day: Any) -> pd.DataFrame:
    if day is not None:
        uri = output_uri(root, table, day.isoformat())
        if storage.read_manifest(uri) is not None:
            return storage.read_partition(uri)
        raise inputs.NotFound(f"no anomalies were computed for ds={day}")
    try:
        return read_current(root, table)
    except FileNotFoundError:
        raise inputs.NotFound("no anomalies are published yet") from None


def _number(value: Any) -> float | None:
    return float(value) if value is not None and pd.notna(value) and math.isfinite(float(value)) else None


def _orders(frame: pd.DataFrame, ds: str) -> list[dict[str, Any]]:
    rows = []
    for _, r in frame.sort_values(out.RANK).iterrows():
        customer = str(r[USER_ID]) if pd.notna(r[USER_ID]) else None
        rows.append(
            {
                "rank": int(r[out.RANK]),
                "order_id": str(r[ORDER_ID]),
                "customer": customer,
                "link": f"?{urlencode({'customer': customer, 'ds': ds})}#explorer" if customer else None,
                "country": str(r[COUNTRY]) if pd.notna(r[COUNTRY]) else "-",
                "value": _number(r[ref.VALUE]),
                "severity": _number(r[out.SEVERITY]),
                "detector": str(r[out.DETECTOR]),
                "reasons": str(r[out.REASONS]).split("; "),
                "flagged": bool(r[out.FLAGGED]),
            }
        )
    return rows


def _metrics(frame: pd.DataFrame, day: pd.Timestamp) -> list[dict[str, Any]]:
    today = frame[frame[DAY] == day].sort_values([daily.FLAGGED, daily.SEGMENT], ascending=[False, True])
    share = today[daily.METRIC].isin(daily.SHARES)
    return [
        {
            "segment": str(r[daily.SEGMENT]),
            "metric": METRIC_LABELS.get(str(r[daily.METRIC]), str(r[daily.METRIC])),
            "share": bool(is_share),
            "value": _number(r[daily.VALUE]),
            "expected": _number(r[daily.EXPECTED]),
            "lower": _number(r[daily.LOWER]),
            "upper": _number(r[daily.UPPER]),
            "deviation": _number(r[daily.DEVIATION]),
            "flagged": bool(r[daily.FLAGGED]),
        }
        for (_, r), is_share in zip(today.iterrows(), share, strict=True)
    ]


def _chart(frame: pd.DataFrame, metric: str) -> str:
    rows = frame[(frame[daily.SEGMENT] == daily.ALL) & (frame[daily.METRIC] == metric)].sort_values(DAY)
    labels = [pd.Timestamp(d).date().isoformat() for d in rows[DAY]]
    # Large figures in thousands, so the axis reads 52.3 rather than 5.23e+04.
    scale = 1000.0 if len(rows) and rows[daily.UPPER].max() >= 10_000 else 1.0
    unit = " (thousands)" if scale > 1 else ""

    def points(column: str) -> list[float | None]:
        return [None if (v := _number(x)) is None else v / scale for x in rows[column]]

    name = METRIC_LABELS[metric] + unit
    series = {
        name: points(daily.VALUE),
        "expected": points(daily.EXPECTED),
        "band low": points(daily.LOWER),
        "band high": points(daily.UPPER),
    }
    markers = {name: [bool(f) for f in rows[daily.FLAGGED]]}
    title = f"Shop {METRIC_LABELS[metric]}{unit} per day against its expected band (hollow: flagged)"
    return charts.line_chart(labels, series, title, markers=markers)


def section(request: SectionRequest) -> dict[str, Any]:
    """The day's anomalies (see the module docstring); NotFound when none were computed."""
    orders = _read(request.root, ORDERS_TABLE, request.day)
    metrics = _read(request.root, METRICS_TABLE, request.day)
    if request.day is not None:
        day = pd.Timestamp(request.day)
    elif len(metrics):
        day = pd.Timestamp(metrics[DAY].max())
    elif len(orders):
        day = pd.Timestamp(orders[DAY].max())
    else:
        raise inputs.NotFound("the published anomaly tables are empty")
    ds = day.date().isoformat()
    order_rows = _orders(orders, ds)
    metric_rows = _metrics(metrics, day)
    flagged = sum(o["flagged"] for o in order_rows)
    return {
        "day": ds,
        "orders": order_rows,
        "metrics": metric_rows,
        "orders_flagged": flagged,
        "metrics_flagged": sum(m["flagged"] for m in metric_rows),
        "charts": [_chart(metrics, m) for m in (daily.REVENUE, daily.ORDERS)],
        "text": [
            f"The {len(order_rows)} most unusual orders of {ds} ({flagged} above the severity threshold) "
            "and the day's metrics against their expected band."
        ],
    }
