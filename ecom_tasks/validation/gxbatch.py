"""Great Expectations over a backlog: the suites rewritten to check many days in one run, and
the run's results split back into one outcome per rule and day.

GE's cost is a fixed ~20 ms per expectation and run, whatever the rows, so a backlog of days is
checked as one batch per table: the days' rows one after another, with a day column and each
row's own day interval beside them. The suites are rewritten for that batch (:func:`backlog_rule`):

- an interval bound (``$interval_end``) becomes a comparison with the row's own bound column;
- uniqueness holds within a day: a compound key of (day, column);
- the table's columns are the contract's plus the helper columns;
- a table-level figure (row count, share of non-null values) becomes a column of a small derived
  batch with one row per day (``{table}_daily``), checked row by row.

GE returns the failing rows of each rule (``unexpected_index_list``); :func:`split_outcomes` counts
them per day and builds the same :class:`Outcome` that validating that day alone would give (the
equivalence is a test). Rules that cannot be rewritten (an expectation or argument not handled
here) make the backlog fall back to day-by-day validation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.validation.gxrun import outcomes
from ecom_tasks.validation.report import Outcome, jsonable
from ecom_tasks.validation.suites import ROW_EXPECTATIONS, Rule, resolve_parameters

DAY = "_day"  # helper column: the row's day (ISO date, categorical)
ROWS = "_rows"  # daily batch: the day's row count
PER_DAY_PARAMS = ("interval_start_with_tolerance", "interval_end")  # the rest are the same every day
SUFFIX = "_backlog"  # backlog suites, results and Data Docs pages are named apart from the day ones
DAILY = "daily"

SCHEMA_EXPECTATIONS = ("expect_table_columns_to_match_set", "expect_column_type_to_be")
AGGREGATES = {
    "expect_table_row_count_to_be_between": lambda kw: ROWS,
    "expect_column_proportion_of_non_null_values_to_be_between": lambda kw: non_null_column(kw["column"]),
}
_BOUND_KEYS = ("min_value", "max_value", "strict_min", "strict_max")


class BacklogRuleError(ValueError):
    """A rule the backlog rewrite does not handle: validate day by day instead."""


def bound_column(param: str) -> str:
    """The helper column holding each row's value of the per-day parameter ``param``."""
    return f"_{param}"


def non_null_column(column: str) -> str:
    """The daily batch's column holding the day's share of non-null ``column`` values."""
    return f"_non_null_proportion_{column}"


HELPERS = (DAY, *(bound_column(p) for p in PER_DAY_PARAMS))


def backlog_batch(batch: str) -> str:
    return f"{batch}{SUFFIX}"


def daily_batch(table: str) -> str:
    return f"{table}_{DAILY}{SUFFIX}"


def _per_day(value: Any) -> str | None:
    name = value[1:] if isinstance(value, str) and value.startswith("$") else None
    return name if name in PER_DAY_PARAMS else None


def backlog_rule(rule: Rule) -> Rule:
    """``rule`` rewritten for a batch of many days (same id, table, severity and notes).

    Raises:
        BacklogRuleError: for an expectation or argument the rewrite does not handle.
    """
    kw = dict(rule.kwargs)
    kind = rule.expectation
    if "mostly" in kw:  # a share of a whole batch is not a share of each day
        raise BacklogRuleError(f"{rule.table}.{rule.id}: 'mostly' is not supported over a backlog")
    per_day = {k: p for k in ("min_value", "max_value") if (p := _per_day(kw.get(k)))}
    if kind in AGGREGATES:
        if per_day:
            raise BacklogRuleError(f"{rule.table}.{rule.id}: a per-day bound on a table-level figure")
        bounds = {k: kw[k] for k in _BOUND_KEYS if k in kw}
        new_kw = {"column": AGGREGATES[kind](kw), **bounds}
        return dataclasses.replace(
            rule,
            batch=daily_batch(rule.table),
            expectation="expect_column_values_to_be_between",
            kwargs=new_kw,
        )
    if kind in SCHEMA_EXPECTATIONS:
        if kind == "expect_table_columns_to_match_set":
            kw["column_set"] = [*kw["column_set"], *HELPERS]
        return dataclasses.replace(rule, batch=backlog_batch(rule.batch), kwargs=kw)
    if kind not in ROW_EXPECTATIONS:
        raise BacklogRuleError(f"{rule.table}.{rule.id}: {kind} is not supported over a backlog")
    if kind == "expect_column_values_to_be_unique":
        kind = "expect_compound_columns_to_be_unique"
        kw = {"column_list": [DAY, kw["column"]], "ignore_row_if": "any_value_is_missing"}
    elif per_day:
        if len(per_day) > 1 or {"min_value", "max_value"} <= set(kw):
            raise BacklogRuleError(f"{rule.table}.{rule.id}: only one per-day bound is supported")
        (side, param), column = next(iter(per_day.items())), kw["column"]
        strict = bool(kw.get("strict_min" if side == "min_value" else "strict_max"))
        a, b = (column, bound_column(param)) if side == "min_value" else (bound_column(param), column)
        kind = "expect_column_pair_values_a_to_be_greater_than_b"
        kw = {
            "column_A": a,
            "column_B": b,
            "or_equal": not strict,
            "ignore_row_if": "either_value_is_missing",
        }
    return dataclasses.replace(rule, batch=backlog_batch(rule.batch), expectation=kind, kwargs=kw)


