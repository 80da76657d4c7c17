"""The pure core of the validation gate: frames in, a :class:`ValidationReport` out, no I/O.

Order of work for one day: a cheap layout check per table (row checks need the contract's
columns and dtypes); items and users are checked and split first, so that events can be checked
against the clean items; the events' failing rows are found; then Great Expectations evaluates
every suite (its results are the per-expectation counts of the summary and the pages of Data
Docs); then the events are split, and the quarantined shares and history checks follow.
Nothing here raises on bad data: the caller decides what a failed report means
(:func:`~ecom_tasks.validation.gate.validate_partition` raises ``ValidationFailed``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.validation import history as hist
from ecom_tasks.validation import rowchecks
from ecom_tasks.validation.config import CRITICAL, WARNING, ValidationConfig
from ecom_tasks.validation.duplicates import duplicate_counts, duplicate_outcome
from ecom_tasks.validation.gxrun import GxGate, gate_for, outcomes
from ecom_tasks.validation.report import Outcome, TableReport, ValidationReport
from ecom_tasks.validation.suites import ITEM_REFS, all_rules, batch_name, run_parameters

log = logging.getLogger(__name__)

EMPTY_EVENTS = "events_not_empty"
# Rules that say nothing about a day without rows (a share of nothing is undefined).
_UNDEFINED_WHEN_EMPTY = ("anonymous_share_high", "anonymous_share_max")


def schema_ok(df: pd.DataFrame, table: str) -> bool:
    """Exactly the contract's columns (any order) with exactly its dtypes, as GE checks them."""
    expected = c.dtypes(table)
    if len(df.columns) != len(expected) or set(df.columns) != set(expected):
        return False
    return all(str(df[col].dtype) == dtype for col, dtype in expected.items())


def _row_checks(
    table: str, df: pd.DataFrame, params: dict, extra: dict[str, pd.DataFrame] | None = None
) -> tuple[TableReport, dict[str, np.ndarray]]:
    """The failing rows of every quarantine rule of a table whose layout is canonical.

    ``extra`` holds derived batches (the events' item references); rules of a derived batch
    that is not given are left out. The split into clean and quarantined rows is :func:`_split`.
    """
    frames = {table: df, **(extra or {})}
    rules = [r for r in all_rules()[table] if r.batch in frames]
    masks = rowchecks.row_masks(frames, rules, params)
    report = TableReport(table, len(df), reasons=rowchecks.reason_counts(masks), row_checks_ran=True)
    return report, masks


def _split(report: TableReport, df: pd.DataFrame, masks: dict[str, np.ndarray]) -> None:
    # canonical column order for the outputs; selecting columns does not copy the data
    report.clean, report.quarantined = rowchecks.split(df[c.columns(report.table)], masks)


def validate_frames(
    events: pd.DataFrame,
    items: pd.DataFrame,
    users: pd.DataFrame,
    ds: str | dt.date,
    history: Sequence[hist.HistoryDay] = (),
    config: ValidationConfig = ValidationConfig(),  # noqa: B008 - frozen, so a shared default is safe
    *,
    gate: GxGate | None = None,
) -> ValidationReport:
    """Validate one day's tables.

    Args:
        events, items, users: the day's raw tables (never modified).
        ds: the logical date; its data interval is ``[ds, ds+1)`` in UTC.
        history: the trailing validated days (:func:`~ecom_tasks.validation.history.load_history`).
        config: thresholds.
        gate: the GE gate to run the suites with; by default an in-memory one (no files written).

    Returns:
        The report: outcomes per expectation, clean and quarantined rows per table (where the
        layout allowed row checks), the day's figures and the history checks.
    """
    day = storage.as_date(ds)
    rules = all_rules()
    gate = gate or gate_for(None, config, [r for t in c.TABLES for r in rules[t]])
    params = run_parameters(day, config)
    raw = {c.EVENTS: events, c.ITEMS: items, c.USERS: users}
    ok = {t: schema_ok(df, t) for t, df in raw.items()}
    reports = {t: TableReport(t, len(df)) for t, df in raw.items()}
    for table in (c.ITEMS, c.USERS):  # small snapshots: split now, events are checked against clean items
        if ok[table]:
            reports[table], masks = _row_checks(table, raw[table], params)
            _split(reports[table], raw[table], masks)
    refs, event_masks = None, None
    if ok[c.EVENTS]:
        extra = {}
        if ok[c.ITEMS]:  # without usable items the reference rule cannot run (the day fails anyway)
            refs = rowchecks.item_refs(events, reports[c.ITEMS].clean[c.ITEM_ID])
            extra[batch_name(c.EVENTS, ITEM_REFS)] = refs
        reports[c.EVENTS], event_masks = _row_checks(c.EVENTS, events, params, extra)
        reports[c.EVENTS].duplicates = int(duplicate_counts(events)[0])
    report = ValidationReport(day, reports)
    _run_suites(report, gate, raw, refs, params)
    del refs
    if event_masks is not None:
        # After GE, so that the raw events and GE's working copies are not alive beside the clean
        # copy at the same time (peak memory of a 10M-event batch).
        _split(reports[c.EVENTS], events, event_masks)
    finish_report(report, raw, ok, config, history)
    return report


