"""The pure core on inline frames: GE and the pandas row checks agree; nothing is written."""

from __future__ import annotations

import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.validation import QUARANTINE, ValidationConfig, validate_frames
from tests.validation.shop import DS, events_frame, items_frame, users_frame


def _dirty_events() -> pd.DataFrame:
    ev = events_frame()
    ev.loc[1, c.QUANTITY] = 0
    ev.loc[2, c.QUANTITY] = -3  # a cart with a negative quantity
    ev.loc[19, c.QUANTITY] = 4  # a return with a positive quantity
    ev.loc[4, c.UNIT_PRICE] = -2.0
    ev.loc[5, c.SESSION_ID] = pd.NA
    ev.loc[6, c.ITEM_ID] = "ghost"
    return ev


def test_great_expectations_and_row_checks_count_the_same_rows():
    report = validate_frames(
        _dirty_events(), items_frame(), users_frame(), DS, config=ValidationConfig(max_quarantine_share=0.2)
    )
    events = report.tables[c.EVENTS]
    assert events.rows_quarantined == 6 and events.rows_clean == 94
    by_id = {o.id: o for o in events.outcomes}
    for rule_id, count in events.reasons.items():
        assert by_id[rule_id].unexpected_count == count, rule_id  # no duplicates here, so equal
        assert by_id[rule_id].success == (count == 0)
    assert {o.severity for o in events.outcomes if not o.success} == {QUARANTINE}
    assert report.passed and report.status == "passed_with_warnings"
    assert report.gx_results[c.EVENTS].success is False  # GE's own verdict, for Data Docs


def test_broken_layout_skips_row_checks_and_fails():
    events = events_frame().rename(columns={c.TS: "timestamp"})
    report = validate_frames(events, items_frame(), users_frame(), DS)
    assert not report.passed and not report.tables[c.EVENTS].row_checks_ran
    assert any("columns_match_contract" in line and "missing ['ts']" in line for line in report.critical)
    assert report.metrics == {} and report.history == []


def test_inputs_are_left_as_they_were():
    frames = (_dirty_events(), items_frame(), users_frame())
    copies = [f.copy() for f in frames]
    validate_frames(*frames, DS)
    for frame, copy in zip(frames, copies, strict=True):
        pd.testing.assert_frame_equal(frame, copy)
