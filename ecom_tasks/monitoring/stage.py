"""The nightly ``monitor`` task: realized performance of what was published before, and drift.

For the run's day ``ds`` (its features built; today's publication is not waited for and never
read: everything is taken as it was current before ``ds``, from the outputs pointer's history):

- recommendations current after the night of ``ds - 1`` against the purchases of ``ds``, with
  popularity's top K (the most bought items of the ``popularity_days`` before ``ds``) on the same
  users;
- churn and repurchase scores current after the night of ``ds - 90`` / ``ds - 30`` against what
  their customers did in the label window that has just closed;
- demand forecasts current after the nights ``ds - 1`` .. ``ds - 28`` against ``ds``'s units sold,
  WAPE by horizon and the 80 % interval's coverage (:mod:`ecom_tasks.monitoring.forecast_realized`);
- the assistant's answers of ``ds``: the share handed over to a person, by reason
  (:mod:`ecom_tasks.monitoring.handover`), alerted above ``handover_bound``;
- drift (:mod:`ecom_tasks.monitoring.drift_stage`).

Each model's row goes to ``monitoring/<model>/ds=D``; a realized figure that breaks its gate's
threshold (the same gate configuration the nightly gates use, ``$ECOM_GATE_CONFIG`` included) is
alerted through :func:`ecom_tasks.alerts.deliver` with ``kind`` ``monitoring``. With nothing
published before ``ds`` at all, the task is skipped with that reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import alerts, catalog, contract, stages, storage
from ecom_tasks.errors import ConfigError, NotEnoughDataError
from ecom_tasks.features import store
from ecom_tasks.monitoring import drift_stage, forecast_realized, handover, realized
from ecom_tasks.monitoring.config import MonitorConfig
from ecom_tasks.monitoring.monitors import FORECASTS, HANDOVERS, LISTS, SCORES, Monitor, active
from ecom_tasks.publish import outputs
from ecom_tasks.publish.gate import GateConfig
from ecom_tasks.publish.tables import RANK
from ecom_tasks.ui import labels

log = logging.getLogger(__name__)

DS, PUBLISHED_DS, VERSION = "ds", "published_ds", "version"
WINDOW_START, WINDOW_END = "window_start", "window_end"


class UnjudgedError(Exception):
    """One monitor has nothing to judge tonight (the reason is reported, the others go on)."""


def monitoring_uri(root: str, table: str, ds: str | dt.date) -> str:
    """``{root}/monitoring/<table>/ds=<ds>`` (a model's name, or ``drift``)."""
    return storage.partition_uri(root, catalog.MONITORING, table, ds)


def _purchases(
    root: str, first: dt.date, last: dt.date, columns: list[str], *, complete: bool = True
) -> pd.DataFrame:
    """The validated purchases of ``[first, last]``; with ``complete``, UnjudgedError when a day of
    it is not validated (a label window with a gap would call buyers churners)."""
    days = store.event_days(root, first, last)
    want = (last - first).days + 1
    if complete and len(days) < want:
        raise UnjudgedError(f"only {len(days)} of the {want} days {first}..{last} are validated")
    return store.read_events(root, days, columns, event_types=[contract.PURCHASE])


def _published(root: str, monitor: Monitor, as_of: dt.date) -> tuple[dict[str, Any], pd.DataFrame]:
    entry = outputs.current_as_of(root, as_of, table=monitor.table)
    if entry is None:
        raise UnjudgedError(f"nothing was published as {monitor.table} by the night of {as_of}")
    frame = storage.read_partition(outputs.output_uri(root, monitor.table, entry["ds"]))
    return entry, frame


def judge_lists(root: str, day: dt.date, monitor: Monitor, config: MonitorConfig) -> dict[str, Any]:
    """Yesterday's published top-K lists against ``day``'s purchases, with popularity's."""
    entry, recs = _published(root, monitor, day - dt.timedelta(days=1))
    cols = [contract.USER_ID, contract.ITEM_ID]
    bought = _purchases(root, day, day, cols)
    # Popularity from what the shop has of its window (a young shop has less than popularity_days).
    first = day - dt.timedelta(days=config.popularity_days)
    before = _purchases(root, first, day - dt.timedelta(days=1), cols, complete=False)
    recs = recs[recs[RANK] <= max(config.top_k, config.ndcg_k)]
    popular = realized.popular_items(before, config.top_k)
    figures = realized.recommendation_figures(recs, bought, popular, config.top_k, config.ndcg_k)
    if figures[realized.USERS_JUDGED] < config.min_examples:
        judged = int(figures[realized.USERS_JUDGED])
        raise UnjudgedError(f"{judged} customers who bought on {day} had a published list, "
                            f"fewer than {config.min_examples}")  # fmt: skip
    return {PUBLISHED_DS: entry["ds"], VERSION: entry["version"], **figures}


def judge_scores(root: str, day: dt.date, monitor: Monitor, config: MonitorConfig) -> dict[str, Any]:
    """The scores published ``horizon`` days ago against the label window that closed with ``day``."""
    horizon = int(getattr(config, monitor.horizon))
    entry, scores = _published(root, monitor, day - dt.timedelta(days=horizon))
    start = dt.date.fromisoformat(entry["ds"]) + dt.timedelta(days=1)
    end = start + dt.timedelta(days=horizon - 1)
    buyers = _purchases(root, start, end, [contract.USER_ID])[contract.USER_ID]
    scored = scores[scores[monitor.score].notna()]
    if len(scored) < config.min_examples:
        raise UnjudgedError(f"{len(scored)} scored customers, fewer than {config.min_examples}")
    positive = monitor.positive_if_bought
    y = realized.window_labels(scored[contract.USER_ID], buyers, positive_if_bought=positive)
    p = scored[monitor.score].to_numpy(np.float64)
    figures = realized.score_figures(y, p, monitor.model, config.calibration_bins)
    return {PUBLISHED_DS: entry["ds"], VERSION: entry["version"], WINDOW_START: start.isoformat(),
            WINDOW_END: end.isoformat(), **figures}  # fmt: skip


def judge_forecasts(root: str, day: dt.date, monitor: Monitor, config: MonitorConfig) -> dict[str, Any]:
    """The forecasts published up to ``forecast_buckets[-1]`` nights before ``day`` against its units."""
    horizon = config.forecast_buckets[-1]
    found = forecast_realized.published(root, day, horizon)
    if not found:
        raise UnjudgedError(f"no {monitor.table} was current in the {horizon} nights before {day}")
    if not store.event_days(root, day, day):
        raise UnjudgedError(f"{day} is not validated: its units sold are not known")
    actual = forecast_realized.actual_units(root, day)
    forecasts = [((day - dt.date.fromisoformat(e["ds"])).days, rows) for e, rows in found]
    judged = forecast_realized.judged_rows(forecasts, actual)
    sold = judged[forecast_realized.ACTUAL].sum()
    if len(judged) < config.min_examples or sold <= 0:
        raise UnjudgedError(f"{len(judged)} forecast item-days for {day} with {sold:g} units sold: too few")
    figures = forecast_realized.figures(judged, config.forecast_buckets)
    covered = set(judged[contract.ITEM_ID].astype(str))
    figures[forecast_realized.UNFORECAST_UNITS] = float(actual[~actual.index.isin(covered)].sum())
    figures[forecast_realized.FORECASTS_JUDGED] = float(len(found))
    newest = found[0][0]
    return {PUBLISHED_DS: newest["ds"], VERSION: newest["version"], **figures}


def judge_answers(root: str, day: dt.date, monitor: Monitor, config: MonitorConfig) -> dict[str, Any]:
    """The share of ``day``'s answered messages the assistant handed over, by reason."""
    figures, reason = handover.judge(root, day, config.min_examples)
    if reason is not None:
        raise UnjudgedError(reason)
    # The assistant that answered during ``day``: the one current after the night before it.
    entry = outputs.current_as_of(root, day - dt.timedelta(days=1), model=monitor.model)
    return {PUBLISHED_DS: entry["ds"] if entry else "", VERSION: entry["version"] if entry else "", **figures}


JUDGES = {LISTS: judge_lists, SCORES: judge_scores, FORECASTS: judge_forecasts, HANDOVERS: judge_answers}


def breaches(row: dict[str, Any], monitor: Monitor, gates: GateConfig, config: MonitorConfig) -> list[str]:
    """The realized figures of ``row`` outside a threshold of the monitor's gates, described."""
    found = handover.breach(row, config.handover_bound) if monitor.kind == HANDOVERS else []
    for model in monitor.gates:
        try:
            gate = gates.for_model(model)
        except ConfigError:  # a gate configuration without that model: nothing to compare with
            continue
        for t in gate.thresholds:
            value = row.get(t.metric)
            if value is None or not np.isfinite(value):
                continue
            # In the page's words and units: the alert is read on the page and in a chat channel.
            said = f"{labels.metric_label(t.metric)}: {labels.metric_value(t.metric, value)}"
            if t.minimum is not None and value < t.minimum:
                limit = labels.metric_value(t.metric, t.minimum)
                found.append(f"{said} below the {model} gate's minimum {limit}")
            if t.maximum is not None and value > t.maximum:
                limit = labels.metric_value(t.metric, t.maximum)
                found.append(f"{said} above the {model} gate's maximum {limit}")
    return found


def _gates() -> GateConfig:
    from ecom_tasks.publish.gate_file import gate_config_from_env

    return gate_config_from_env()


def monitor(root: str, ds: str, config: MonitorConfig | None = None) -> dict[str, Any]:
    """Judge what was published before ``ds`` and measure drift; write and alert (module docstring).

    Returns ``{"ds", "realized": {model: row}, "skipped": {model: reason}, "drift": {...},
    "alerts": [text, ...]}``, JSON-safe for XCom (NaN figures as None). Raises
    :class:`NotEnoughDataError` (the task is skipped) when nothing was published before ``ds``.
    """
    cfg = config or MonitorConfig()
    root = storage.data_root(root)
    day = storage.as_date(ds)
    gates = _gates()
    result: dict[str, Any] = {"ds": day.isoformat(), "realized": {}, "skipped": {}, "alerts": []}
    for mon in active(stages.names()):
        try:
            row = {DS: day.isoformat(), **JUDGES[mon.kind](root, day, mon, cfg)}
        except UnjudgedError as exc:
            result["skipped"][mon.model] = str(exc)
            log.info("monitor %s: nothing to judge for ds=%s: %s", mon.model, day, exc)
            continue
        _, changed = storage.write_partition(pd.DataFrame([row]), monitoring_uri(root, mon.model, day),
                                             source="monitoring")  # fmt: skip
        result["realized"][mon.model] = row
        broken = breaches(row, mon, gates, cfg)
        if broken and changed:  # a rerun that changes nothing does not alert again
            published = (f" as published on {row[PUBLISHED_DS]} (version {row[VERSION]})"
                         if row[PUBLISHED_DS] else "")  # fmt: skip
            text = f"monitoring ds={day}: {mon.model}{published}: realized " + "; ".join(broken)
            alerts.deliver(
                {"kind": drift_stage.KIND, "model": mon.model, "ds": day.isoformat(), "text": text}, root
            )
            result["alerts"].append(text)
    result["drift"] = drift_stage.measure(root, day, cfg)
    if result["drift"].get("alert"):
        result["alerts"].append(result["drift"]["alert"])
    if not result["realized"] and not result["drift"].get("rows"):
        reasons = "; ".join(f"{m}: {r}" for m, r in result["skipped"].items()) or "no monitored model"
        raise NotEnoughDataError(f"monitoring ds={day}: nothing published before to judge ({reasons}); "
                                 f"drift: {result['drift'].get('reason')}")  # fmt: skip
    log.info("monitor ds=%s: %s", day, {k: v for k, v in result.items() if k != "drift"})
    return summary(result)


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """A small JSON-safe view of :func:`monitor`'s result for XCom (NaN as null)."""
    realized_rows = {m: {k: _plain(v) for k, v in row.items()} for m, row in result["realized"].items()}
    drift = {k: v for k, v in result["drift"].items() if k != "worst"}
    if "worst" in result["drift"]:
        drift["worst"] = {k: _plain(v) for k, v in result["drift"]["worst"].items()}
    return {**result, "realized": realized_rows, "drift": drift}
