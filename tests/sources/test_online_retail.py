"""UCI Online Retail adapter: layouts, file formats, mapping rules, exclusions and bad input."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from ecom_tasks.contract import (
    COUNTRY,
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
    RETURN,
    SESSION_ID,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    contract_problems,
)
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.sources.online_retail import EXCLUSIONS, load_lines, map_lines, read_online_retail

HEADER_II = [
    "Invoice",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "Price",
    "Customer ID",
    "Country",
]
HEADER_I = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]

# One line per rule; the comment says what the adapter must do with it.
LINES = [
    ["489434", "85048", "GLASS BALL", 12, "2009-12-01 07:45:00", 6.95, "13085.0", "United Kingdom"],  # kept
    ["489434", " 79323p ", "PINK LIGHTS", 12, "2009-12-01 07:45:00", 6.75, "13085.0", "United Kingdom"],
    ["489434", "85048", "GLASS BALL", 12, "2009-12-01 07:45:00", 6.95, "13085.0", "United Kingdom"],  # dup
    ["489435", "22041", "", 4, "2009-12-01 08:00:00", 2.10, "", "Unspecified"],  # anonymous, kept
    ["C489436", "85048", "GLASS BALL", -2, "2009-12-02 09:00:00", 6.95, "13085", "United Kingdom"],  # return
    ["A506401", "B", "Adjust bad debt", 1, "2009-12-02 10:00:00", -53594.36, "", "United Kingdom"],
    ["489437", "POST", "POSTAGE", 1, "2009-12-02 11:00:00", 18.0, "12682", "France"],  # non-product
    ["489437", "85048", "GLASS BALL NEW", 6, "2009-12-02 11:00:00", 7.5, "12682", "France"],
    ["489438", "21733", "damaged", -10, "2009-12-03 12:00:00", 0.0, "", "United Kingdom"],  # write-off
    ["489439", "21733", "", 5, "2009-12-03 13:00:00", 0.0, "", "United Kingdom"],  # zero, anonymous
    ["489440", "21734", "FREE GIFT", 1, "2009-12-03 14:00:00", 0.0, "12682", "France"],  # zero, kept
    ["489441", "gift_0001_20", "Voucher", 1, "2009-12-03 15:00:00", 17.0, "", "United Kingdom"],
]


def _write_csv(path: Path, header: list[str], rows: list[list[object]], **kwargs: object) -> Path:
    pd.DataFrame(rows, columns=header).to_csv(path, index=False, **kwargs)
    return path


def _us_dates(rows: list[list[object]]) -> list[list[object]]:
    """The older file's CSV copies write dates as M/D/YYYY H:MM."""
    out = []
    for row in rows:
        t = pd.Timestamp(row[4])
        out.append([*row[:4], f"{t.month}/{t.day}/{t.year} {t.hour}:{t.minute:02d}", *row[5:]])
    return out


def _write_xlsx(path: Path, sheets: dict[str, list[list[object]]], header: list[str] = HEADER_II) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        ws.append(header)
        for row in rows:
            cells = list(row)
            cells[4] = pd.Timestamp(cells[4]).to_pydatetime()  # real workbooks hold dates
            cells[6] = float(cells[6]) if cells[6] else None  # and float customer ids
            ws.append(cells)
    wb.save(path)
    return path


@pytest.fixture
def ii_csv(tmp_path: Path) -> Path:
    return _write_csv(tmp_path / "retail.csv", HEADER_II, LINES)


def test_maps_each_rule(ii_csv: Path) -> None:
    t = read_online_retail(ii_csv)
    ev = t.events
    assert contract_problems(ev, EVENTS) == []
    assert len(ev) == 7
    first = ev.iloc[0]
    assert first[EVENT_ID] == "489434-0"
    assert first[TS] == pd.Timestamp("2009-12-01 07:45", tz="UTC")
    assert first[USER_ID] == "13085"  # no ".0"
    assert first[SESSION_ID] == first[ORDER_ID] == "489434"
    assert first[EVENT_TYPE] == PURCHASE
    assert "79323P" in set(ev[ITEM_ID])  # stripped and upper-cased
    assert ev[EVENT_ID].is_unique  # although line 3 repeats line 1
    anon = ev[ev[ORDER_ID] == "489435"].iloc[0]
    assert pd.isna(anon[USER_ID]) and pd.isna(anon[COUNTRY])  # kept; "Unspecified" -> null
    ret = ev[ev[EVENT_TYPE] == RETURN]
    assert ret[[ORDER_ID, QUANTITY, UNIT_PRICE]].values.tolist() == [["C489436", -2, 6.95]]
    free = ev[ev[ITEM_ID] == "21734"].iloc[0]
    assert free[UNIT_PRICE] == 0.0 and free[USER_ID] == "12682"
    assert ev[TS].is_monotonic_increasing


