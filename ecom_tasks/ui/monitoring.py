"""The page's monitoring section: realized performance over nights, drift, monitoring alerts.

Reads what the nightly ``monitor`` task wrote (:mod:`ecom_tasks.monitoring`): one row per night in
``monitoring/<model>/ds=D``, the drift table ``monitoring/drift/ds=D`` and the alerts of kind
``monitoring`` in ``alerts/alerts.jsonl``. The lists' hit rate and recall are given in percent for
their charts; the forecast's and the assistant's shares stay fractions (their charts say percent).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from ecom_tasks import catalog, remote, storage
from ecom_tasks.features import columns as fc
from ecom_tasks.monitoring import forecast_realized, handover
from ecom_tasks.monitoring.config import MonitorConfig
from ecom_tasks.monitoring.monitors import FORECASTS, HANDOVERS, LISTS, MONITORS
from ecom_tasks.ui import charts

NIGHTS = 60  # nights shown in the charts
ALERTS_SHOWN = 10
# Plain words for the drift table's features and scores (the rest: underscores become spaces).
LABELS = {
    fc.RECENCY_DAYS: "days since last purchase",
    fc.TENURE_DAYS: "days since first seen",
    fc.FREQUENCY: "orders",
    fc.MONETARY: "net spend",
    fc.GROSS_VALUE: "gross spend",
    fc.AVG_ORDER_VALUE: "average order value",
    fc.RETURN_RATE: "return rate",
    "churn_risk": "churn risk (score)",
    "repurchase_propensity": "repurchase propensity (score)",
}


def label(name: str) -> str:
    """A plain label for a feature or score name."""
    return LABELS.get(name, name.replace("_", " "))


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rows(root: str, table: str, day: dt.date | None) -> list[dict[str, Any]]:
    days = [d for d in storage.list_partitions(root, catalog.MONITORING, table) if day is None or d <= day]
    rows = []
    for d in days[-NIGHTS:]:
        frame = storage.read_partition(storage.partition_uri(root, catalog.MONITORING, table, d))
        rows += frame.to_dict(orient="records")
    return rows


def _percent(rows: list[dict[str, Any]], key: str) -> list[float | None]:
    return [None if (v := _number(r.get(key))) is None else 100 * v for r in rows]


def _shares(rows: list[dict[str, Any]], key: str) -> list[float | None]:
    return [_number(r.get(key)) for r in rows]


def forecast_nights(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The forecast monitor's nights: WAPE per horizon bucket and overall, 80 % coverage (shares)."""
    buckets = forecast_realized.bucket_columns(MonitorConfig().forecast_buckets)
    return {
        "nights": [str(r["ds"]) for r in rows], "latest": rows[-1],
        "buckets": [{"column": c, "label": f"days {a}-{b} ahead", "values": _shares(rows, c)}
                    for c, a, b in buckets],
        "wape": _shares(rows, forecast_realized.WAPE),
        "coverage": _shares(rows, forecast_realized.COVERAGE),
    }  # fmt: skip


