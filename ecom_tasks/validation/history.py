"""Checks against history: the day's key figures next to the trailing window of validated days.

A constant threshold cannot tell a quiet Sunday from a broken feed; the shop's own recent past
can. Each validated day's summary stores its figures (:func:`day_metrics`); a new day is compared
with the median of the last ``history_window`` validated days before it, found by explicit dates
(never "the latest"), so rerunning an old day gives the same answer whatever ran since.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks import contract as c
from ecom_tasks.validation.config import CRITICAL, WARNING, Band, ValidationConfig
from ecom_tasks.validation.report import Outcome

log = logging.getLogger(__name__)

ROWS = "rows"
ANONYMOUS_SHARE = "anonymous_share"
RETURN_SHARE = "return_share"
MEAN_PURCHASE_PRICE = "mean_purchase_price"
PURCHASES_PER_SESSION = "purchases_per_session"
PURCHASES = "purchases"  # support of the purchase-based figures (recorded, not checked itself)
# Events per session (recorded, not checked itself): exactly 1 on every day means the source has no
# sessions of its own (its adapter made one per event: ordered sequences), so per-session figures
# say nothing about the shop.
EVENTS_PER_SESSION = "events_per_session"
PURCHASE_METRICS = (MEAN_PURCHASE_PRICE, PURCHASES_PER_SESSION)
RATIO_METRICS = (ROWS, MEAN_PURCHASE_PRICE, PURCHASES_PER_SESSION)
SHARE_METRICS = (ANONYMOUS_SHARE, RETURN_SHARE)


@dataclass(frozen=True)
class HistoryDay:
    """One validated day before ``ds`` and its figures (from its summary)."""

    ds: dt.date
    metrics: dict[str, float | None]


def day_metrics(rows_in: int, events: pd.DataFrame) -> dict[str, float | None]:
    """The day's figures: raw row count, and shares and means over its clean events."""
    n = len(events)
    purchase = (events[c.EVENT_TYPE] == c.PURCHASE).to_numpy(dtype=bool, na_value=False)
    n_purchases = int(purchase.sum())
    sessions = events[c.SESSION_ID].nunique() if n else 0
    return {
        ROWS: float(rows_in),
        ANONYMOUS_SHARE: float(events[c.USER_ID].isna().mean()) if n else None,
        RETURN_SHARE: float((events[c.EVENT_TYPE] == c.RETURN).fillna(False).mean()) if n else None,
        MEAN_PURCHASE_PRICE: float(events[c.UNIT_PRICE].to_numpy()[purchase].mean()) if n_purchases else None,
        PURCHASES_PER_SESSION: n_purchases / sessions if sessions else None,
        PURCHASES: float(n_purchases),
        EVENTS_PER_SESSION: n / sessions if sessions else None,
    }


def _not_applicable(
    metric: str, day: dict[str, float | None], past: list[float], usable: Sequence[HistoryDay]
) -> str:
    """Why a history check of ``metric`` says nothing about this source ("" when it does).

    A quantity the source never has (a sequence file has no prices and no sessions) is not a figure
    that can drift: the check is not applicable, rather than a ratio against a zero median.
    """
    if metric == MEAN_PURCHASE_PRICE and day.get(metric) == 0 and all(v == 0 for v in past):
        return "the source has no prices (0 on the day and on every day of the window)"
    if metric == PURCHASES_PER_SESSION:
        per = [day.get(EVENTS_PER_SESSION), *(d.metrics.get(EVENTS_PER_SESSION) for d in usable)]
        if all(v == 1 for v in per):
            return "the source has no sessions (one event per session on every day of the window)"
    return ""


def _band_check(metric: str, value: float, base: float, warn: Band, crit: Band | None) -> Outcome:
    if not base:  # no ratio against a zero median: a figure that appears warns, never an infinite failure
        detail = f"{value:.6g} against a trailing median of 0: no ratio to judge"
        return Outcome(f"history.{metric}", c.EVENTS, "history", WARNING, value == 0, None, detail=detail)
    ratio = value / base
    outside = not warn[0] <= ratio <= warn[1]
    severity = CRITICAL if crit is not None and not crit[0] <= ratio <= crit[1] else WARNING
    detail = f"{value:.6g} is {ratio:.3g}x the trailing median {base:.6g} (warning outside {warn}"
    detail += f", critical outside {crit})" if crit is not None else ")"
    return Outcome(
        f"history.{metric}", c.EVENTS, "history", severity, not outside, round(ratio, 6), detail=detail
    )


