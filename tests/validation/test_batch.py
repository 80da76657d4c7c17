"""A backlog validated in one batch gives every day exactly what validating it alone gives.

The same small backlog, with bad rows planted on several days, is landed under two roots: one is
validated day by day (:func:`validate_partition`), the other by :func:`validate_landed` in one
Great Expectations run. Summaries, validated and quarantined partitions must be identical. Then a
critical failure inside a batch must stop at its day, as day-by-day validation does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.validation import (
    ValidationConfig,
    ValidationFailed,
    backlog,
    gate,
    summary_uri,
    validate_partition,
)
from ecom_tasks.validation import batch as vb
from ecom_tasks.validation import gxbatch as gb
from ecom_tasks.validation.backlog import validate_landed
from ecom_tasks.validation.suites import all_rules
from tests.validation.shop import events_frame, items_frame, raw_fingerprint, users_frame, write_day

DAYS = [(dt.date(2024, 3, 4) + dt.timedelta(days=k)).isoformat() for k in range(6)]
# a tenth of a 10-row items table is one row: allow it, to see one bad item quarantined
CONFIG = ValidationConfig(data_docs=False, min_history=2, allow_empty_events=True, max_quarantine_share=0.2)


def _dirty_backlog() -> dict[str, dict[str, pd.DataFrame]]:
    """Six days: clean ones, and days with each kind of bad row (each under the 5% limit)."""
    days = {d: {c.EVENTS: events_frame(d), c.ITEMS: items_frame(d), c.USERS: users_frame(d)} for d in DAYS}
    ev = days[DAYS[1]][c.EVENTS]
    ev.loc[3, c.UNIT_PRICE] = -1.0
    ev.loc[[11, 12], c.EVENT_ID] = ev.loc[10, c.EVENT_ID]  # two extra copies within the day
    ev.loc[20, c.ITEM_ID] = "ghost"
    ev.loc[30, c.TS] = pd.Timestamp(DAYS[1], tz="UTC") - pd.Timedelta(hours=2)  # before its day
    ev = days[DAYS[2]][c.EVENTS]
    ev.loc[99, c.TS] = pd.Timestamp(DAYS[3], tz="UTC")  # in the future of its own day
    ev.loc[5, c.EVENT_TYPE] = "click"
    ev.loc[6, c.SESSION_ID] = pd.NA
    ev.loc[19, c.QUANTITY] = 2  # a return with a positive quantity
    ev.loc[3, c.UNIT_PRICE] = 0.0  # a zero-priced purchase: a warning, kept
    # the same event id on two days is not a duplicate: uniqueness holds within a day
    days[DAYS[3]][c.EVENTS].loc[0, c.EVENT_ID] = days[DAYS[2]][c.EVENTS].loc[0, c.EVENT_ID]
    items = days[DAYS[3]][c.ITEMS]
    items.loc[4, c.PRICE] = -3.0  # a bad item: quarantined, and so are the day's events naming it
    users = days[DAYS[3]][c.USERS]
    users.loc[2, c.FIRST_SEEN] = pd.Timestamp(DAYS[4], tz="UTC") + pd.Timedelta(hours=1)  # leakage
    days[DAYS[4]][c.EVENTS] = events_frame(DAYS[4]).iloc[0:0]  # a closed day
    ev = days[DAYS[5]][c.EVENTS]
    ev.loc[40:90, c.USER_ID] = pd.NA  # 60% anonymous: a warning
    return days


def _land(root: str, days: dict[str, dict[str, pd.DataFrame]]) -> None:
    for day, frames in days.items():
        write_day(root, day, **frames)


def _outputs(root: str, day: str) -> dict:
    hashes = {
        (stage, t): storage.read_manifest(storage.partition_uri(root, stage, t, day))
        for stage in ("validated", "quarantine")
        for t in c.TABLES
    }
    return {k: None if m is None else (m.content_hash, m.row_count) for k, m in hashes.items()}


def test_a_batch_gives_each_day_what_validating_it_alone_gives(tmp_path, monkeypatch):
    one, many = str(tmp_path / "one"), str(tmp_path / "many")
    days = _dirty_backlog()
    _land(one, days)
    _land(many, days)
    for day in DAYS:
        validate_partition(one, day, CONFIG)
    calls = []
    monkeypatch.setattr(backlog, "validate_days", _spy(vb.validate_days, calls))
    before = raw_fingerprint(many)
    result = validate_landed(many, DAYS[-1], CONFIG)
    assert calls == [len(DAYS)]  # all six days in one batch
    assert result["days_validated"] == DAYS and result["ds"] == DAYS[-1]
    assert raw_fingerprint(many) == before
    quarantined = {}
    for day in DAYS:
        assert storage.read_json(summary_uri(many, day)) == storage.read_json(summary_uri(one, day)), day
        assert _outputs(many, day) == _outputs(one, day), day
        summary = storage.read_json(summary_uri(many, day))
        quarantined[day] = {t: summary["tables"][t]["quarantine_reasons"] for t in c.TABLES}
    # the planted rows were seen (counts per rule), on their own day only
    assert quarantined[DAYS[1]][c.EVENTS] == {
        **dict.fromkeys(quarantined[DAYS[0]][c.EVENTS], 0),
        "unit_price_not_negative": 1,
        "event_id_unique": 2,
        "item_id_known": 1,
        "ts_not_before_interval": 1,
    }
    assert {k for k, v in quarantined[DAYS[2]][c.EVENTS].items() if v} == {
        "ts_not_in_future",
        "event_type_in_set",
        "not_null.session_id",
        "returns_have_negative_quantity",
    }
    assert quarantined[DAYS[3]][c.EVENTS]["item_id_known"] == 10  # events naming the bad item
    assert quarantined[DAYS[3]][c.EVENTS]["event_id_unique"] == 0
    assert quarantined[DAYS[3]][c.ITEMS]["price_not_negative"] == 1
    assert quarantined[DAYS[3]][c.USERS]["first_seen_not_in_future"] == 1
    # a rerun validates nothing and rewrites nothing
    manifests = {day: _outputs(many, day) for day in DAYS}
    assert validate_landed(many, DAYS[-1], CONFIG)["days_validated"] == []
    assert {day: _outputs(many, day) for day in DAYS} == manifests


def _spy(fn, calls):
    def wrapped(days, frames, *args, **kwargs):
        calls.append(len(days))
        return fn(days, frames, *args, **kwargs)

    return wrapped


@pytest.fixture
def five_days(data_root):
    for day in DAYS[:5]:
        write_day(data_root, day)
    return data_root


def _data_docs_served_without_cdns(site: Path) -> None:
    """GE's real pages: every CDN asset they name is vendored (or known to be unneeded), and the
    pages as the UI serves them load nothing from outside."""
    from ecom_tasks.ui import datadocs

    static = Path(__file__).parents[2] / "plugins" / "ecom_ui" / "static"
    assert all((static / f).is_file() for f in datadocs.VENDORED.values() if f)
    pages = sorted(site.rglob("*.html"))
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert datadocs.unknown_assets(text) == [], page
        served, hashes = datadocs.rewrite(text, len(page.relative_to(site).parts) - 1)
        assert datadocs.external_refs(served) == [], page
        assert hashes or page.name != "index.html"  # the index fills its tables by inline script


def _validated_days(root: str) -> list[str]:
    return [d.isoformat() for d in storage.list_partitions(root, "validated", c.EVENTS)]


def test_a_critical_failure_in_a_batch_stops_at_its_day(five_days):
    root = five_days
    events = events_frame(DAYS[2])
    events.loc[:9, c.UNIT_PRICE] = -1.0  # 10% of the rows: over max_quarantine_share
    write_day(root, DAYS[2], events=events)
    before = raw_fingerprint(root)
    config = ValidationConfig(min_history=2)  # with Data Docs: built once, also on failure
    with pytest.raises(ValidationFailed, match=rf"ds={DAYS[2]} .*events: quarantine_share"):
        validate_landed(root, DAYS[4], config)
    assert raw_fingerprint(root) == before
    assert _validated_days(root) == DAYS[:2]
    assert storage.read_json(summary_uri(root, DAYS[2]))["status"] == "failed"
    assert len(storage.read_partition(storage.partition_uri(root, "quarantine", c.EVENTS, DAYS[2]))) == 10
    for day in DAYS[3:]:  # nothing at all for the days after the failure
        assert not Path(summary_uri(root, day)).exists()
        assert storage.read_manifest(storage.partition_uri(root, "quarantine", c.EVENTS, day)) is None
    assert Path(root, "data_docs", "index.html").is_file()
    _data_docs_served_without_cdns(Path(root, "data_docs"))
    suites = {p.name for p in Path(root, "validation", "gx_results").iterdir() if p.name[0] != "."}
    backlog_suites = {gb.backlog_batch(b) for b in (*c.TABLES, "events_item_refs")}
    assert suites == backlog_suites | {gb.daily_batch(c.EVENTS)}  # one run for the batch


def test_a_history_collapse_inside_a_batch_fails_its_day(five_days):
    root = five_days
    write_day(root, DAYS[3], events=events_frame(DAYS[3], n=5))
    with pytest.raises(ValidationFailed, match=r"history.rows \(history\) failed: observed 0.05"):
        validate_landed(root, DAYS[4], ValidationConfig(data_docs=False, min_history=3))
    assert _validated_days(root) == DAYS[:3]
    assert storage.read_json(summary_uri(root, DAYS[3]))["history"]["days"] == DAYS[2::-1]


def test_a_broken_layout_is_validated_alone_after_the_batch_before_it(five_days):
    root = five_days
    write_day(root, DAYS[2], events=events_frame(DAYS[2]).drop(columns=[c.TS]))
    with pytest.raises(ValidationFailed, match=rf"ds={DAYS[2]} .*columns_match_contract"):
        validate_landed(root, DAYS[4], ValidationConfig(data_docs=False))
    assert _validated_days(root) == DAYS[:2]
    # Fixed and landed again: the rest of the backlog goes on from there.
    write_day(root, DAYS[2])
    out = validate_landed(root, DAYS[4], ValidationConfig(data_docs=False))
    assert out["days_validated"] == DAYS[2:5] and _validated_days(root) == DAYS[:5]


def test_a_backlog_is_read_together_and_a_corrupt_file_is_read_alone(five_days, monkeypatch):
    root = five_days
    uri = storage.partition_uri(root, "raw", c.ITEMS, DAYS[2])
    (name,) = storage.read_manifest(uri).files
    Path(uri, name).write_bytes(b"PAR1 this is not parquet at all")
    calls, reads = [], []
    monkeypatch.setattr(backlog, "validate_days", _spy(vb.validate_days, calls))
    monkeypatch.setattr(backlog, "read_raw", lambda r, d: reads.append(d) or gate.read_raw(r, d))
    with pytest.raises(ValidationFailed, match=rf"ds={DAYS[2]} .*items: raw partition {uri} is unreadable"):
        validate_landed(root, DAYS[4], ValidationConfig(data_docs=False))
    # the batch could not be read together: its days were read one by one, up to the bad one
    assert [d.isoformat() for d in reads] == DAYS[:3] and calls == [2]
    assert _validated_days(root) == DAYS[:2]
    shutil.rmtree(uri)  # landed again (same content: a plain rewrite would be a no-op)
    write_day(root, DAYS[2])
    calls.clear(), reads.clear()
    assert validate_landed(root, DAYS[4], ValidationConfig(data_docs=False))["days_validated"] == DAYS[2:5]
    assert calls == [3] and reads == []
    assert _validated_days(root) == DAYS[:5]


def test_a_batch_hands_over_exactly_the_arrow_tables_of_its_frames():
    dates = [dt.date.fromisoformat(d) for d in DAYS]
    per_day = list(_dirty_backlog().values())
    stacked = vb.StackedDays(
        {t: pd.concat([f[t] for f in per_day], ignore_index=True) for t in c.TABLES},
        {t: [len(f[t]) for f in per_day] for t in c.TABLES},
    )
    a = list(vb.validate_days(dates, per_day, CONFIG, lambda d: []))
    b = list(vb.validate_days(dates, stacked, CONFIG, lambda d: []))
    converted = []
    for one, other in zip(a, b, strict=True):
        assert one.summary() == other.summary()
        for t, tr in one.tables.items():
            pd.testing.assert_frame_equal(tr.clean, other.tables[t].clean)
            for frame, arrow in ((tr.clean, tr.clean_arrow), (tr.quarantined, tr.quarantined_arrow)):
                converted.append(arrow is not None)
                if arrow is None:  # a day with quarantined rows: its frames are converted when written
                    continue
                expected = storage.to_arrow(frame)
                assert arrow.equals(expected) and arrow.schema.equals(expected.schema, check_metadata=True)
                assert storage.table_hash(arrow) == storage.table_hash(expected)
    assert any(converted) and not all(converted)


def test_a_small_batch_size_splits_the_backlog(five_days, monkeypatch):
    calls = []
    monkeypatch.setattr(backlog, "validate_days", _spy(vb.validate_days, calls))
    config = ValidationConfig(data_docs=False, backlog_max_rows=250)  # a day is 120 rows
    assert validate_landed(five_days, DAYS[4], config)["days_validated"] == DAYS[:5]
    assert calls == [3, 2]


def test_every_suite_rule_has_a_backlog_form():
    pairs = vb.backlog_rules()
    assert len(pairs) == sum(len(r) for r in all_rules().values())
    by_id = {(old.table, old.id): new for old, new in pairs}
    unique = by_id[c.EVENTS, "event_id_unique"]
    assert unique.expectation == "expect_compound_columns_to_be_unique"
    assert unique.kwargs["column_list"] == [gb.DAY, c.EVENT_ID]
    future = by_id[c.EVENTS, "ts_not_in_future"]
    assert future.expectation == "expect_column_pair_values_a_to_be_greater_than_b"
    assert (future.kwargs["column_A"], future.kwargs["column_B"], future.kwargs["or_equal"]) == (
        gb.bound_column("interval_end"),
        c.TS,
        False,
    )
    empty = by_id[c.EVENTS, "events_not_empty"]
    assert (empty.batch, empty.kwargs) == (gb.daily_batch(c.EVENTS), {"column": gb.ROWS, "min_value": 1})
    not_null = next(r for r in all_rules()[c.EVENTS] if r.id == "not_null.event_id")
    with pytest.raises(gb.BacklogRuleError, match="mostly"):
        gb.backlog_rule(dataclasses.replace(not_null, kwargs={**not_null.kwargs, "mostly": 0.9}))
