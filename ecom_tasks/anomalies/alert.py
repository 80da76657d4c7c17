"""One summary alert per day, never one per order.

Sent by the train task, right after it wrote the day's findings: the alert is about the shop's
day, not about the model, so a person hears about a price error of yesterday even on a night
whose candidate the gate holds back (the detector that found it is named). A rerun that reuses
the day's training result sends nothing again.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from ecom_tasks import alerts, catalog
from ecom_tasks.anomalies import daily
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.anomalies.outputs import DETECTOR, FLAGGED, REASONS, SEVERITY
from ecom_tasks.contract import ORDER_ID, USER_ID

log = logging.getLogger(__name__)
MAX_LISTED = 3  # orders and metrics named in the alert's text; the rest are counted


def summary(ds: str, orders: pd.DataFrame, metrics: pd.DataFrame, day: pd.Timestamp) -> dict[str, Any] | None:
    """The day's alert, or None when nothing of ``ds`` is above the severity threshold."""
    flagged = orders[orders[FLAGGED]] if len(orders) else orders
    today = metrics[(metrics[DAY] == day) & metrics[daily.FLAGGED]] if len(metrics) else metrics
    if flagged.empty and today.empty:
        return None
    parts = [f"Anomalies on {ds}: {len(flagged)} order(s) and {len(today)} daily metric(s) flagged."]
    for _, row in flagged.head(MAX_LISTED).iterrows():
        who = row[USER_ID] if pd.notna(row[USER_ID]) else "an anonymous customer"
        first_reason = str(row[REASONS]).split("; ")[0]
        parts.append(f"Order {row[ORDER_ID]} ({who}, {row[ref.VALUE]:,.2f}): {first_reason}.")
    for _, row in (
        today.reindex(today[daily.DEVIATION].abs().sort_values(ascending=False).index)
        .head(MAX_LISTED)
        .iterrows()
    ):
        parts.append(
            f"{row[daily.METRIC]} ({row[daily.SEGMENT]}): {row[daily.VALUE]:,.2f} against an expected "
            f"{row[daily.EXPECTED]:,.2f} ({row[daily.DEVIATION]:+.0%})."
        )
    return {
        "kind": catalog.ANOMALIES,
        "ds": ds,
        "text": " ".join(parts),
        "orders_flagged": len(flagged),
        "metrics_flagged": len(today),
        "detector": str(orders[DETECTOR].iloc[0]) if len(orders) else None,
        "top_severity": float(flagged[SEVERITY].max()) if len(flagged) else None,
    }


def send_summary(
    root: str, ds: str, orders: pd.DataFrame, metrics: pd.DataFrame, day: pd.Timestamp
) -> dict[str, Any] | None:
    """Deliver the day's summary alert through :func:`ecom_tasks.alerts.deliver` (when there is one)."""
    alert = summary(ds, orders, metrics, day)
    if alert is None:
        log.info("anomalies for %s: nothing above the severity threshold, no alert", ds)
        return None
    return alerts.deliver(alert, root, level=logging.WARNING)
