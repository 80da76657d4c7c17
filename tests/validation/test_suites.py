"""The YAML suites: readable, consistent with the contract, and buildable as GE suites."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks.errors import ConfigError
from ecom_tasks.validation import CRITICAL, QUARANTINE, ValidationConfig, load_rules
from ecom_tasks.validation import suites as s
from ecom_tasks.validation.rowchecks import rule_mask
from tests.validation.shop import events_frame


def test_every_table_has_a_suite_with_schema_rules_from_the_contract():
    for table in c.TABLES:
        rules = {r.id: r for r in load_rules(table)}
        assert rules["columns_match_contract"].severity == CRITICAL
        assert rules["columns_match_contract"].kwargs["column_set"] == c.columns(table)
        for col in c.SCHEMAS[table]:
            assert rules[f"type.{col.name}"].kwargs == {"column": col.name, "type_": col.dtype}
            assert (f"not_null.{col.name}" in rules) == (not col.nullable)


def test_quarantine_rules_are_row_level_and_evaluable():
    params = s.run_parameters(dt.date(2024, 3, 10), ValidationConfig())
    frame = events_frame()
    for rule in load_rules(c.EVENTS):
        if rule.severity == QUARANTINE:
            assert rule.row_level, rule.id
            if rule.batch == c.EVENTS:
                assert not rule_mask(frame, rule, params).any(), rule.id


def test_every_rule_builds_a_great_expectations_expectation():
    from ecom_tasks.validation.gxrun import _expectation

    for table in c.TABLES:
        for rule in load_rules(table):
            exp = _expectation(rule)
            assert exp.meta["rule"] == rule.id
            assert exp.meta["severity"] == rule.severity


def test_malformed_rules_are_refused_with_the_rule_named():
    with pytest.raises(ConfigError, match=r"rule 'x'.*severity"):
        s._expand(
            c.EVENTS, {"id": "x", "expectation": "expect_column_values_to_not_be_null", "severity": "bad"}
        )
    with pytest.raises(ConfigError, match=r"rule 'y'.*'price' is not a column of events"):
        s._expand(
            c.EVENTS,
            {"id": "y", "expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "price"},
             "severity": "warning"},
        )  # fmt: skip
    with pytest.raises(ConfigError, match="event type"):
        s._expand(
            c.EVENTS,
            {"id": "z", "expectation": "expect_column_values_to_be_in_set",
             "kwargs": {"column": c.EVENT_TYPE, "value_set": ["click"]}, "severity": "quarantine"},
        )  # fmt: skip


def test_run_parameters_follow_the_day_and_the_config():
    params = s.run_parameters(dt.date(2024, 3, 10), ValidationConfig(ts_tolerance_minutes=10))
    assert params["interval_end"] == pd.Timestamp("2024-03-11", tz="UTC")
    assert params["interval_start_with_tolerance"] == pd.Timestamp("2024-03-09 23:50", tz="UTC")
    assert params["min_identified_share"] == pytest.approx(0.1)
