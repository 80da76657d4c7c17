"""Validate a backlog of days in one pass: one Great Expectations run for all of them, results per day.

The pure core of :func:`~ecom_tasks.validation.backlog.validate_landed` for a backlog (no I/O):
the days' tables are laid end to end, each row knowing its day; the row checks and the GE suites
run once over all of them, with every interval check made against the row's own day and every
uniqueness check within a day (:mod:`ecom_tasks.validation.gxbatch`); then the results are split
back per day and each day gets the :class:`ValidationReport` that validating it alone would give
(the equivalence is a test). The history checks stay per day, in date order, since each day's
baseline includes the days just before it: reports are yielded one day at a time, so the caller
can record a day (or stop at its failure) before the next one is finished.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.validation import gxbatch as gb
from ecom_tasks.validation import rowchecks
from ecom_tasks.validation.config import ValidationConfig
from ecom_tasks.validation.core import finish_report
from ecom_tasks.validation.duplicates import duplicate_counts
from ecom_tasks.validation.gxrun import BATCH_RESULT_FORMAT, GxGate, gate_for
from ecom_tasks.validation.history import HistoryDay
from ecom_tasks.validation.report import Outcome, TableReport, ValidationReport
from ecom_tasks.validation.suites import ITEM_IN_ITEMS, ITEM_REFS, Rule, all_rules, batch_name, run_parameters

Frames = Mapping[str, pd.DataFrame]


@functools.cache
def backlog_rules() -> tuple[tuple[Rule, Rule], ...]:
    """Every suite rule next to its backlog rewrite; raises ``BacklogRuleError`` if one has none."""
    return tuple((r, gb.backlog_rule(r)) for t in c.TABLES for r in all_rules()[t])


def batchable() -> bool:
    """Whether every suite rule can be checked over a backlog (else days are validated one by one)."""
    try:
        backlog_rules()
    except gb.BacklogRuleError:
        return False
    return True


def backlog_gate(root: str | None, config: ValidationConfig) -> GxGate:
    """The GE gate holding the backlog suites for ``root`` (cached per process)."""
    return gate_for(root, config, [new for _, new in backlog_rules()], BATCH_RESULT_FORMAT)


@dataclass
class StackedDays:
    """Several days' tables already end to end, as :func:`storage.read_partitions` reads them.

    ``frames[table]`` holds every day's rows in date order, with the contract's columns in its
    order and its dtypes (``RangeIndex``); ``sizes[table]`` is each day's row count.
    """

    frames: dict[str, pd.DataFrame]
    sizes: dict[str, list[int]]


class _Table:
    """One table of every day, end to end, with each row's day and its per-day parameters."""

    def __init__(
        self, table: str, frame: pd.DataFrame, sizes: Sequence[int], day_params: Sequence[dict[str, Any]]
    ) -> None:
        cols = c.columns(table)
        counts = np.asarray(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.frame = frame if list(frame.columns) == cols else frame[cols]
        self.codes = np.repeat(np.arange(len(counts)), counts)
        self.layout = gb.DayLayout(self.codes, len(counts))
        self.params = dict(day_params[0])
        for name in gb.PER_DAY_PARAMS:  # a row's bound is its own day's
            per_day = pd.DatetimeIndex([p[name] for p in day_params]).as_unit("us")
            self.params[name] = pd.Series(per_day.take(self.codes))

    @classmethod
    def of_days(cls, table: str, parts: list[pd.DataFrame], day_params: Sequence[dict[str, Any]]) -> _Table:
        frame = pd.concat([p[c.columns(table)] for p in parts], ignore_index=True)
        return cls(table, frame, [len(p) for p in parts], day_params)

    def rows(self, day: int) -> slice:
        return slice(int(self.offsets[day]), int(self.offsets[day + 1]))

    def ge_frame(self, names: pd.Index) -> pd.DataFrame:
        days = pd.Categorical.from_codes(self.codes, categories=names)
        return gb.with_helpers(self.frame, days, {p: self.params[p] for p in gb.PER_DAY_PARAMS})


def _quarantine_rules(table: str, batches: set[str]) -> list[Rule]:
    return [r for r in all_rules()[table] if r.batch in batches]


def _item_refs(events: _Table, items: _Table, items_bad: np.ndarray) -> pd.DataFrame:
    """Each event's item id and whether that item is among its own day's clean items."""
    ev_ids = events.frame[c.ITEM_ID]
    clean = ~items_bad
    both = pd.concat([ev_ids, items.frame[c.ITEM_ID][clean]], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    width = len(uniques) + 1
    ev_codes, it_codes = codes[: len(ev_ids)], codes[len(ev_ids) :]
    ev_keys = events.codes.astype(np.int64) * width + ev_codes
    it_keys = (items.codes[clean].astype(np.int64) * width + it_codes)[it_codes >= 0]
    known = np.isin(ev_keys, it_keys) & (ev_codes >= 0)
    return pd.DataFrame({c.ITEM_ID: ev_ids, ITEM_IN_ITEMS: known})


def validate_days(
    days: Sequence[dt.date],
    frames: MutableSequence[Frames] | StackedDays,
    config: ValidationConfig,
    history: Callable[[dt.date], Sequence[HistoryDay]],
    gate: GxGate | None = None,
    *,
    run_keys: list[Any] | None = None,
) -> Iterator[ValidationReport]:
    """Validate several days at once; yield each day's report in date order.

    Args:
        days: the days, oldest first.
        frames: each day's ``{table: frame}``, every table with the contract's columns in the
            contract's order and dtypes (other days are validated alone), or the days' tables
            already end to end (:class:`StackedDays`); consumed (emptied).
        config: thresholds.
        history: the trailing validated days of a day, asked for just before the day's report
            is finished, so it can include the days yielded before it.
        gate: the backlog GE gate (:func:`backlog_gate`); by default an in-memory one.
        run_keys: receives the keys of the stored GE results (to build Data Docs from later).
    """
    gate = gate or backlog_gate(None, config)
    day_params = [run_parameters(d, config) for d in days]
    names = pd.Index([d.isoformat() for d in days])
    if isinstance(frames, StackedDays):
        tables = {t: _Table(t, frames.frames.pop(t), frames.sizes[t], day_params) for t in c.TABLES}
    else:
        tables = {t: _Table.of_days(t, [f[t] for f in frames], day_params) for t in c.TABLES}
        frames.clear()  # the end-to-end copies replace the day frames
    ev, it, us = tables[c.EVENTS], tables[c.ITEMS], tables[c.USERS]
    masks = {
        t: rowchecks.row_masks(
            {t: tables[t].frame}, _quarantine_rules(t, {t}), tables[t].params, tables[t].codes
        )
        for t in (c.ITEMS, c.USERS)
    }
    items_bad = np.zeros(len(it.frame), dtype=bool)
    for mask in masks[c.ITEMS].values():
        items_bad |= mask
    refs_name = batch_name(c.EVENTS, ITEM_REFS)
    event_batches = {c.EVENTS: ev.frame, refs_name: _item_refs(ev, it, items_bad)}
    masks[c.EVENTS] = rowchecks.row_masks(
        event_batches, _quarantine_rules(c.EVENTS, set(event_batches)), ev.params, ev.codes
    )
    duplicates = duplicate_counts(ev.frame, ev.codes, len(days))
    daily = gb.daily_frame(list(names), ev.frame, ev.codes)
    batches = {
        gb.backlog_batch(c.EVENTS): ev.ge_frame(names),
        gb.backlog_batch(c.ITEMS): it.ge_frame(names),
        gb.backlog_batch(c.USERS): us.ge_frame(names),
        gb.backlog_batch(refs_name): event_batches[refs_name],
        gb.daily_batch(c.EVENTS): daily,
    }
    run_name = f"ds={names[0]}..{names[-1]}"
    results, keys = gate.run(
        run_name, days[-1], {b: f for b, f in batches.items() if b in gate.checkpoints}, day_params[0]
    )
    del batches
    if run_keys is not None:
        run_keys.extend(keys)
    outcomes = _split_results(results, tables, event_batches, daily, day_params[0])
    del results, event_batches
    # Converted to Arrow once: a day without quarantined rows writes a slice of it, and shares one
    # empty quarantine with every such day (splitting and converting each day cost ~6 ms a day).
    bulk = {t: storage.to_arrow(tab.frame) for t, tab in tables.items()}
    no_rows: dict[str, tuple[pd.DataFrame, pa.Table]] = {}
    for i, day in enumerate(days):
        reports = {}
        for t, tab in tables.items():
            rows = tab.rows(i)
            day_masks = {rid: m[rows] for rid, m in masks[t].items()}
            tr = TableReport(
                t, rows.stop - rows.start, reasons=rowchecks.reason_counts(day_masks), row_checks_ran=True
            )
            for outcome in outcomes[t]:
                o = outcome[i]
                if o.id in tr.reasons:
                    o.rows_quarantined = tr.reasons[o.id]
                tr.outcomes.append(o)
            if any(m.any() for m in day_masks.values()):
                tr.clean, tr.quarantined = rowchecks.split(tab.frame.iloc[rows], day_masks)
            else:  # the clean rows are the day's rows, in order
                if t not in no_rows:
                    empty = rowchecks.split(tab.frame.iloc[0:0], {})[1]
                    no_rows[t] = empty, storage.to_arrow(empty)
                tr.quarantined, tr.quarantined_arrow = no_rows[t]
                tr.clean = tab.frame.iloc[rows].reset_index(drop=True)
                tr.clean_arrow = bulk[t].slice(rows.start, rows.stop - rows.start)
            reports[t] = tr
        reports[c.EVENTS].duplicates = int(duplicates[i])
        report = ValidationReport(day, reports)
        finish_report(report, {}, dict.fromkeys(c.TABLES, True), config, history(day))
        yield report


def _split_results(
    results: Mapping[str, Any],
    tables: Mapping[str, _Table],
    event_batches: Mapping[str, pd.DataFrame],
    daily: pd.DataFrame,
    params: Mapping[str, Any],
) -> dict[str, list[list[Outcome]]]:
    """``{table: [per-day outcomes of each rule]}``, rules in the order a day's run lists them."""
    items = {}
    for result in results.values():
        for item in result.results:
            items[item.expectation_config.meta["rule"], item.expectation_config.meta["table"]] = item
    daily_layout = gb.DayLayout(np.arange(len(daily)), len(daily))
    out: dict[str, list[list[Outcome]]] = {t: [] for t in c.TABLES}
    order = list(c.TABLES) + [b for b in event_batches if b not in c.TABLES]  # as a day's run
    pairs = backlog_rules()
    for batch in order:
        for original, rewritten in pairs:
            if original.batch != batch:
                continue
            table = tables[original.table]
            frame = event_batches.get(batch, table.frame)
            layout = table.layout
            if rewritten.batch == gb.daily_batch(original.table):
                frame, layout = daily, daily_layout
            domain = None if original.when is None else rowchecks.condition_mask(frame, original.when)
            item = items[original.id, original.table]
            out[original.table].append(gb.split_outcomes(original, item, frame, layout, params, domain))
    return out
