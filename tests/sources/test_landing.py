"""Landing folder adapter: round trips, first-seen merging of deltas, and every bad-input case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_ID,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    PRICE,
    QUANTITY,
    TITLE,
    TS,
    USER_ID,
    USERS,
    conform,
    contract_problems,
    empty_frame,
)
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.sources.base import ShopTables
from ecom_tasks.sources.landing import landing_days, read_landing, read_landing_file, write_landing_day

D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
FORMATS = ["parquet", "csv", "csv.gz"]


def _events(day: dt.date, ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    ts = [pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=1 + k, microseconds=7) for k in range(n)]
    frame = pd.DataFrame(
        {
            EVENT_ID: ids,
            TS: ts,
            USER_ID: ["u1", None, "u2"][:n],
            "session_id": [f"s{k}" for k in range(n)],
            ITEM_ID: ["i1", "i2", "i1"][:n],
            "event_type": ["view", "add_to_cart", "purchase"][:n],
            QUANTITY: [1, 2, 3][:n],
            "unit_price": [0.0, 2.5, 9.99][:n],
            "order_id": [None, None, "o1"][:n],
            COUNTRY: ["FR", None, "DE"][:n],
        }
    )
    return conform(frame, EVENTS)


def _items(rows: list[tuple]) -> pd.DataFrame:
    cols = [ITEM_ID, TITLE, CATEGORY, PRICE, FIRST_SEEN]
    frame = pd.DataFrame(rows, columns=cols)
    frame[FIRST_SEEN] = pd.to_datetime(frame[FIRST_SEEN], utc=True)
    return conform(frame, ITEMS)


def _users(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[USER_ID, FIRST_SEEN, COUNTRY])
    frame[FIRST_SEEN] = pd.to_datetime(frame[FIRST_SEEN], utc=True)
    return conform(frame, USERS)


def _day1() -> ShopTables:
    items = _items(
        [("i1", None, "toys", 5.0, "2024-03-01 01:00"), ("i2", "Mug", None, 2.5, "2024-03-01 02:00")]
    )
    users = _users([("u1", "2024-03-01 01:00", "FR"), ("u2", "2024-03-01 03:00", None)])
    return ShopTables(_events(D1, ["e1", "e2", "e3"]), items, users)


def _day2() -> ShopTables:
    items = _items(
        [("i1", "Robot", "games", 6.0, "2024-03-02 01:00"), ("i3", "Pen", None, 1.0, "2024-03-02 01:00")]
    )
    users = _users([("u2", "2024-03-02 01:00", "DE"), ("u1", "2024-03-02 01:00", "ES")])
    return ShopTables(_events(D2, ["e4", "e5"]), items, users)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    day = _day1()
    folder = write_landing_day(tmp_path, D1, day, fmt=fmt)
    assert Path(folder, f"events.{fmt}").is_file()
    t = read_landing(tmp_path)
    pd.testing.assert_frame_equal(t.events, day.events)
    pd.testing.assert_frame_equal(t.items, day.items)
    pd.testing.assert_frame_equal(t.users, day.users)
    for table, frame in ((EVENTS, t.events), (ITEMS, t.items), (USERS, t.users)):
        assert contract_problems(frame, table) == []
    assert t.stats["days"] == 1 and t.stats["events"] == 3


def test_deltas_merge_as_first_seen(tmp_path: Path) -> None:
    write_landing_day(tmp_path, D1, _day1(), fmt="csv")
    write_landing_day(tmp_path, D2, _day2(), fmt="parquet")  # formats may differ between days
    t = read_landing(tmp_path)
    assert t.events[EVENT_ID].tolist() == ["e1", "e2", "e3", "e4", "e5"]
    items = t.items.set_index(ITEM_ID)
    assert items.loc["i1", PRICE] == 5.0 and items.loc["i1", CATEGORY] == "toys"  # first wins
    assert items.loc["i1", TITLE] == "Robot"  # unknown on day 1, first known on day 2
    assert items.loc["i1", FIRST_SEEN] == pd.Timestamp("2024-03-01 01:00", tz="UTC")
    assert sorted(items.index) == ["i1", "i2", "i3"]
    users = t.users.set_index(USER_ID)
    assert users.loc["u1", COUNTRY] == "FR" and users.loc["u2", COUNTRY] == "DE"
    assert users.loc["u2", FIRST_SEEN] == pd.Timestamp("2024-03-01 03:00", tz="UTC")
    assert t.stats["item_rows"] == 4 and t.stats["items"] == 3


def test_until_and_days(tmp_path: Path) -> None:
    write_landing_day(tmp_path, D2, _day2())
    write_landing_day(tmp_path, D1, _day1())
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".tmp").mkdir()
    assert landing_days(tmp_path) == [D1, D2]
    t = read_landing(tmp_path, until=D1)
    assert t.stats["days"] == 1 and len(t.events) == 3
    assert "i3" not in set(t.items[ITEM_ID])
    assert read_landing(tmp_path, until="2024-03-02").stats["events"] == 5


def test_late_and_early_events_are_counted(tmp_path: Path) -> None:
    day = _day1()
    day.events.loc[0, TS] = pd.Timestamp("2024-03-05 10:00", tz="UTC")
    write_landing_day(tmp_path, D1, day)
    t = read_landing(tmp_path, until=D1)
    assert t.stats["events_outside_day"] == 1 and t.stats["excluded_after_until"] == 1
    assert len(t.events) == 2


def test_items_and_users_are_optional_and_rewrites_replace(tmp_path: Path) -> None:
    write_landing_day(tmp_path, D1, _day1(), fmt="csv")
    only_events = ShopTables(_events(D1, ["e1"]), empty_frame(ITEMS), empty_frame(USERS))
    folder = Path(write_landing_day(tmp_path, D1, only_events, fmt="parquet"))
    assert sorted(p.name for p in folder.iterdir()) == ["events.parquet"]
    t = read_landing(tmp_path)
    assert len(t.events) == 1 and t.items.empty and t.users.empty
    assert contract_problems(t.items, ITEMS) == []
    with pytest.raises(ConfigError, match="fmt"):
        write_landing_day(tmp_path, D1, only_events, fmt="json")


# --- bad input ---------------------------------------------------------------------------------


def _csv_day(root: Path, frame: pd.DataFrame, name: str = "events.csv") -> Path:
    folder = root / "ds=2024-03-01"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / name, index=False)
    return folder / name


def test_missing_folder_and_missing_events(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nowhere.*landing folder not found"):
        read_landing(tmp_path / "nowhere")
    empty = read_landing(tmp_path)  # no day yet: empty canonical tables
    assert empty.events.empty and contract_problems(empty.events, EVENTS) == []
    assert landing_days(tmp_path) == []
    (tmp_path / "ds=2024-03-01").mkdir()
    with pytest.raises(SourceError, match=r"ds=2024-03-01.*required events file missing"):
        read_landing(tmp_path)


@pytest.mark.parametrize("name", ["ds=2024-13-01", "2024-03-01", "ds=yesterday"])
def test_folder_name_not_a_date(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    with pytest.raises(SourceError, match=rf"{name}.*not a day"):
        landing_days(tmp_path)


def test_unknown_extension_unknown_file_and_two_events_files(tmp_path: Path) -> None:
    events = _events(D1, ["e1"])
    path = _csv_day(tmp_path, events, "events.json")
    with pytest.raises(SourceError, match=r"events\.json.*unknown extension"):
        read_landing(tmp_path)
    path.rename(path.with_name("orders.csv"))
    with pytest.raises(SourceError, match=r"orders\.csv.*unexpected file"):
        read_landing(tmp_path)
    path.with_name("orders.csv").unlink()
    _csv_day(tmp_path, events, "events.csv")
    events.to_parquet(path.with_name("events.parquet"))
    with pytest.raises(SourceError, match=r"events\.(csv|parquet).*one events file"):
        read_landing(tmp_path)


def test_missing_and_extra_columns(tmp_path: Path) -> None:
    events = _events(D1, ["e1"])
    _csv_day(tmp_path, events.drop(columns=[QUANTITY]))
    with pytest.raises(SourceError, match=r"events\.csv, column 'quantity': missing column"):
        read_landing(tmp_path)
    _csv_day(tmp_path, events.assign(colour="red"))
    with pytest.raises(SourceError, match=r"events\.csv, column 'colour': unexpected column"):
        read_landing(tmp_path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (QUANTITY, "two", r"column 'quantity': non-numeric value 'two' at row 1"),
        (QUANTITY, "1.5", r"column 'quantity': non-integer value 1.5"),
        ("unit_price", "cheap", r"column 'unit_price': non-numeric value 'cheap'"),
        (TS, "March 1st", r"column 'ts': unparseable timestamp 'March 1st'"),
        (TS, "", r"column 'ts': missing timestamp"),
    ],
)
def test_bad_csv_values(tmp_path: Path, column: str, value: str, message: str) -> None:
    frame = _events(D1, ["e1", "e2"]).astype({column: object})
    frame.loc[0, column] = value
    _csv_day(tmp_path, frame)
    with pytest.raises(SourceError, match=r"events\.csv, " + message):
        read_landing(tmp_path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (QUANTITY, "2", r"column 'quantity': has type .*, expected int64"),
        ("unit_price", "2.5", r"column 'unit_price': has type .*, expected float64"),
        (TS, "2024-03-01", r"column 'ts': has type .*, expected a timestamp"),
        (USER_ID, 7, r"column 'user_id': has type .*, expected strings"),
    ],
)
def test_wrong_parquet_types(tmp_path: Path, column: str, value: object, message: str) -> None:
    frame = _events(D1, ["e1"]).astype({column: object})
    frame[column] = [value]
    folder = tmp_path / "ds=2024-03-01"
    folder.mkdir()
    frame.to_parquet(folder / "events.parquet")
    with pytest.raises(SourceError, match=r"events\.parquet, " + message):
        read_landing(tmp_path)


def test_naive_parquet_timestamps_are_utc_and_ints_are_fine_as_prices(tmp_path: Path) -> None:
    frame = _events(D1, ["e1"])
    frame[TS] = frame[TS].dt.tz_localize(None)
    frame["unit_price"] = [3]
    folder = tmp_path / "ds=2024-03-01"
    folder.mkdir()
    frame.to_parquet(folder / "events.parquet")
    got = read_landing_file(str(folder / "events.parquet"), EVENTS)
    assert got[TS].iloc[0] == pd.Timestamp("2024-03-01 01:00:00.000007", tz="UTC")
    assert got["unit_price"].iloc[0] == 3.0


def test_corrupt_parquet(tmp_path: Path) -> None:
    folder = tmp_path / "ds=2024-03-01"
    folder.mkdir()
    (folder / "events.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(SourceError, match=r"events\.parquet.*Parquet"):
        read_landing(tmp_path)
