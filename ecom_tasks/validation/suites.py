"""The expectation suites, read from the YAML files in ``suites/`` (one per table, kept readable).

A suite file lists rules; each rule is one Great Expectations expectation with a severity (see the
comment at the top of ``suites/events.yaml``). This module only parses and checks the files
against the data contract; :mod:`ecom_tasks.validation.gxrun` turns rules into GE expectations and
:mod:`ecom_tasks.validation.rowchecks` evaluates the row-level ones with pandas to pick the rows
to quarantine. Both read the same rule, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ecom_tasks import contract as c
from ecom_tasks.errors import ConfigError
from ecom_tasks.validation.config import SEVERITIES, ValidationConfig

SUITES_DIR = Path(__file__).with_name("suites")

ITEM_REFS = "item_refs"  # the batch of events' item ids with a flag "is it in items"
ITEM_IN_ITEMS = "item_in_items"  # that flag's column (not a contract column: it is computed here)
OPERATORS = ("<", "<=", ">", ">=", "==", "!=")
ROW_EXPECTATIONS = (
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_not_be_in_set",
    "expect_column_values_to_be_between",
)
_CONTRACT_VALUES = {"@columns": None, "@event_types": list(c.EVENT_TYPES)}  # None: the table's columns


@dataclass(frozen=True)
class Condition:
    """A row condition: the rule looks only at rows where ``column op value`` holds."""

    column: str
    op: str
    value: Any


@dataclass(frozen=True)
class Rule:
    """One expectation of a suite.

    Attributes:
        id: unique within the table; per-column rules are ``{rule}.{column}``. It is the
            quarantine ``reason`` of the rows that fail it.
        table: the canonical table the rule is about.
        batch: the Great Expectations batch (and suite) name it runs in.
        expectation: the GE expectation type, snake case.
        kwargs: the expectation's arguments; ``"$name"`` strings are run parameters.
        severity: ``critical``, ``quarantine`` or ``warning``.
        column: the column the rule is about, if any.
        when: an optional row condition.
        notes: why the rule exists, shown in Data Docs.
    """

    id: str
    table: str
    batch: str
    expectation: str
    kwargs: Mapping[str, Any]
    severity: str
    column: str | None = None
    when: Condition | None = None
    notes: str = ""

    @property
    def row_level(self) -> bool:
        """Whether failing rows can be singled out (and so quarantined)."""
        return self.expectation in ROW_EXPECTATIONS


def batch_name(table: str, batch: str | None) -> str:
    """The GE batch/suite name of a rule: the table, or ``{table}_{batch}`` for a derived batch."""
    return table if not batch else f"{table}_{batch}"


def _fail(table: str, rule_id: str, problem: str) -> ConfigError:
    return ConfigError(f"{SUITES_DIR / (table + '.yaml')}: rule {rule_id!r}: {problem}")


def _resolve(table: str, value: Any) -> Any:
    if isinstance(value, str) and value in _CONTRACT_VALUES:
        resolved = _CONTRACT_VALUES[value]
        return c.columns(table) if resolved is None else list(resolved)
    return value


def _check_columns(table: str, rule_id: str, raw: Mapping[str, Any], kwargs: Mapping[str, Any]) -> None:
    known = set(c.columns(table))
    named = [kwargs.get("column"), (raw.get("when") or {}).get("column")]
    for col in named:
        if (
            col is not None
            and col not in known
            and not (raw.get("batch") == ITEM_REFS and col == ITEM_IN_ITEMS)
        ):
            raise _fail(table, rule_id, f"column {col!r} is not a column of {table} in the contract")
    when = raw.get("when") or {}
    values = list(kwargs.get("value_set") or []) if kwargs.get("column") == c.EVENT_TYPE else []
    values += [when.get("value")] if when.get("column") == c.EVENT_TYPE else []
    if values:
        unknown = [v for v in values if v not in c.EVENT_TYPES]
        if unknown:
            raise _fail(table, rule_id, f"event type(s) {unknown} are not in {list(c.EVENT_TYPES)}")


def _expand(table: str, raw: Mapping[str, Any]) -> list[Rule]:
    rule_id = str(raw.get("id", ""))
    if not rule_id:
        raise _fail(table, "?", "has no id")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise _fail(table, rule_id, f"severity {severity!r} is not one of {list(SEVERITIES)}")
    kwargs = {k: _resolve(table, v) for k, v in dict(raw.get("kwargs") or {}).items()}
    when = raw.get("when")
    condition = None
    if when is not None:
        if set(when) != {"column", "op", "value"} or when["op"] not in OPERATORS:
            raise _fail(table, rule_id, f"when must be {{column, op, value}} with op in {OPERATORS}")
        condition = Condition(str(when["column"]), str(when["op"]), when["value"])
    _check_columns(table, rule_id, raw, kwargs)
    common = {
        "table": table,
        "batch": batch_name(table, raw.get("batch")),
        "expectation": str(raw.get("expectation", "")),
        "severity": str(severity),
        "when": condition,
        "notes": " ".join(str(raw.get("notes", "")).split()),
    }
    each = raw.get("for_each")
    if each is None:
        return [Rule(id=rule_id, kwargs=kwargs, column=kwargs.get("column"), **common)]
    if each not in ("column", "required_column"):
        raise _fail(table, rule_id, f"for_each {each!r} must be 'column' or 'required_column'")
    rules = []
    for col in c.SCHEMAS[table]:
        if each == "required_column" and col.nullable:
            continue
        col_kwargs = {"column": col.name, **kwargs}
        if common["expectation"] == "expect_column_type_to_be":
            col_kwargs["type_"] = col.dtype
        rules.append(Rule(id=f"{rule_id}.{col.name}", kwargs=col_kwargs, column=col.name, **common))
    return rules


@functools.cache
def load_rules(table: str) -> tuple[Rule, ...]:
    """The rules of ``table`` as written in ``suites/{table}.yaml``, per-column rules expanded.

    Raises :class:`ConfigError` naming the file and rule when a rule is malformed or names a
    column or event type the contract does not have.
    """
    path = SUITES_DIR / f"{table}.yaml"
    if table not in c.TABLES or not path.is_file():
        raise ConfigError(f"no expectation suite for table {table!r} (looked for {path})")
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("table") != table or not isinstance(doc.get("rules"), list):
        raise ConfigError(f"{path}: expected a mapping with 'table: {table}' and a list of 'rules'")
    rules = [rule for raw in doc["rules"] for rule in _expand(table, raw)]
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{path}: duplicate rule id(s) {dupes}")
    return tuple(rules)


def all_rules() -> dict[str, tuple[Rule, ...]]:
    """``{table: rules}`` for every canonical table."""
    return {table: load_rules(table) for table in c.TABLES}


def run_parameters(ds: dt.date, config: ValidationConfig) -> dict[str, Any]:
    """The values of the ``$name`` parameters for the day ``ds``."""
    start = pd.Timestamp(ds, tz="UTC")
    return {
        "interval_start_with_tolerance": start - pd.Timedelta(minutes=config.ts_tolerance_minutes),
        "interval_end": start + pd.Timedelta(days=1),
        "warn_identified_share": round(1.0 - config.warn_anonymous_share, 12),
        "min_identified_share": round(1.0 - config.max_anonymous_share, 12),
    }


def resolve_parameters(kwargs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` with every ``"$name"`` replaced by its value from ``params``."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, str) and value.startswith("$"):
            try:
                value = params[value[1:]]
            except KeyError:
                raise ConfigError(f"suite parameter {value!r} has no value") from None
        out[key] = value
    return out
