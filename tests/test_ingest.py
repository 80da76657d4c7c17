"""Ingest: per-day partitions from every kind of source, idempotent reruns, bad input leaves data intact."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.ingest import IngestConfig, ingest, split_by_day
from ecom_tasks.sources.base import ShopTables
from ecom_tasks.sources.landing import write_landing_day
from ecom_tasks.sources.synthetic import SyntheticShopConfig

D1, D2, D3 = dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def _tables() -> ShopTables:
    events = c.conform(
        pd.DataFrame(
            {
                c.EVENT_ID: ["e1", "e2", "e3", "e4"],
                c.TS: ["2024-05-01T09:00Z", "2024-05-01T23:59:59Z", "2024-05-03T00:00Z", "2024-05-03T12:00Z"],
                c.USER_ID: ["u1", "u1", None, "u2"],
                c.SESSION_ID: ["s1", "s1", "s2", "s3"],
                c.ITEM_ID: ["i1", "i1", "i2", "i2"],
                c.EVENT_TYPE: ["view", "purchase", "view", "purchase"],
                c.QUANTITY: [1, 2, 1, 1],
                c.UNIT_PRICE: [0.0, 5.0, 0.0, 7.0],
                c.ORDER_ID: [None, "o1", None, "o2"],
                c.COUNTRY: ["UK", "UK", None, "FR"],
            }
        ),
        c.EVENTS,
    )
    items = c.conform(
        pd.DataFrame(
            {
                c.ITEM_ID: ["i1", "i2"],
                c.TITLE: ["Mug", None],
                c.CATEGORY: ["kitchen", None],
                c.PRICE: [5.0, 7.0],
                c.FIRST_SEEN: ["2024-05-01T09:00Z", "2024-05-03T00:00Z"],
            }
        ),
        c.ITEMS,
    )
    users = c.conform(
        pd.DataFrame(
            {
                c.USER_ID: ["u1", "u2"],
                c.FIRST_SEEN: ["2024-05-01T09:00Z", "2024-05-03T12:00Z"],
                c.COUNTRY: ["UK", "FR"],
            }
        ),
        c.USERS,
    )
    return ShopTables(events, items, users)


def test_split_by_day_covers_every_day_with_point_in_time_snapshots():
    days = list(split_by_day(_tables(), D1, D3))
    assert [d.day for d in days] == [D1, D2, D3]
    assert [len(d.tables.events) for d in days] == [2, 0, 2]  # the empty day is explicit
    assert [len(d.tables.items) for d in days] == [1, 1, 2]  # i2 is unknown before May 3
    assert [len(d.tables.users) for d in days] == [1, 1, 2]
    for d in days:
        assert c.contract_problems(d.tables.events, c.EVENTS) == []


def _landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    for landing_day in split_by_day(_tables(), D1, D3):
        if len(landing_day.tables.events):
            write_landing_day(landing, landing_day.day, landing_day.tables, fmt="csv")
    return landing


def test_landing_ingest_writes_partitions_and_reruns_are_noops(tmp_path, data_root):
    landing = _landing(tmp_path)
    config = IngestConfig(source="landing", source_path=str(landing))
    first = ingest(data_root, D3, config)
    assert first["days_in_source"] == 3 and first["days_written"] == 3
    assert first["rows"] == {"events": 2, "items": 2, "users": 2}
    assert storage.list_partitions(data_root, "raw", c.EVENTS) == [D1, D2, D3]
    assert storage.read_manifest(storage.partition_uri(data_root, "raw", c.EVENTS, D2)).row_count == 0
    manifests = sorted(Path(data_root).rglob(storage.MANIFEST))
    before = {p: p.read_text() for p in manifests}
    again = ingest(data_root, D3, config)
    assert again["days_written"] == 0
    assert {p: p.read_text() for p in manifests} == before
    events = storage.read_partition(storage.partition_uri(data_root, "raw", c.EVENTS, D1))
    assert c.contract_problems(events, c.EVENTS) == []
    assert list(events[c.EVENT_ID]) == ["e1", "e2"]


def test_an_earlier_ds_lands_only_up_to_it(tmp_path, data_root):
    summary = ingest(data_root, D1, IngestConfig(source="landing", source_path=str(_landing(tmp_path))))
    assert summary["days_in_source"] == 1
    assert storage.list_partitions(data_root, "raw", c.EVENTS) == [D1]


@pytest.mark.parametrize("ds", ["2024-05-09", "2024-04-30", "2023-01-01"])
def test_ds_outside_the_days_of_a_file_is_refused_naming_them(tmp_path, data_root, ds):
    # After the end (unknown days are not empty days) or before the start (nothing to process):
    # a run that would land nothing fails loudly instead of succeeding.
    config = IngestConfig(source="landing", source_path=str(_landing(tmp_path)))
    with pytest.raises(
        SourceError, match=rf"holds days 2024-05-01..2024-05-03; the run's day ds={ds} has no"
    ):
        ingest(data_root, ds, config)
    assert storage.list_partitions(data_root, "raw", c.EVENTS) == []


def test_a_day_without_events_inside_a_file_is_landed_empty(tmp_path, data_root):
    # May 2 has no folder and no events, but the source goes on after it: the shop was closed.
    summary = ingest(data_root, D2, IngestConfig(source="landing", source_path=str(_landing(tmp_path))))
    assert summary["days_in_source"] == 2 and summary["rows"]["events"] == 0
    assert storage.list_partitions(data_root, "raw", c.EVENTS) == [D1, D2]


def test_bad_file_fails_before_anything_landed_is_touched(tmp_path, data_root):
    good = tmp_path / "retail.csv"
    good.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,GLASS BALL,12,2009-12-01 07:45:00,6.95,13085,United Kingdom\n"
        "489435,22041,FRAME,48,2009-12-02 08:00:00,2.10,,United Kingdom\n"
    )
    config = IngestConfig(source="online_retail", source_path=str(good))
    ingest(data_root, "2009-12-02", config)
    before = {p: p.read_text() for p in Path(data_root).rglob(storage.MANIFEST)}
    # The same file, now corrupt: a renamed column, then a truncated gzip.
    good.write_text(good.read_text().replace("Quantity", "Qty"))
    with pytest.raises(SourceError, match=r"retail.csv.*Quantity"):
        ingest(data_root, "2009-12-02", config)
    broken = tmp_path / "retail.csv.gz"
    broken.write_bytes(gzip.compress(b"Invoice,StockCode,Description\n" * 50)[:40])
    with pytest.raises(SourceError, match=r"retail.csv.gz"):
        ingest(data_root, "2009-12-02", IngestConfig(source="online_retail", source_path=str(broken)))
    assert {p: p.read_text() for p in Path(data_root).rglob(storage.MANIFEST)} == before


def test_synthetic_ingest_is_deterministic_and_bounded_by_history_days(data_root):
    shop = SyntheticShopConfig(n_users=80, n_items=30, start_date="2024-01-01")
    config = IngestConfig(synthetic=shop, history_days=3)
    summary = ingest(data_root, "2024-01-10", config)
    assert summary["first_day"] == "2024-01-08" and summary["days_in_source"] == 3
    uri = storage.partition_uri(data_root, "raw", c.EVENTS, "2024-01-10")
    assert storage.read_manifest(uri).row_count == summary["rows"]["events"] > 0
    assert ingest(data_root, "2024-01-10", config)["days_written"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "kafka"}, r"source: unknown source 'kafka'"),
        ({"source": "online_retail"}, r"source_path: required"),
        (
            {"source": "landing", "source_path": "/no/such/folder"},
            r"source_path: '/no/such/folder' does not exist",
        ),
        ({"history_days": 0}, r"history_days: must be at least 1"),
    ],
)
def test_config_errors_name_the_parameter(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        IngestConfig(**kwargs)


def test_config_from_dag_params():
    config = IngestConfig.from_params({"synthetic_users": 50, "seed": 3, "source_path": "", "unknown": 1})
    assert config.synthetic.n_users == 50 and config.synthetic.seed == 3
    with pytest.raises(ConfigError, match="synthetic_start_date"):
        IngestConfig.from_params({"synthetic_start_date": "01/02/2024"})


@pytest.mark.realdata
def test_online_retail_ii_lands_one_partition_per_day(online_retail_ii, data_root):
    summary = ingest(
        data_root, "2010-12-09", IngestConfig(source="online_retail", source_path=str(online_retail_ii))
    )
    stats = summary["source_stats"]
    assert stats["lines_read"] == 525_461 and stats["invoices"] == 28_816 and stats["customers"] == 4_383
    assert summary["first_day"] == "2009-12-01" and summary["days_in_source"] == 374
    total = sum(
        storage.read_manifest(storage.partition_uri(data_root, "raw", c.EVENTS, d)).row_count
        for d in storage.list_partitions(data_root, "raw", c.EVENTS)
    )
    assert total == stats["events"]
