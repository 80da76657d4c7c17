"""Row-level masks and the clean/quarantine split, on inline frames (no Great Expectations)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.validation import REASON, ValidationConfig, load_rules
from ecom_tasks.validation import rowchecks as rc
from ecom_tasks.validation.suites import run_parameters
from tests.validation.shop import events_frame, items_frame

PARAMS = run_parameters(dt.date(2024, 3, 10), ValidationConfig())


def _masks(events: pd.DataFrame, items: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
    refs = rc.item_refs(events, (items if items is not None else items_frame())[c.ITEM_ID])
    return rc.row_masks({c.EVENTS: events, "events_item_refs": refs}, load_rules(c.EVENTS), PARAMS)


def test_clean_frame_has_no_failing_rows():
    masks = _masks(events_frame(n=5))
    assert not any(m.any() for m in masks.values())
    clean, quarantined = rc.split(events_frame(n=5), masks)
    assert len(clean) == 5 and len(quarantined) == 0 and REASON in quarantined.columns


def test_duplicates_keep_the_first_copy():
    ev = events_frame(n=6)
    ev.loc[[2, 4], c.EVENT_ID] = ev.loc[1, c.EVENT_ID]
    masks = _masks(ev)
    assert masks["event_id_unique"].tolist() == [False, False, True, False, True, False]


def test_quantity_sign_rules_follow_the_event_type():
    ev = events_frame(n=6)
    ev.loc[0, c.QUANTITY] = -2  # a view with a negative quantity
    ev.loc[1, c.QUANTITY] = 0
    ev.loc[3, [c.EVENT_TYPE, c.QUANTITY]] = [c.RETURN, 2]  # a return with a positive quantity
    masks = _masks(ev)
    assert np.flatnonzero(masks["negative_quantity_only_for_returns"]).tolist() == [0]
    assert np.flatnonzero(masks["quantity_not_zero"]).tolist() == [1]
    assert np.flatnonzero(masks["returns_have_negative_quantity"]).tolist() == [3]


def test_interval_bounds_with_tolerance():
    ev = events_frame(n=5)
    start = pd.Timestamp("2024-03-10", tz="UTC")
    minutes = [-4, -6, 0, 24 * 60, 24 * 60 - 1e-6]
    ev[c.TS] = (start + pd.to_timedelta(minutes, unit="min")).astype(c.TS_DTYPE)
    masks = _masks(ev)
    assert masks["ts_not_before_interval"].tolist() == [False, True, False, False, False]
    assert masks["ts_not_in_future"].tolist() == [False, False, False, True, False]


def test_nulls_and_unknown_values():
    ev = events_frame(n=5)
    ev.loc[0, c.SESSION_ID] = pd.NA
    ev.loc[1, c.EVENT_TYPE] = "click"
    ev.loc[2, c.ITEM_ID] = "nope"
    ev.loc[3, c.UNIT_PRICE] = -0.01
    masks = _masks(ev)
    assert np.flatnonzero(masks["not_null.session_id"]).tolist() == [0]
    assert np.flatnonzero(masks["event_type_in_set"]).tolist() == [1]
    assert np.flatnonzero(masks["item_id_known"]).tolist() == [2]
    assert np.flatnonzero(masks["unit_price_not_negative"]).tolist() == [3]


def test_split_joins_reasons_and_never_touches_the_input():
    ev = events_frame(n=5)
    ev.loc[1, c.UNIT_PRICE] = -1.0
    ev.loc[1, c.ITEM_ID] = "nope"
    before = ev.copy()
    clean, quarantined = rc.split(ev, _masks(ev))
    pd.testing.assert_frame_equal(ev, before)
    assert len(clean) == 4 and list(clean.columns) == c.columns(c.EVENTS)
    assert quarantined[REASON].tolist() == ["unit_price_not_negative;item_id_known"]
    assert quarantined[c.EVENT_ID].tolist() == [before.loc[1, c.EVENT_ID]]