def with_helpers(frame: pd.DataFrame, days: pd.Categorical, bounds: Mapping[str, pd.Series]) -> pd.DataFrame:
    """``frame`` (several days, canonical columns) with the day and per-day bound columns added."""
    return frame.assign(**{DAY: days}, **{bound_column(p): s for p, s in bounds.items()})


def daily_frame(day_names: Sequence[str], events: pd.DataFrame, codes: np.ndarray) -> pd.DataFrame:
    """One row per day: its row count and the share of non-null values of every events column.

    The share is ``non-null / rows`` as GE computes it (0 on a day without rows, as in GE).
    """
    m = len(day_names)
    rows = np.bincount(codes, minlength=m)
    out = {DAY: list(day_names), ROWS: rows}
    for col in c.columns(c.EVENTS):
        nonnull = np.bincount(codes, weights=events[col].notna().to_numpy(), minlength=m)
        out[non_null_column(col)] = np.where(rows > 0, nonnull / np.maximum(rows, 1), 0.0)
    return pd.DataFrame(out)


@dataclasses.dataclass
class DayLayout:
    """Where each day's rows sit in a batch frame: ``codes[i]`` is row i's day (0 = first day)."""

    codes: np.ndarray
    n_days: int

    def per_day(self, positions: np.ndarray) -> list[np.ndarray]:
        """``positions`` (ascending row numbers) grouped by day."""
        days = self.codes[positions]
        cuts = np.searchsorted(days, np.arange(1, self.n_days))
        return np.split(positions, cuts)


def split_outcomes(
    original: Rule,
    result: Any,
    frame: pd.DataFrame,
    layout: DayLayout,
    params: Mapping[str, Any],
    domain: np.ndarray | None,
) -> list[Outcome]:
    """One outcome per day for ``original`` from the GE result of its rewritten rule.

    Args:
        original: the rule as the day's suite has it (its id, expectation and arguments).
        result: GE's result of the rewritten rule (one item of the batch's suite result).
        frame: the batch frame the rule ran on; for a daily rule, the daily frame.
        layout: the day of each row of ``frame``.
        params: the run parameters of a day (their per-day values are not used here).
        domain: rows a conditional rule looks at (its ``when``); ``None``: every row.
    """
    (whole,) = outcomes(_ResultView(result), {original.id: original}).values()
    n = layout.n_days
    kind = original.expectation
    if kind in SCHEMA_EXPECTATIONS or whole.detail.startswith("could not be evaluated"):
        if not whole.success and kind in SCHEMA_EXPECTATIONS:
            raise RuntimeError(
                f"backlog layout check {original.table}.{original.id} failed: {whole.describe()}"
            )
        observed = (
            sorted(c.columns(original.table))
            if kind == "expect_table_columns_to_match_set"
            else whole.observed
        )
        return [dataclasses.replace(whole, observed=jsonable(observed)) for _ in range(n)]
    res = dict(result.result or {})
    failing = layout.per_day(np.sort(np.asarray(res.get("unexpected_index_list") or [], dtype=np.int64)))
    if kind in AGGREGATES:
        column = frame[AGGREGATES[kind](dict(original.kwargs))]
        kw = resolve_parameters(original.kwargs, params)
        bounds = [f"{k} {jsonable(kw[k])}" for k in ("min_value", "max_value") if kw.get(k) is not None]
        expected = f"expected {', '.join(bounds)}" if bounds else ""
        rows_of_day = frame[ROWS].to_numpy()
        out = []
        for day in range(n):
            value = column.iloc[day]
            ok = len(failing[day]) == 0
            detail = "" if ok else ": ".join(p for p in (expected, original.notes) if p)
            if pd.isna(value):
                observed = None
            elif kind == "expect_table_row_count_to_be_between" or not rows_of_day[day]:
                observed = int(value)  # GE: a count, or 0 (an int) for the share of no rows
            else:
                observed = float(value)
            out.append(
                dataclasses.replace(
                    whole,
                    success=ok,
                    observed=observed,
                    detail=detail,
                    unexpected_count=None,  # a table-level figure: GE reports no row counts
                    element_count=None,
                )
            )
        return out
    in_domain = np.ones(len(frame), dtype=bool) if domain is None else domain
    elements = np.bincount(layout.codes[in_domain], minlength=n)
    values = frame[original.column] if original.column is not None else None
    out = []
    for day in range(n):
        rows = failing[day]
        observed = None
        if len(rows) and values is not None:
            observed = [str(v) for v in values.iloc[rows[:3]].tolist()]
        out.append(
            dataclasses.replace(
                whole,
                success=not len(rows),
                observed=jsonable(observed),
                unexpected_count=len(rows),
                element_count=int(elements[day]),
                detail="" if not len(rows) else original.notes,
            )
        )
    return out


class _ResultView:
    """A suite-result look-alike holding one expectation result, for :func:`outcomes`."""

    def __init__(self, item: Any) -> None:
        self.results = [item]