def _delta_check(metric: str, value: float, base: float, warn: float, crit: float | None) -> Outcome:
    delta = value - base
    severity = CRITICAL if crit is not None and abs(delta) > crit else WARNING
    detail = f"{value:.4f} is {delta:+.4f} from the trailing median {base:.4f} (warning beyond {warn}"
    detail += f", critical beyond {crit})" if crit is not None else ")"
    return Outcome(
        f"history.{metric}", c.EVENTS, "history", severity, abs(delta) <= warn, round(delta, 6), detail=detail
    )


def compare(
    metrics: dict[str, float | None], history: Sequence[HistoryDay], config: ValidationConfig
) -> list[Outcome]:
    """The history checks of a day with ``metrics`` against ``history`` (the trailing window).

    Days without events in the window are left out of the baseline. With fewer than
    ``config.min_history`` usable days, or a figure missing on the day, that check is skipped
    (reported as a passing outcome saying so); on a quantity the source never has (no prices, no
    sessions of its own) it is "not applicable", also passing and saying so. A ratio against a
    trailing median of 0 is never taken: a figure that appears from 0 warns.
    """
    usable = [d for d in history if d.metrics.get(ROWS)]
    thresholds = config.history
    out = []
    for metric in RATIO_METRICS + SHARE_METRICS:
        past = [float(v) for d in usable if (v := d.metrics.get(metric)) is not None]
        value = metrics.get(metric)
        if value is None or len(past) < config.min_history:
            why = "no value on the day" if value is None else f"{len(past)} of {config.min_history} days"
            out.append(
                Outcome(
                    f"history.{metric}", c.EVENTS, "history", WARNING, True, value, detail=f"skipped: {why}"
                )
            )
            continue
        why = _not_applicable(metric, metrics, past, usable)
        if why:
            out.append(
                Outcome(
                    f"history.{metric}",
                    c.EVENTS,
                    "history",
                    WARNING,
                    True,
                    None,
                    detail=f"not applicable: {why}",
                )
            )
            continue
        base = statistics.median(past)
        if metric in RATIO_METRICS:
            warn, crit = getattr(thresholds, f"{metric}_warning"), getattr(thresholds, f"{metric}_critical")
            # A shop that usually sells only a few items a day swings by chance: its purchase-based
            # figures can warn, not fail (a collapse of a busy shop's purchases stays critical).
            support = [float(v) for d in usable if (v := d.metrics.get(PURCHASES)) is not None]
            few = support and statistics.median(support) < thresholds.min_purchases
            if metric in PURCHASE_METRICS and few:
                crit = None
            out.append(_band_check(metric, value, base, warn, crit))
        else:
            warn, crit = getattr(thresholds, f"{metric}_warning"), getattr(thresholds, f"{metric}_critical")
            out.append(_delta_check(metric, value, base, warn, crit))
    return out


def summary_uri(root: str, ds: dt.date | str) -> str:
    """Where the summary of day ``ds`` lives."""
    day = storage.as_date(ds).isoformat()
    return f"{storage.data_root(root)}/{catalog.VALIDATION}/{catalog.SUMMARY}/ds={day}/{catalog.SUMMARY_FILE}"


def load_history(
    root: str,
    ds: dt.date,
    config: ValidationConfig,
    known: MutableMapping[dt.date, HistoryDay | None] | None = None,
) -> list[HistoryDay]:
    """The last ``history_window`` validated days before ``ds`` within ``history_lookback_days``.

    A day counts when its summary says it passed and its ``validated/events`` partition is
    committed. Dates are tried one by one, newest first: reading is explicit, never "latest".

    Args:
        known: days already looked up or validated in this process (``None``: not validated),
            consulted before storage and filled with what is read; a backlog validated in one
            batch passes the days it has just validated here before they are written.
    """
    days: list[HistoryDay] = []
    for back in range(1, config.history_lookback_days + 1):
        day = ds - dt.timedelta(days=back)
        if known is not None and day in known:
            found = known[day]
        else:
            found = _read_day(root, day)
            if known is not None:
                known[day] = found
        if found is not None:
            days.append(found)
        if len(days) == config.history_window:
            break
    log.info("history for %s: %d validated day(s) %s", ds, len(days), [d.ds.isoformat() for d in days])
    return days


def _read_day(root: str, day: dt.date) -> HistoryDay | None:
    if storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, c.EVENTS, day)) is None:
        return None
    try:
        summary: dict[str, Any] = storage.read_json(summary_uri(root, day))
    except FileNotFoundError:
        return None
    if summary.get("passed") and isinstance(summary.get("metrics"), dict):
        return HistoryDay(day, dict(summary["metrics"]))
    return None
