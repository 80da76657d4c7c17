"""Sequence-file adapter (Amazon Beauty style) and the positional leave-one-out split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks.contract import (
    CATEGORY,
    EVENT_ID,
    EVENT_TYPE,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    ORDER_ID,
    PRICE,
    PURCHASE,
    QUANTITY,
    SESSION_ID,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    contract_problems,
)
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.sources.sequence import leave_one_out, read_sequences


@pytest.fixture
def seq(tmp_path: Path) -> Path:
    path = tmp_path / "seq.txt"
    path.write_text("1 10 11 12\n2 11 13\n\n3 12\n")
    return path


@pytest.fixture
def attrs(tmp_path: Path) -> Path:
    path = tmp_path / "attrs.json"
    path.write_text(json.dumps({"10": [3, 4], "11": [], "12": [7], "99": [1]}))
    return path


def test_maps_lines_to_ordinal_purchases(seq: Path, attrs: Path) -> None:
    t = read_sequences(seq, attrs)
    ev = t.events
    for table, frame in ((EVENTS, ev), (ITEMS, t.items), (USERS, t.users)):
        assert contract_problems(frame, table) == []
    assert len(ev) == 6
    user1 = ev[ev[USER_ID] == "1"]
    assert user1[ITEM_ID].tolist() == ["10", "11", "12"]
    assert user1[EVENT_ID].tolist() == ["1-0", "1-1", "1-2"]
    assert (user1[SESSION_ID] == user1[EVENT_ID]).all() and (user1[ORDER_ID] == user1[EVENT_ID]).all()
    start = pd.Timestamp("2000-01-01", tz="UTC")
    assert user1[TS].tolist() == [start + pd.Timedelta(days=k, seconds=1) for k in range(3)]
    assert ev.groupby(USER_ID)[TS].is_monotonic_increasing.all()
    assert set(ev[EVENT_TYPE]) == {PURCHASE}
    assert (ev[QUANTITY] == 1).all() and (ev[UNIT_PRICE] == 0.0).all()
    assert t.stats["users_read"] == 3 and t.stats["interactions_read"] == 6


def test_items_take_the_first_attribute_as_category(seq: Path, attrs: Path) -> None:
    items = read_sequences(seq, attrs).items.set_index(ITEM_ID)
    assert sorted(items.index) == ["10", "11", "12", "13"]  # "99" is never interacted with
    assert items.loc["10", CATEGORY] == "attr_3"
    assert pd.isna(items.loc["11", CATEGORY]) and pd.isna(items.loc["13", CATEGORY])
    assert items[TITLE].isna().all() and (items[PRICE] == 0.0).all()
    assert items.loc["12", FIRST_SEEN] == pd.Timestamp("2000-01-01 00:00:03", tz="UTC")  # user 3, k=0
    assert read_sequences(seq).items[CATEGORY].isna().all()


def test_start_and_until(seq: Path) -> None:
    t = read_sequences(seq, until="2010-01-02", start="2010-01-01")
    assert t.events[TS].min() == pd.Timestamp("2010-01-01 00:00:01", tz="UTC")
    assert len(t.events) == 5 and t.stats["excluded_after_until"] == 1
    assert "12" in set(t.items[ITEM_ID])  # user 3 saw it on day 0
    with pytest.raises(ConfigError, match="start"):
        read_sequences(seq, start="soon")


def test_leave_one_out_splits_by_position(seq: Path) -> None:
    train, valid, test = leave_one_out(read_sequences(seq).events)
    assert train[EVENT_ID].tolist() == ["1-0"]
    assert valid[EVENT_ID].tolist() == ["1-1", "2-0"]
    assert test[EVENT_ID].tolist() == ["1-2", "2-1", "3-0"]


def test_leave_one_out_orders_by_time_and_skips_anonymous() -> None:
    ts = pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-01"], utc=True)
    events = pd.DataFrame({EVENT_ID: ["c", "a", "b", "x"], USER_ID: ["u", "u", "u", None], TS: ts})
    train, valid, test = leave_one_out(events)
    assert (train[EVENT_ID].tolist(), valid[EVENT_ID].tolist(), test[EVENT_ID].tolist()) == (
        ["a"],
        ["b"],
        ["c"],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 10 11\nx 12\n", r"line 2: user id 'x' is not an integer"),
        ("1 10 11\n2 12 1.5\n", r"line 2: item id \(position 2\) '1.5' is not an integer"),
        ("1 10 11\n2\n", r"line 2: user 2 has no items"),
        ("1 10 11\n1 12\n", r"line 2: user 1 already had a line \(line 1\)"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SourceError, match=r"bad\.txt: " + message):
        read_sequences(path)


def test_missing_files_and_bad_attributes(tmp_path: Path, seq: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.txt.*not found"):
        read_sequences(tmp_path / "nope.txt")
    with pytest.raises(SourceError, match=r"nope\.json.*not found"):
        read_sequences(seq, tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SourceError, match=r"broken\.json.*JSON"):
        read_sequences(seq, broken)
    broken.write_text(json.dumps({"10": "attr"}))
    with pytest.raises(SourceError, match=r"broken\.json: item '10'.*list of integers"):
        read_sequences(seq, broken)


@pytest.mark.realdata
def test_real_beauty_matches_published_statistics(beauty_sequences: Path) -> None:
    t = read_sequences(beauty_sequences, beauty_sequences.with_name("Beauty_item2attributes.json"))
    assert t.stats["users"] == len(t.users) == 22_363
    assert t.stats["items"] == len(t.items) == 12_101
    assert len(t.events) == 198_502
    assert t.items[CATEGORY].notna().all()  # every Beauty item has attributes
    for table, frame in ((EVENTS, t.events), (ITEMS, t.items), (USERS, t.users)):
        assert contract_problems(frame, table) == [], table
    train, valid, test = leave_one_out(t.events)
    assert (len(train), len(valid), len(test)) == (198_502 - 2 * 22_363, 22_363, 22_363)
    assert test[USER_ID].is_unique and valid[USER_ID].is_unique