def handover_nights(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant monitor's nights: the hand-over rate and its share per reason (shares)."""
    reasons = [{"label": handover.LABELS[c], "column": handover.rate_column(c),
                "values": _shares(rows, handover.rate_column(c))} for c in handover.CATEGORIES]  # fmt: skip
    return {
        "nights": [str(r["ds"]) for r in rows], "latest": rows[-1],
        "rate": _shares(rows, handover.HANDOVER_RATE),
        "reasons": [r for r in reasons if any(v for v in r["values"])],  # the reasons that occurred
        "bound": MonitorConfig().handover_bound,
    }  # fmt: skip


def realized(root: str, day: dt.date | None) -> dict[str, Any]:
    """Per monitored model, its nights: ``{"lists": {...}, "scores": {model: {...}}, "forecast": {...},
    "assistant": {...}}`` (None or empty where nothing was judged)."""
    out: dict[str, Any] = {"lists": None, "scores": {}, "forecast": None, "assistant": None}
    for mon in MONITORS:
        rows = _rows(root, mon.model, day)
        if not rows:
            continue
        nights = [str(r["ds"]) for r in rows]
        if mon.kind == FORECASTS:
            out["forecast"] = forecast_nights(rows)
        elif mon.kind == HANDOVERS:
            out["assistant"] = handover_nights(rows)
        elif mon.kind == LISTS:
            out["lists"] = {
                "model": mon.model, "nights": nights, "latest": rows[-1],
                "hit_rate": _percent(rows, "hit_rate_at_20"),
                "popularity_hit_rate": _percent(rows, "popularity_hit_rate_at_20"),
                "recall": _percent(rows, "recall_at_20"),
                "popularity_recall": _percent(rows, "popularity_recall_at_20"),
            }  # fmt: skip
        else:
            out["scores"][mon.model] = {
                "nights": nights, "latest": rows[-1],
                "roc_auc": [_number(r.get(f"{mon.model}_roc_auc")) for r in rows],
                "ece": _percent(rows, f"{mon.model}_ece"),
            }  # fmt: skip
    return out


def forecast_and_assistant_charts(realized: dict[str, Any]) -> dict[str, str]:
    """Realized WAPE by horizon and coverage, and the hand-over rate, over nights (two or more)."""
    out: dict[str, str] = {}
    forecast, assistant = realized["forecast"], realized["assistant"]
    if forecast and len(forecast["nights"]) > 1:
        judged = [b for b in forecast["buckets"] if any(v is not None for v in b["values"])]
        series = {b["label"]: b["values"] for b in judged} | {"all horizons": forecast["wape"]}
        title = "Realized WAPE by horizon, by night (error / units sold; lower is better)"
        out["forecast_wape"] = charts.line_chart(forecast["nights"], series, title, percent=True)
        series = {"inside the 80% interval": forecast["coverage"],
                  "target": [0.8] * len(forecast["nights"])}  # fmt: skip
        title = "Item-days inside the published 80% interval, by night (target 80%)"
        out["forecast_coverage"] = charts.line_chart(forecast["nights"], series, title, percent=True)
    if assistant and len(assistant["nights"]) > 1:
        series = {"all reasons": assistant["rate"]} | {r["label"]: r["values"] for r in assistant["reasons"]}
        series["alert bound"] = [assistant["bound"]] * len(assistant["nights"])
        title = "Messages handed over to a person, by night and reason (% of answered)"
        width = max(640, sum(charts.legend_step(name) for name in series) + 70)  # every legend entry
        out["handover"] = charts.line_chart(assistant["nights"], series, title, percent=True, width=width)
    return out


def drift(root: str, day: dt.date | None) -> dict[str, Any] | None:
    """The drift table of ``day`` (or the newest night before it), worst first, with plain labels."""
    days = [
        d for d in storage.list_partitions(root, catalog.MONITORING, catalog.DRIFT) if day is None or d <= day
    ]
    if not days:
        return None
    frame = storage.read_partition(storage.partition_uri(root, catalog.MONITORING, catalog.DRIFT, days[-1]))
    rows = []
    for r in frame.to_dict(orient="records"):
        figures = ("psi", "ks_statistic", "ks_pvalue", "reference_mean", "current_mean")
        rows.append({**r, "label": label(str(r["name"])), **{k: _number(r[k]) for k in figures}})
    reference = rows[0]["reference_ds"] if rows else None
    drifted = sum(bool(r["drifted"]) for r in rows)
    return {"ds": days[-1].isoformat(), "reference_ds": reference, "rows": rows, "drifted": drifted,
            "psi_bound": MonitorConfig().psi_bound, "ks_alpha": MonitorConfig().ks_alpha}  # fmt: skip


def recent_alerts(root: str) -> list[dict[str, Any]]:
    """The newest monitoring alerts (newest first), with a readable time."""
    body = remote.read_uri(f"{storage.data_root(root)}/{catalog.ALERTS_FILE}")
    if body is None:
        return []
    found = []
    for line in body.decode(errors="replace").splitlines():
        try:
            alert = json.loads(line)
        except ValueError:
            continue
        if isinstance(alert, dict) and alert.get("kind") == catalog.MONITORING:
            at = str(alert.get("at", ""))
            found.append(
                {"at": at.replace("T", " ").split("+")[0], "ds": alert.get("ds"), "text": alert.get("text")}
            )
    return found[::-1][:ALERTS_SHOWN]


def monitoring_overview(root: str, day: dt.date | None) -> dict[str, Any]:
    """Everything the monitoring section shows (nights up to ``day``, all when None)."""
    return {"realized": realized(root, day), "drift": drift(root, day), "alerts": recent_alerts(root)}
