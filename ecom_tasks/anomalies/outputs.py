"""The stage's output tables and the injected metric drop.

- ``outputs/anomalies`` for ``ds``: the day's ``budget`` highest-scored orders (fewer on a quiet
  day, none on a day without orders), each with its score, its severity (the share of training
  orders scored lower), its rank, the detector that scored it, its reasons and whether it is
  flagged (severity at or above ``AnomalyConfig.severity``);
- ``outputs/metric_anomalies`` for ``ds``: every tracked daily metric of the test window with its
  expected value and band, flagged where outside it (the window gives the UI its chart).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.anomalies import daily, inject
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import METRICS_TABLE, ORDERS_TABLE, AnomalyConfig
from ecom_tasks.anomalies.data import DAY
from ecom_tasks.anomalies.model import AnomalyModel
from ecom_tasks.anomalies.rules import reasons
from ecom_tasks.contract import COUNTRY, ORDER_ID, USER_ID
from ecom_tasks.publish.outputs import write_output

SCORE, SEVERITY, RANK, DETECTOR, REASONS, FLAGGED = (
    "score",
    "severity",
    "rank",
    "detector",
    "reasons",
    "flagged",
)
ORDER_COLUMNS = (
    DAY,
    ORDER_ID,
    USER_ID,
    COUNTRY,
    ref.VALUE,
    SCORE,
    SEVERITY,
    RANK,
    DETECTOR,
    REASONS,
    FLAGGED,
)
DROP_METRICS = (daily.REVENUE, daily.ORDERS)


def top_orders(model: AnomalyModel, orders: pd.DataFrame, config: AnomalyConfig) -> pd.DataFrame:
    """The ``budget`` highest-scored of ``orders`` (one day's features), ranked, with reasons."""
    if orders.empty:
        return pd.DataFrame(
            {
                DAY: pd.Series([], dtype="datetime64[us]"),
                **{c: pd.Series([], dtype="string") for c in (ORDER_ID, USER_ID, COUNTRY)},
                **{c: pd.Series([], dtype="float64") for c in (ref.VALUE, SCORE, SEVERITY)},
                RANK: pd.Series([], dtype="int64"),
                **{c: pd.Series([], dtype="string") for c in (DETECTOR, REASONS)},
                FLAGGED: pd.Series([], dtype="bool"),
            }
        )
    scores = model.scores(orders)[model.selected]
    top = np.argsort(-scores, kind="stable")[: config.budget]
    frame = orders.iloc[top].reset_index(drop=True)
    frame[SCORE] = scores[top].astype(np.float64)
    frame[SEVERITY] = model.severity(frame[SCORE].to_numpy()).astype(np.float64)
    frame[RANK] = np.arange(1, len(frame) + 1, dtype=np.int64)
    frame[DETECTOR] = pd.array([model.selected] * len(frame), dtype="string")
    frame[REASONS] = pd.array(reasons(frame, config), dtype="string")
    frame[FLAGGED] = frame[SEVERITY].to_numpy() >= config.severity
    for column in (ORDER_ID, USER_ID, COUNTRY):
        frame[column] = frame[column].astype("string")
    frame[ref.VALUE] = frame[ref.VALUE].astype(np.float64)
    return frame[list(ORDER_COLUMNS)]


def write_tables(root: str, ds: str, orders: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, str]:
    """Write both output tables for ``ds``; returns their URIs."""
    return {
        "output_uri": write_output(root, ORDERS_TABLE, ds, orders, source="anomalies.orders"),
        "metrics_output_uri": write_output(root, METRICS_TABLE, ds, metrics, source="anomalies.metrics"),
    }


def metric_drop_recall(
    lines: pd.DataFrame,
    sessions: pd.DataFrame,
    first: pd.Timestamp,
    last: pd.Timestamp,
    config: AnomalyConfig,
) -> dict[str, float]:
    """``recall_metric_drop``: the share of injected country drops flagged (revenue or orders below band).

    On every seventh day of the window from its fourth, ``metric_drop`` of one tracked country's
    orders (the tracked countries in turn) are removed from a copy of the lines. NaN when no
    country is tracked (each has too few orders a day for a baseline).
    """
    history = daily.daily_values(
        lines[(lines[DAY] < first) & (lines[DAY] >= first - pd.Timedelta(days=7 * config.metric_weeks))],
        sessions.iloc[0:0],
        pd.date_range(first - pd.Timedelta(days=7 * config.metric_weeks), first - pd.Timedelta(days=1)),
    )
    countries = [s for s in daily.tracked(history, config) if s.startswith("country: ")]
    found: list[bool] = []
    days = pd.date_range(first + pd.Timedelta(days=3), last, freq="7D")
    for k, day in enumerate(days):
        if not countries:
            break
        segment = countries[k % len(countries)]
        country = segment.removeprefix("country: ")
        if not ((lines[DAY] == day) & (lines[COUNTRY] == country)).any():
            continue
        dropped = inject.drop_country(lines, day, country, config.metric_drop, config.seed + k)
        rows = daily.anomalies(dropped, sessions, day, day, config)
        hit = rows[
            (rows[daily.SEGMENT] == segment)
            & rows[daily.METRIC].isin(DROP_METRICS)
            & rows[daily.FLAGGED]
            & (rows[daily.VALUE] < rows[daily.EXPECTED])
        ]
        found.append(not hit.empty)
    return {f"recall_{inject.METRIC_DROP}": float(np.mean(found)) if found else float("nan")}