def _run_suites(
    report: ValidationReport, gate: GxGate, raw: dict, refs: pd.DataFrame | None, params: dict
) -> None:
    """Run every GE checkpoint and attach the outcomes (with quarantined counts) to the tables."""
    rules = all_rules()
    batches = {t: raw[t] for t in c.TABLES}
    if refs is not None:
        batches[batch_name(c.EVENTS, ITEM_REFS)] = refs
    report.gx_results = gate.run_day(report.ds, batches, params)
    for batch, result in report.gx_results.items():
        table = next(t for t in c.TABLES if batch == t or batch.startswith(f"{t}_"))
        found = outcomes(result, {r.id: r for r in rules[table]})
        tr = report.tables[table]
        for rule in rules[table]:
            if rule.batch != batch or rule.id not in found:
                continue
            outcome = found[rule.id]
            if rule.id in tr.reasons:
                outcome.rows_quarantined = tr.reasons[rule.id]
            tr.outcomes.append(outcome)


def finish_report(
    report: ValidationReport,
    raw: dict,
    ok: dict,
    config: ValidationConfig,
    history: Sequence[hist.HistoryDay],
) -> None:
    """Empty-day rules, schema fallbacks, quarantined shares, the day's figures and history checks.

    ``raw`` (the day's frames) is only read for a table whose layout is not canonical (``ok``).
    """
    events = report.tables[c.EVENTS]
    for outcome in events.outcomes:
        if events.rows_in == 0 and outcome.id in _UNDEFINED_WHEN_EMPTY:
            outcome.success, outcome.detail = True, "skipped: no events"
        if outcome.id == EMPTY_EVENTS and config.allow_empty_events:
            outcome.severity = WARNING
            outcome.detail = "no events on the day (allowed: allow_empty_events is set)"
    for table, tr in report.tables.items():
        if not ok[table] and not any(o.level == CRITICAL for o in tr.outcomes):
            # Belt and braces: GE should already have failed the layout; say why if it did not.
            report.extra_failures.append(
                f"{table}: layout does not match the contract: {c.contract_problems(raw[table], table)}"
            )
        if tr.row_checks_ran and tr.quarantined_share > config.max_quarantine_share:
            tr.outcomes.append(
                Outcome(
                    "quarantine_share",
                    table,
                    "quarantined share of rows",
                    CRITICAL,
                    False,
                    round(tr.quarantined_share, 6),
                    detail=f"{tr.rows_quarantined} of {tr.rows_in} rows quarantined ({tr.reasons}), "
                    f"above max_quarantine_share {config.max_quarantine_share}",
                )
            )
    if events.duplicates is not None:
        events.outcomes.append(duplicate_outcome(events.duplicates, events.rows_in, config))
    if events.row_checks_ran and events.clean is not None:
        report.metrics = hist.day_metrics(events.rows_in, events.clean)
        report.history_days = [d.ds.isoformat() for d in history]
        if events.rows_in:
            report.history = hist.compare(report.metrics, history, config)