def test_stats_account_for_every_line(ii_csv: Path) -> None:
    s = read_online_retail(ii_csv).stats
    assert s["lines_read"] == len(LINES)
    assert s["lines_read"] == s["events"] + sum(s[k] for k in EXCLUSIONS)
    assert s["excluded_adjustment_lines"] == 1
    assert s["excluded_non_product_lines"] == 2
    assert s["non_product_code.POST"] == 1 and s["non_product_code.GIFT_0001_20"] == 1
    assert s["excluded_stock_writeoff_lines"] == 1
    assert s["excluded_zero_price_lines"] == 1
    assert s["zero_price_kept_lines"] == 1
    assert s["duplicate_lines"] == 1
    assert s["return_lines"] == s["cancellation_lines"] == 1
    assert s["anonymous_lines"] == 5 and s["anonymous_events"] == 1
    assert s["invoices"] == 9 and s["customers"] == 2


def test_items_and_users_are_as_first_seen(ii_csv: Path) -> None:
    t = read_online_retail(ii_csv)
    assert contract_problems(t.items, ITEMS) == [] and contract_problems(t.users, USERS) == []
    items = t.items.set_index(ITEM_ID)
    assert items.loc["85048", TITLE] == "GLASS BALL"  # not the later "GLASS BALL NEW"
    assert items.loc["85048", PRICE] == 6.95  # not the later 7.50
    assert items.loc["85048", FIRST_SEEN] == pd.Timestamp("2009-12-01 07:45", tz="UTC")
    assert pd.isna(items.loc["22041", TITLE])  # never described
    assert items.loc["21734", PRICE] == 0.0  # never sold at a positive price
    assert "POST" not in items.index and "21733" not in items.index
    users = t.users.set_index(USER_ID)
    assert sorted(users.index) == ["12682", "13085"]
    assert users.loc["12682", COUNTRY] == "France"
    assert users.loc["12682", FIRST_SEEN] == pd.Timestamp("2009-12-02 11:00", tz="UTC")


def test_until_cuts_the_period_and_keeps_ids(ii_csv: Path) -> None:
    full = read_online_retail(ii_csv)
    part = read_online_retail(ii_csv, until=dt.date(2009, 12, 2))
    assert part.events[TS].max() < pd.Timestamp("2009-12-03", tz="UTC")
    assert part.stats["excluded_after_until_lines"] == 4
    assert part.stats["lines_read"] == part.stats["events"] + sum(part.stats[k] for k in EXCLUSIONS)
    assert set(part.events[EVENT_ID]) <= set(full.events[EVENT_ID])
    assert "21734" not in set(part.items[ITEM_ID])
    assert read_online_retail(ii_csv, until="2009-12-02").stats == part.stats
    with pytest.raises(ConfigError, match="until"):
        read_online_retail(ii_csv, until="yesterday")


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(
            lambda d: _write_csv(d / "r.csv.gz", HEADER_II, LINES, compression="gzip"), id="ii-csv.gz"
        ),
        pytest.param(lambda d: _write_csv(d / "r.csv", HEADER_I, _us_dates(LINES)), id="i-csv"),
        pytest.param(
            lambda d: _write_csv(d / "r.csv.gz", HEADER_I, LINES, compression="gzip"), id="i-csv.gz"
        ),
        pytest.param(lambda d: _write_xlsx(d / "r.xlsx", {"Year 2009-2010": LINES}), id="ii-xlsx"),
        pytest.param(lambda d: _write_xlsx(d / "r.xlsx", {"Sheet1": LINES}, header=HEADER_I), id="i-xlsx"),
    ],
)
def test_every_layout_and_format_gives_the_same_tables(tmp_path: Path, ii_csv: Path, make) -> None:
    expected = read_online_retail(ii_csv)
    # The Online Retail I copies write US dates; these few lines (1-2 December) cannot show it.
    got = read_online_retail(make(tmp_path), date_order="monthfirst")
    pd.testing.assert_frame_equal(got.events, expected.events)
    pd.testing.assert_frame_equal(got.items, expected.items)
    pd.testing.assert_frame_equal(got.users, expected.users)
    assert got.stats == expected.stats


def test_xlsx_reads_every_sheet_and_drops_their_overlap(tmp_path: Path) -> None:
    later = ["489500", "22041", "TIN", 3, "2010-12-01 09:00:00", 1.25, "17850", "United Kingdom"]
    path = _write_xlsx(tmp_path / "ii.xlsx", {"Year 2009-2010": LINES, "Year 2010-2011": [*LINES[:2], later]})
    t = read_online_retail(path)
    assert t.stats["excluded_overlap_lines"] == 2  # invoice 489434 is already in the first sheet
    assert t.stats["lines_read"] == len(LINES) + 3
    assert t.stats["lines_read"] == t.stats["events"] + sum(t.stats[k] for k in EXCLUSIONS)
    assert "489500-0" in set(t.events[EVENT_ID]) and t.events[EVENT_ID].is_unique


def test_map_lines_is_pure(ii_csv: Path) -> None:
    lines = load_lines(ii_csv)
    assert map_lines(lines).stats == read_online_retail(ii_csv).stats
    assert map_lines(lines.iloc[:0]).events.empty


