"""Issue 16, cases 1-6 on small data: each bad input is refused or quarantined and landed data stays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks import integrity, landing, storage
from ecom_tasks.cli import main as ecom
from ecom_tasks.errors import CorruptPartitionError, SourceError
from ecom_tasks.ingest import IngestConfig, ingest
from ecom_tasks.validation import ValidationConfig, ValidationFailed, validate_partition
from ecom_tasks.validation.backlog import validate_landed

HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
FIRST = dt.date(2009, 12, 1)


def retail_lines(
    days: int = 12, per_day: int = 4, dayfirst: bool = False, start: dt.date = FIRST
) -> list[str]:
    """Online Retail II lines: ``per_day`` invoices a day, two lines each, ISO or dd/mm/yyyy dates."""
    lines = []
    for d in range(days):
        day = start + dt.timedelta(days=d)
        for k in range(per_day):
            ts = f"{day.isoformat()} {9 + k:02d}:00:00"
            if dayfirst:
                ts = f"{day.day:02d}/{day.month:02d}/{day.year} {9 + k:02d}:00"
            inv = f"5{d:03d}{k}"
            cust = f"1{k % 3}085"
            lines.append(f"{inv},8504{k},GLASS BALL,{k + 1},{ts},{1.95 + k},{cust},United Kingdom")
            lines.append(f"{inv},2204{k},FRAME,2,{ts},2.10,{cust},United Kingdom")
    return lines


def write_csv(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding=encoding)
    return path


def snapshot(root: str) -> dict[str, bytes]:
    """Every committed file under the raw and validated stages, by path."""
    out = {}
    for stage in ("raw", "validated"):
        for p in sorted(Path(root, stage).rglob("*")):
            if p.is_file():
                out[str(p)] = p.read_bytes()
    return out


def retail(path: Path, **kwargs) -> IngestConfig:
    return IngestConfig(source="online_retail", source_path=str(path), **kwargs)


LAST = "2009-12-12"
VCONFIG = ValidationConfig(allow_empty_events=True, data_docs=False)


# --- 1. every line repeated five times ---------------------------------------------------------


def test_case1_a_file_with_every_line_five_times_is_refused_and_landed_data_stays(tmp_path, data_root):
    lines = retail_lines()
    ingest(data_root, LAST, retail(write_csv(tmp_path / "good.csv", lines)))
    before = snapshot(data_root)
    five = write_csv(tmp_path / "five.csv", [line for line in lines for _ in range(5)])
    with pytest.raises(
        SourceError, match=r"five.csv.*80\.0%.*repeat an earlier line.*duplicate_lines='drop'"
    ):
        ingest(data_root, LAST, retail(five))
    assert snapshot(data_root) == before
    dropped = ingest(str(tmp_path / "other"), LAST, retail(five, duplicate_lines="drop"))
    assert dropped["policies"]["duplicates"]["dropped"] == 4 * len(lines)


def test_case1_validation_fails_a_day_of_repeated_events(data_root):
    events = c.conform(
        pd.DataFrame(
            {
                c.EVENT_ID: [f"e{i}" for i in range(10)],
                c.TS: ["2024-05-01T09:00Z"] * 10,
                c.USER_ID: ["u1"] * 10,
                c.SESSION_ID: ["s1"] * 10,
                c.ITEM_ID: ["i1"] * 10,
                c.EVENT_TYPE: ["purchase"] * 10,
                c.QUANTITY: [1] * 10,
                c.UNIT_PRICE: [5.0] * 10,
                c.ORDER_ID: ["o1"] * 10,
                c.COUNTRY: ["UK"] * 10,
            }
        ),
        c.EVENTS,
    )
    items = c.conform(
        pd.DataFrame({c.ITEM_ID: ["i1"], c.TITLE: ["Mug"], c.CATEGORY: [None], c.PRICE: [5.0],
                      c.FIRST_SEEN: ["2024-05-01T09:00Z"]}), c.ITEMS)  # fmt: skip
    users = c.conform(
        pd.DataFrame({c.USER_ID: ["u1"], c.FIRST_SEEN: ["2024-05-01T09:00Z"], c.COUNTRY: ["UK"]}), c.USERS
    )
    for table, frame in ((c.EVENTS, events), (c.ITEMS, items), (c.USERS, users)):
        storage.write_partition(
            frame, storage.partition_uri(data_root, "raw", table, "2024-05-01"), source="t"
        )
    with pytest.raises(ValidationFailed, match=r"duplicate_share.*9 of 10 events repeat"):
        validate_partition(data_root, "2024-05-01", VCONFIG)
    summary = storage.read_json(f"{data_root}/validation/summary/ds=2024-05-01/summary.json")
    assert summary["tables"]["events"]["duplicate_rows"] == 9


# --- 2. day-first dates ------------------------------------------------------------------------


def test_case2_ambiguous_day_first_dates_are_refused_unless_date_order_says(tmp_path, data_root):
    path = write_csv(tmp_path / "dayfirst.csv", retail_lines(dayfirst=True))
    with pytest.raises(
        SourceError, match=r"dayfirst.csv, column 'InvoiceDate': ambiguous day/month order.*dayfirst"
    ):
        ingest(data_root, LAST, retail(path))
    assert not Path(data_root, "raw").exists()
    landed = ingest(data_root, LAST, retail(path, date_order="dayfirst"))
    assert landed["first_day"] == "2009-12-01"
    # A day above 12 decides by itself.
    later = write_csv(tmp_path / "decided.csv", retail_lines(days=14, dayfirst=True))
    assert ingest(str(tmp_path / "r2"), "2009-12-14", retail(later))["first_day"] == "2009-12-01"


# --- 3. wrong file, then the corrected one -----------------------------------------------------


def test_case3_the_corrected_file_retracts_every_day_of_the_wrong_one(tmp_path, data_root):
    path = write_csv(tmp_path / "orders.csv", retail_lines(dayfirst=True))
    wrong = ingest(data_root, "2009-11-12", retail(path, date_order="monthfirst"))  # 01/12 as 12 January
    validate_landed(data_root, "2009-11-12", VCONFIG)
    assert wrong["first_day"] == "2009-01-12"
    right = ingest(data_root, LAST, retail(path, date_order="dayfirst"))
    assert right["retracted"]["retracted_days"][0] == "2009-01-12"
    days = [dt.date(2009, 12, d) for d in range(1, 13)]
    for stage in ("raw", "validated"):
        for table in c.TABLES:
            kept = storage.list_partitions(data_root, stage, table)
            assert all(d in days for d in kept), (stage, table, kept)
    record = storage.read_json(right["retracted"]["retraction_record"])
    assert "validated/events/ds=2009-01-12" in json.dumps(record["moved"])
    assert Path(data_root, "retracted", "validated", "events", "ds=2009-01-12").is_dir()
    validate_landed(data_root, LAST, VCONFIG)
    assert storage.list_partitions(data_root, "validated", c.EVENTS) == days


# --- 4. corrupt files under intact manifests ---------------------------------------------------


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _file(uri: str) -> Path:
    return Path(uri) / storage.read_manifest(uri).files[0]


def test_case4_a_bit_flip_in_a_validated_partition_is_named_verified_and_rebuilt(tmp_path, data_root, capsys):
    ingest(data_root, LAST, retail(write_csv(tmp_path / "r.csv", retail_lines())))
    validate_landed(data_root, LAST, VCONFIG)
    uri = storage.partition_uri(data_root, "validated", c.EVENTS, "2009-12-05")
    good = _file(uri).read_bytes()
    _flip(_file(uri), len(good) // 2)
    with pytest.raises(CorruptPartitionError, match=r"validated/events/ds=2009-12-05.*checksum"):
        storage.read_partition(uri)
    assert ecom(["verify", "--root", data_root, "--stage", "validated"]) == 1
    assert "CORRUPT " + uri in capsys.readouterr().out
    out = validate_landed(data_root, LAST, VCONFIG)  # the next nightly's validation
    assert any("ds=2009-12-05" in line for line in out["corrupt_rebuilt"])
    assert _file(uri).read_bytes() == good
    assert list(Path(data_root, "corrupt", "validated", "events", "ds=2009-12-05").iterdir())
    assert ecom(["verify", "--root", data_root]) == 0, capsys.readouterr().out


def test_case4_overwritten_raw_bytes_are_re_landed_by_the_next_ingest(tmp_path, data_root):
    config = retail(write_csv(tmp_path / "r.csv", retail_lines()))
    ingest(data_root, LAST, config)
    uri = storage.partition_uri(data_root, "raw", c.EVENTS, "2009-12-03")
    good = _file(uri).read_bytes()
    _file(uri).write_bytes(good[:100] + b"\0" * 64 + good[164:])
    with pytest.raises(CorruptPartitionError, match=r"raw/events/ds=2009-12-03"):
        storage.read_partition(uri)
    assert ecom(["verify", "--root", data_root, "--stage", "raw", "--ds", "2009-12-03", "--repair"]) == 1
    again = ingest(data_root, LAST, config)
    assert again["days_written"] == 1 and _file(uri).read_bytes() == good


def test_case4_older_manifests_are_migrated_without_rewriting_data(tmp_path, data_root):
    config = retail(write_csv(tmp_path / "r.csv", retail_lines()))
    ingest(data_root, LAST, config)
    uri = storage.partition_uri(data_root, "raw", c.EVENTS, "2009-12-03")
    body = json.loads(Path(uri, storage.MANIFEST).read_text())
    body.pop("file_checksums"), body.pop("hash_version")
    Path(uri, storage.MANIFEST).write_text(json.dumps(body))
    stat = _file(uri).stat()
    assert storage.read_manifest(uri).file_checksums == {}
    storage.read_partition(uri)  # an older manifest still reads
    ingest(data_root, LAST, config)
    assert storage.read_manifest(uri).file_checksums and _file(uri).stat().st_mtime_ns == stat.st_mtime_ns


# --- 6. smaller cases --------------------------------------------------------------------------


def test_case6_float_ids_in_a_landing_csv_are_one_customer_and_unknown_users_are_reported(
    tmp_path, data_root
):
    folder = tmp_path / "landing"
    rows = {"2024-05-01": "13085.0", "2024-05-02": "13085"}
    for day, user in rows.items():
        (folder / f"ds={day}").mkdir(parents=True)
        (folder / f"ds={day}" / "events.csv").write_text(
            "event_id,ts,user_id,session_id,item_id,event_type,quantity,unit_price,order_id,country\n"
            f"e{day},{day}T10:00:00,{user},s1,i1,purchase,1,2.5,o{day},UK\n"
        )
    (folder / "ds=2024-05-01" / "users.csv").write_text(
        "user_id,first_seen,country\n99,2024-05-01T00:00:00,UK\n"
    )
    summary = ingest(data_root, "2024-05-02", IngestConfig(source="landing", source_path=str(folder)))
    events = storage.read_partition(storage.partition_uri(data_root, "raw", c.EVENTS, "2024-05-02"))
    assert list(events[c.USER_ID]) == ["13085"]
    assert summary["policies"]["unknown_users"] == {"events_unknown_user": 2, "examples": ["13085"]}


def test_case6_bom_semicolon_and_header_only_files(tmp_path, data_root):
    lines = retail_lines(days=2)
    bom = write_csv(tmp_path / "bom.csv", lines, encoding="utf-8-sig")
    assert ingest(data_root, "2009-12-02", retail(bom))["rows"]["events"] == 8
    semi = tmp_path / "semi.csv"
    semi.write_text("\n".join(x.replace(",", ";") for x in [HEADER, *lines]))
    with pytest.raises(SourceError, match=r"semi.csv: .*separated by ';'.*decimal"):
        ingest(data_root, "2009-12-02", retail(semi))
    header = tmp_path / "header.csv"
    header.write_text(HEADER + "\n")
    with pytest.raises(SourceError, match=r"header.csv: has a header but no data lines"):
        ingest(data_root, "2009-12-02", retail(header))


def test_case6_future_dated_rows_are_quarantined_with_a_record(tmp_path, data_root):
    folder = tmp_path / "landing"
    (folder / "ds=2024-05-01").mkdir(parents=True)
    body = ["event_id,ts,user_id,session_id,item_id,event_type,quantity,unit_price,order_id,country"]
    body += [f"e{i},2024-05-01T10:0{i}:00,u1,s1,i1,view,1,0,,UK" for i in range(3)]
    body += [f"f{i},2030-05-01T10:0{i}:00,u1,s1,i1,view,1,0,,UK" for i in range(3)]
    (folder / "ds=2024-05-01" / "events.csv").write_text("\n".join(body) + "\n")
    config = IngestConfig(source="landing", source_path=str(folder))
    summary = ingest(data_root, "2024-05-01", config)
    future = summary["policies"]["future_rows"]
    assert future["future_rows"] == 3 and "2030-05-01" in future["example"]
    held = storage.read_partition(future["quarantined_to"])
    assert list(held["event_id"]) == ["f0", "f1", "f2"] and held["reason"].str.contains("after").all()
    with pytest.raises(SourceError, match=r"3 event\(s\) are dated after the run's day"):
        ingest(str(tmp_path / "r2"), "2024-05-01", IngestConfig(source="landing", source_path=str(folder),
                                                           future_rows="refuse"))  # fmt: skip


def test_case6_a_kill_while_replacing_days_leaves_one_version_visible(tmp_path, data_root, monkeypatch):
    ingest(data_root, LAST, retail(write_csv(tmp_path / "a.csv", retail_lines())))
    old = snapshot(data_root)
    newer = retail(write_csv(tmp_path / "b.csv", retail_lines(per_day=5)))
    real = storage.commit_partition
    calls = {"n": 0}

    def killed(prepared):
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt("killed")
        return real(prepared)

    # Killed before the commit point (while data files are prepared): the old landing is intact.
    monkeypatch.setattr(
        storage, "prepare_partition", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt())
    )
    with pytest.raises(KeyboardInterrupt):
        ingest(data_root, LAST, newer)
    assert snapshot(data_root) == old
    monkeypatch.undo()
    # Killed after it, halfway through the manifests: the next reader finishes the new landing.
    monkeypatch.setattr(storage, "commit_partition", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(data_root, LAST, newer)
    monkeypatch.undo()
    assert Path(landing.journal_uri(data_root)).exists()
    validate_landed(data_root, LAST, VCONFIG)
    assert not Path(landing.journal_uri(data_root)).exists()
    for day in storage.list_partitions(data_root, "raw", c.EVENTS):
        assert storage.read_manifest(storage.partition_uri(data_root, "raw", c.EVENTS, day)).row_count == 10
    assert ingest(data_root, LAST, newer)["days_written"] == 0


def test_case6_content_hash_does_not_depend_on_chunks(data_root):
    frame = pd.DataFrame({"a": ["x", "y", "z"] * 4, "b": range(12)})
    whole = pd.concat([frame.iloc[:5], frame.iloc[5:]], ignore_index=True)  # two Arrow chunks
    assert storage.to_arrow(whole).column("a").num_chunks == 2
    assert storage.content_hash(whole) == storage.content_hash(frame.copy())
    uri = storage.partition_uri(data_root, "raw", "t", "2024-01-01")
    storage.write_partition(whole, uri, source="t")
    assert storage.write_partition(frame, uri, source="t")[1] is False
    assert integrity.verify(data_root, ["raw"])["corrupt"] == []
