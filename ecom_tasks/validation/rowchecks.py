"""Row-level checks with pandas: which rows break which rule, and the clean/quarantine split.

Great Expectations says how many rows break a rule; this module says which ones, by evaluating
the same rule definitions (:class:`~ecom_tasks.validation.suites.Rule`) as boolean masks, one
vectorised pass per rule and no copy of the frame until the final split. The semantics follow GE's
column-map expectations: missing values are not "unexpected" except for the not-null rule, and a
``when`` condition limits a rule to the rows where it holds. One deliberate difference: for
``expect_column_values_to_be_unique`` GE counts every copy of a repeated value, while the
quarantine keeps the first copy and moves only the extra ones.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.validation.config import QUARANTINE
from ecom_tasks.validation.suites import ITEM_IN_ITEMS, Condition, Rule, resolve_parameters

REASON = "reason"  # the quarantine column naming the rule(s) a row broke, ";"-separated
_OPS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _bools(values: pd.Series | np.ndarray) -> np.ndarray:
    """A plain numpy bool array; missing (NA) counts as False."""
    if isinstance(values, np.ndarray):
        return values.astype(bool, copy=False)
    return values.to_numpy(dtype=bool, na_value=False)


def condition_mask(df: pd.DataFrame, cond: Condition) -> np.ndarray:
    """Rows where ``cond`` holds (a missing value never satisfies it)."""
    return _bools(_OPS[cond.op](df[cond.column], cond.value))


def _repeated(col: pd.Series, groups: np.ndarray | None) -> np.ndarray:
    """Rows whose value already appeared earlier (in the same group, when groups are given)."""
    if groups is None:
        return _bools(col.duplicated(keep="first"))
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    # one integer key per (group, value): a duplicate of the key is a repeat within the group
    keys = groups.astype(np.int64) * (len(uniques) + 1) + codes
    return _bools(pd.Series(keys).duplicated(keep="first"))


def rule_mask(
    df: pd.DataFrame, rule: Rule, params: Mapping[str, Any], groups: np.ndarray | None = None
) -> np.ndarray:
    """Rows of ``df`` that break ``rule`` (a row-level rule); True means the row fails.

    ``df`` may hold several days at once (a backlog): then ``groups`` gives each row's day (an
    integer code), uniqueness holds within a day, and a parameter may be an array with one value
    per row (the row's own day interval).
    """
    kw = resolve_parameters(rule.kwargs, params)
    col = df[kw["column"]]
    kind = rule.expectation
    if kind == "expect_column_values_to_not_be_null":
        bad = _bools(col.isna())
    elif kind == "expect_column_values_to_be_unique":
        bad = _repeated(col, groups) & _bools(col.notna())
    elif kind == "expect_column_values_to_be_in_set":
        bad = _bools(col.notna()) & ~_bools(col.isin(kw["value_set"]))
    elif kind == "expect_column_values_to_not_be_in_set":
        bad = _bools(col.isin(kw["value_set"]))
    elif kind == "expect_column_values_to_be_between":
        bad = np.zeros(len(df), dtype=bool)
        if kw.get("min_value") is not None:
            below = operator.le if kw.get("strict_min") else operator.lt
            bad |= _bools(below(col, kw["min_value"]))
        if kw.get("max_value") is not None:
            above = operator.ge if kw.get("strict_max") else operator.gt
            bad |= _bools(above(col, kw["max_value"]))
    else:
        raise ValueError(f"rule {rule.id!r}: {kind} is not a row-level expectation")
    if rule.when is not None:
        bad &= condition_mask(df, rule.when)
    return bad


def item_refs(events: pd.DataFrame, known_items: pd.Series) -> pd.DataFrame:
    """The events' ``item_id`` next to a flag saying whether the item is in ``known_items``.

    Great Expectations cannot compare two pandas batches, so the membership is computed here
    (one hash lookup per event) and GE checks the flag; rows align with ``events``.
    """
    ids = events[c.ITEM_ID]
    return pd.DataFrame(
        {c.ITEM_ID: ids, ITEM_IN_ITEMS: _bools(ids.isin(known_items.dropna()))}, index=events.index
    )


def row_masks(
    frames: Mapping[str, pd.DataFrame],
    rules: Sequence[Rule],
    params: Mapping[str, Any],
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """``{rule id: failing rows}`` for every quarantine rule; ``frames`` maps batch name to frame.

    ``groups``: each row's day, when the frames hold several days (rows aligned across frames).
    """
    return {
        rule.id: rule_mask(frames[rule.batch], rule, params, groups)
        for rule in rules
        if rule.severity == QUARANTINE and rule.row_level
    }


def split(df: pd.DataFrame, masks: Mapping[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``df`` into its clean rows and its quarantined rows (with a ``reason`` column).

    A row that breaks several rules is quarantined once, its reasons joined with ``;`` in rule order.
    """
    bad = np.zeros(len(df), dtype=bool)
    for mask in masks.values():
        bad |= mask
    if not bad.any():
        quarantined = df.iloc[0:0].assign(**{REASON: pd.Series([], dtype=c.STRING_DTYPE)})
        return df.reset_index(drop=True), quarantined.reset_index(drop=True)
    rows = np.flatnonzero(bad)
    reasons = pd.Series("", index=range(len(rows)), dtype=object)
    for rule_id, mask in masks.items():
        hit = mask[rows]
        if hit.any():
            reasons[hit] = reasons[hit] + ";" + rule_id
    quarantined = df.iloc[rows].reset_index(drop=True)
    quarantined[REASON] = reasons.str.slice(1).astype(c.STRING_DTYPE)
    return df.iloc[np.flatnonzero(~bad)].reset_index(drop=True), quarantined


def reason_counts(masks: Mapping[str, np.ndarray]) -> dict[str, int]:
    """Rows failing each rule (a row may count under several rules)."""
    return {rule_id: int(mask.sum()) for rule_id, mask in masks.items()}