# --- bad input ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"nope\.csv.*not found"):
        read_online_retail(tmp_path / "nope.csv")


def test_corrupt_and_truncated_gzip(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"this is not gzip\n")
    with pytest.raises(SourceError, match=r"bad\.csv\.gz.*gzip"):
        read_online_retail(bad)
    whole = gzip.compress(pd.DataFrame(LINES * 300, columns=HEADER_II).to_csv(index=False).encode())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(SourceError, match=r"cut\.csv\.gz.*(truncated|gzip)"):
        read_online_retail(cut)


@pytest.mark.parametrize("name", ["r.txt", "r.json", "r.xls", "r.gz"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("x")
    with pytest.raises(SourceError, match=rf"{name}.*unknown extension"):
        read_online_retail(tmp_path / name)


def test_unreadable_xlsx(tmp_path: Path) -> None:
    (tmp_path / "r.xlsx").write_bytes(b"not a zip")
    with pytest.raises(SourceError, match=r"r\.xlsx.*xlsx"):
        read_online_retail(tmp_path / "r.xlsx")


def test_renamed_column_names_both_layouts(tmp_path: Path) -> None:
    header = [("Cost" if c == "Price" else c) for c in HEADER_II]
    path = _write_csv(tmp_path / "r.csv", header, LINES)
    with pytest.raises(SourceError, match=r"r\.csv, column 'Price'.*Online Retail II expects.*UnitPrice"):
        read_online_retail(path)
    sheets = {"Year 2009-2010": LINES, "Year 2010-2011": LINES}
    wrong = _write_xlsx(tmp_path / "w.xlsx", sheets, header=header)
    with pytest.raises(SourceError, match=r"w\.xlsx, column 'Price'.*sheet 'Year 2009-2010'"):
        read_online_retail(wrong)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("")
    with pytest.raises(SourceError, match=r"r\.csv.*empty"):
        read_online_retail(tmp_path / "r.csv")


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (3, "twelve", r"column 'Quantity'.*'twelve' at row 2 \(line 3\)"),
        (3, "1.5", r"column 'Quantity'.*non-integer value 1.5 at row 2"),
        (5, "6,95", r"column 'Price'.*'6,95' at row 2"),
        (4, "yesterday", r"column 'InvoiceDate'.*unparseable.*'yesterday' at row 2"),
        (4, "", r"column 'InvoiceDate'.*missing timestamp at row 2"),
        (0, "", r"column 'Invoice'.*missing value at row 2"),
    ],
)
def test_bad_values_name_file_column_row_and_value(
    tmp_path: Path, column: int, value: str, message: str
) -> None:
    rows = [list(r) for r in LINES[:3]]
    rows[1][column] = value
    path = _write_csv(tmp_path / "r.csv", HEADER_II, rows)
    with pytest.raises(SourceError, match=r"r\.csv.*" + message):
        read_online_retail(path)


def test_bad_value_in_xlsx_names_sheet_and_row(tmp_path: Path) -> None:
    rows = [list(r) for r in LINES[:3]]
    rows[2][3] = "lots"
    path = _write_xlsx(tmp_path / "r.xlsx", {"Year 2009-2010": rows})
    with pytest.raises(SourceError, match=r"column 'Quantity'.*'lots' at sheet 'Year 2009-2010' row 4"):
        read_online_retail(path)


def test_latin1_csv_is_read(tmp_path: Path) -> None:
    rows = [list(r) for r in LINES[:2]]
    rows[0][2] = "CAFÉ £5"
    path = tmp_path / "r.csv"
    path.write_bytes(pd.DataFrame(rows, columns=HEADER_II).to_csv(index=False).encode("latin-1"))
    items = read_online_retail(path).items.set_index(ITEM_ID)
    assert items.loc["85048", TITLE] == "CAFÉ £5"


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.realdata
def test_real_online_retail_ii_matches_published_statistics(online_retail_ii: Path) -> None:
    t = read_online_retail(online_retail_ii)
    s = t.stats
    assert s["lines_read"] == 525_461
    assert s["invoices"] == 28_816
    assert s["customers"] == 4_383
    assert s["anonymous_lines"] == 107_927
    assert s["cancellation_lines"] == 10_206
    assert s["excluded_adjustment_lines"] == 3
    assert s["lines_read"] == len(t.events) + sum(s[k] for k in EXCLUSIONS)
    assert s["return_lines"] == int((t.events[EVENT_TYPE] == RETURN).sum())
    for table, frame in ((EVENTS, t.events), (ITEMS, t.items), (USERS, t.users)):
        assert contract_problems(frame, table) == [], table
    assert t.events[TS].min() == pd.Timestamp("2009-12-01 07:45", tz="UTC")
    assert t.events[TS].max() == pd.Timestamp("2010-12-09 20:01", tz="UTC")
    assert (t.events.loc[t.events[EVENT_TYPE] == RETURN, QUANTITY] < 0).all()
    assert (t.events.loc[t.events[EVENT_TYPE] == PURCHASE, QUANTITY] > 0).all()
