"""The validation task on raw partitions: each bad input of the issue, a clean day, and reruns.

Every case lands a small day with ``storage.write_partition`` into the ``data_root`` fixture,
runs :func:`validate_partition` and checks the outcome (a failure naming the expectation, a
warning, or an exact quarantined count) and that the raw partitions are byte-for-byte unchanged.
Data Docs are switched off except where they are the point: rendering them costs a second a day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.validation import REASON, ValidationConfig, ValidationFailed, summary_uri, validate_partition
from tests.validation.shop import DS, day_before, events_frame, raw_fingerprint, write_day

FAST = ValidationConfig(data_docs=False)


def _validated(root: str, table: str = c.EVENTS, ds: str = DS) -> storage.Manifest | None:
    return storage.read_manifest(storage.partition_uri(root, "validated", table, ds))


def _quarantine(root: str, table: str = c.EVENTS, ds: str = DS) -> pd.DataFrame:
    return storage.read_partition(storage.partition_uri(root, "quarantine", table, ds))


def _expect_failure(root: str, match: str, config: ValidationConfig = FAST) -> ValidationFailed:
    before = raw_fingerprint(root)
    with pytest.raises(ValidationFailed, match=match) as info:
        validate_partition(root, DS, config)
    assert raw_fingerprint(root) == before
    assert all(_validated(root, t) is None for t in c.TABLES)  # nothing downstream can read the day
    summary = storage.read_json(summary_uri(root, DS))
    assert summary["status"] == "failed" and summary["critical_failures"]
    return info.value


def _expect_quarantine(root: str, reason: str, count: int) -> dict:
    before = raw_fingerprint(root)
    out = validate_partition(root, DS, FAST)
    assert raw_fingerprint(root) == before
    quarantined = _quarantine(root)
    assert quarantined[REASON].str.contains(reason).sum() == count
    assert out["rows"][c.EVENTS] == {
        "in": 100,
        "clean": 100 - len(quarantined),
        "quarantined": len(quarantined),
    }
    assert _validated(root).row_count == 100 - len(quarantined)
    summary = storage.read_json(summary_uri(root, DS))
    assert summary["tables"][c.EVENTS]["quarantine_reasons"][reason] == count
    assert any(f"{count} row(s) quarantined by {reason}" in w for w in out["warnings"])
    return summary


def test_clean_day_passes_and_publishes_everything(data_root):
    write_day(data_root)
    before = raw_fingerprint(data_root)
    out = validate_partition(data_root, DS)
    assert out["status"] == "passed" and out["warnings"] == []
    assert raw_fingerprint(data_root) == before
    for table, n in ((c.EVENTS, 100), (c.ITEMS, 10), (c.USERS, 10)):
        assert _validated(data_root, table).row_count == n
        assert len(_quarantine(data_root, table)) == 0  # written empty, so a rerun replaces stale rows
    summary = storage.read_json(out["summary_uri"])
    events = summary["tables"][c.EVENTS]
    assert events["rows_in"] == 100 and events["passed"]
    assert {e["id"] for e in events["expectations"]} >= {
        "columns_match_contract",
        "event_id_unique",
        "item_id_known",
    }
    assert summary["metrics"]["rows"] == 100
    docs = Path(out["data_docs"].removeprefix("file://"))
    assert docs.is_file() and "events" in docs.read_text()
    results = list(Path(data_root, "validation", "gx_results").rglob("*.json"))
    assert len(results) == 4  # events, events_item_refs, items, users


def test_missing_column_fails(data_root):
    write_day(data_root, events=events_frame().drop(columns=[c.UNIT_PRICE]))
    err = _expect_failure(data_root, "events: columns_match_contract")
    assert "expect_table_columns_to_match_set" in str(err) and "missing ['unit_price']" in str(err)


def test_extra_column_fails(data_root):
    write_day(data_root, events=events_frame().assign(coupon="SPRING"))
    err = _expect_failure(data_root, "events: columns_match_contract")
    assert "unexpected ['coupon']" in str(err)


def test_wrong_dtype_fails(data_root):
    write_day(data_root, events=events_frame().astype({c.QUANTITY: "float64"}))
    err = _expect_failure(
        data_root, r"events: type.quantity \(expect_column_type_to_be\) failed: observed float64"
    )
    assert len(err.failures) == 1


def test_null_user_ids_above_the_threshold_fail(data_root):
    events = events_frame()
    events.loc[5:, c.USER_ID] = pd.NA  # 95% anonymous
    write_day(data_root, events=events)
    _expect_failure(data_root, r"events: anonymous_share_max .* observed 0.05 \(expected min_value 0.1\)")


def test_many_anonymous_events_warn(data_root):
    events = events_frame()
    events.loc[40:, c.USER_ID] = pd.NA  # 60% anonymous: unusual, not broken
    write_day(data_root, events=events)
    out = validate_partition(data_root, DS, FAST)
    assert out["status"] == "passed_with_warnings"
    assert any("anonymous_share_high" in w for w in out["warnings"])


def test_duplicate_event_ids_quarantine_the_extra_copies(data_root):
    events = events_frame()
    events.loc[[11, 12], c.EVENT_ID] = events.loc[10, c.EVENT_ID]
    write_day(data_root, events=events)
    summary = _expect_quarantine(data_root, "event_id_unique", 2)
    rule = next(e for e in summary["tables"][c.EVENTS]["expectations"] if e["id"] == "event_id_unique")
    assert rule["unexpected_count"] == 3 and rule["rows_quarantined"] == 2  # GE counts every copy
    kept = storage.read_partition(storage.partition_uri(data_root, "validated", c.EVENTS, DS))
    assert (kept[c.EVENT_ID] == events.loc[10, c.EVENT_ID]).sum() == 1


def test_negative_prices_are_quarantined(data_root):
    events = events_frame()
    events.loc[[3, 8, 13], c.UNIT_PRICE] = -1.0
    write_day(data_root, events=events)
    _expect_quarantine(data_root, "unit_price_not_negative", 3)


def test_unknown_event_type_is_quarantined(data_root):
    events = events_frame()
    events.loc[[5, 6], c.EVENT_TYPE] = "click"
    write_day(data_root, events=events)
    _expect_quarantine(data_root, "event_type_in_set", 2)


def test_timestamps_outside_the_interval_are_quarantined(data_root):
    events = events_frame()
    start = pd.Timestamp(DS, tz="UTC")
    events.loc[[0, 1], c.TS] = start - pd.Timedelta(hours=1)
    events.loc[2, c.TS] = start - pd.Timedelta(minutes=2)  # within the 5-minute tolerance: kept
    write_day(data_root, events=events)
    _expect_quarantine(data_root, "ts_not_before_interval", 2)


def test_timestamps_in_the_future_are_quarantined(data_root):
    events = events_frame()
    end = pd.Timestamp(DS, tz="UTC") + pd.Timedelta(days=1)
    events.loc[[97, 98, 99], c.TS] = [end, end + pd.Timedelta(hours=3), end + pd.Timedelta(days=40)]
    write_day(data_root, events=events)
    summary = _expect_quarantine(data_root, "ts_not_in_future", 3)
    rule = next(e for e in summary["tables"][c.EVENTS]["expectations"] if e["id"] == "ts_not_in_future")
    assert rule["unexpected_count"] == 3 and not rule["success"]


def test_events_referencing_unknown_items_are_quarantined(data_root):
    events = events_frame()
    events.loc[[20, 40], c.ITEM_ID] = "X999"
    write_day(data_root, events=events)
    _expect_quarantine(data_root, "item_id_known", 2)


def test_too_many_quarantined_rows_fail(data_root):
    events = events_frame()
    events.loc[:9, c.UNIT_PRICE] = -1.0  # 10% of the rows
    write_day(data_root, events=events)
    _expect_failure(data_root, r"events: quarantine_share .* observed 0.1: 10 of 100 rows quarantined")
    assert len(_quarantine(data_root)) == 10  # the bad rows are there to look at


def test_zero_price_purchases_warn_and_are_kept(data_root):
    events = events_frame()
    events.loc[3, c.UNIT_PRICE] = 0.0  # row 3 is a purchase
    write_day(data_root, events=events)
    out = validate_partition(data_root, DS, FAST)
    assert any("zero_price_purchases" in w for w in out["warnings"])
    assert out["rows"][c.EVENTS]["clean"] == 100


def test_empty_partition_is_an_outage(data_root):
    write_day(data_root, events=events_frame().iloc[0:0])
    err = _expect_failure(data_root, "events: events_not_empty")
    assert "observed 0" in str(err) and "outage" in str(err)


def test_empty_partition_allowed_for_a_closed_shop(data_root):
    write_day(data_root, events=events_frame().iloc[0:0])
    out = validate_partition(data_root, DS, ValidationConfig(data_docs=False, allow_empty_events=True))
    assert out["rows"][c.EVENTS]["clean"] == 0 and any("events_not_empty" in w for w in out["warnings"])


def test_corrupt_file_fails_naming_the_partition(data_root):
    write_day(data_root)
    uri = storage.partition_uri(data_root, "raw", c.ITEMS, DS)
    (name,) = storage.read_manifest(uri).files
    Path(uri, name).write_bytes(b"PAR1 this is not parquet at all")
    err = _expect_failure(data_root, f"items: raw partition {uri} is unreadable")
    assert name in str(err)


def test_row_count_collapse_against_history_fails(data_root):
    config = ValidationConfig(data_docs=False, min_history=3)
    for back in (3, 2, 1):
        day = day_before(DS, back)
        write_day(data_root, day)
        validate_partition(data_root, day, config)
    write_day(data_root, events=events_frame(n=5))
    err = _expect_failure(data_root, r"events: history.rows \(history\) failed: observed 0.05", config)
    assert "trailing median 100" in str(err)
    summary = storage.read_json(summary_uri(data_root, DS))
    assert summary["history"]["days"] == [day_before(DS, k) for k in (1, 2, 3)]


def test_rerun_is_idempotent_and_a_failing_rerun_retracts_the_day(data_root):
    write_day(data_root)
    first = validate_partition(data_root, DS, FAST)
    manifests = {t: _validated(data_root, t) for t in c.TABLES}
    summary_bytes = Path(first["summary_uri"]).read_bytes()
    second = validate_partition(data_root, DS, FAST)
    assert second == first
    assert {t: _validated(data_root, t) for t in c.TABLES} == manifests  # not even rewritten
    assert Path(first["summary_uri"]).read_bytes() == summary_bytes
    # The raw day is re-landed broken: the rerun fails and the stale validated day disappears.
    write_day(data_root, events=events_frame().drop(columns=[c.TS]))
    _expect_failure(data_root, "columns_match_contract")


def test_a_missing_raw_partition_fails_naming_it(data_root):
    write_day(data_root)
    other = dt.date.fromisoformat(DS) + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed, match=r"no raw partition at .*raw/events/ds=2024-03-11"):
        validate_partition(data_root, other, FAST)
