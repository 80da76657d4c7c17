from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.errors import ConfigError


def _frame(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"a": range(n), "b": pd.Series([f"x{i}" for i in range(n)], dtype="string")})


def test_partition_uri_layout(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    assert uri == f"{data_root}/raw/events/ds=2024-01-05"
    with pytest.raises(ConfigError, match="ds: 'yesterday'"):
        storage.partition_uri(data_root, "raw", "events", "yesterday")
    with pytest.raises(ConfigError, match="table"):
        storage.partition_uri(data_root, "raw", "../x", "2024-01-05")


def test_data_root_from_env(data_root):
    assert storage.data_root() == data_root
    assert storage.data_root("/elsewhere/") == "/elsewhere"


def test_write_read_roundtrip_with_manifest(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    _, changed = storage.write_partition(_frame(), uri, source="test", extra={"k": 1})
    assert changed
    raw = json.loads(Path(uri, storage.MANIFEST).read_text())
    assert raw["row_count"] == 3 and raw["source"] == "test" and raw["extra"] == {"k": 1}
    assert raw["schema"] == {"a": "int64", "b": "string"}
    assert raw["content_hash"] == storage.content_hash(_frame())
    assert raw["code_version"]
    pd.testing.assert_frame_equal(storage.read_partition(uri), _frame())
    assert storage.list_partitions(data_root, "raw", "events") == [storage.as_date("2024-01-05")]


def test_rewrite_same_content_is_a_noop_and_new_content_replaces(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    first, _ = storage.write_partition(_frame(), uri, source="test")
    mtime = os.path.getmtime(os.path.join(uri, storage.MANIFEST))
    again, changed = storage.write_partition(_frame(), uri, source="test")
    assert not changed and again.content_hash == first.content_hash
    assert os.path.getmtime(os.path.join(uri, storage.MANIFEST)) == mtime
    storage.write_partition(_frame(5), uri, source="test")
    assert len(storage.read_partition(uri)) == 5
    files = sorted(os.listdir(uri))
    assert len([f for f in files if f.endswith(".parquet")]) == 1, files  # no duplicate data left behind


def test_a_lost_data_file_is_written_again_by_the_same_content(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    manifest, _ = storage.write_partition(_frame(), uri, source="test")
    os.remove(os.path.join(uri, manifest.files[0]))  # deleted by hand under an intact manifest
    with pytest.raises(FileNotFoundError):
        storage.read_partition(uri)
    again, changed = storage.write_partition(_frame(), uri, source="test")
    assert changed and again.content_hash == manifest.content_hash
    pd.testing.assert_frame_equal(storage.read_partition(uri), _frame())


def test_failed_write_leaves_previous_partition(data_root, monkeypatch):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    storage.write_partition(_frame(), uri, source="test")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "to_parquet_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        storage.write_partition(_frame(7), uri, source="test")
    monkeypatch.undo()
    pd.testing.assert_frame_equal(storage.read_partition(uri), _frame())


def test_uncommitted_partition_is_invisible(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-06")
    os.makedirs(uri)
    Path(uri, "part-x.parquet").write_bytes(b"half written")
    assert storage.list_partitions(data_root, "raw", "events") == []
    with pytest.raises(FileNotFoundError, match="no committed partition"):
        storage.read_partition(uri)


def test_memory_filesystem_roundtrip():
    uri = "memory://ecom-test/raw/events/ds=2024-01-05"
    storage.write_partition(_frame(), uri, source="test")
    pd.testing.assert_frame_equal(storage.read_partition(uri), _frame())
    assert storage.read_manifest(uri).row_count == 3


def test_json_documents(data_root):
    uri = f"{data_root}/ingest/summary/ds=2024-01-05/summary.json"
    storage.write_json({"b": 1, "a": [1, 2]}, uri)
    assert storage.read_json(uri) == {"a": [1, 2], "b": 1}


def test_same_content_with_new_metadata_refreshes_only_the_manifest(data_root):
    uri = storage.partition_uri(data_root, "validated", "events", "2024-01-05")
    first, _ = storage.write_partition(_frame(), uri, source="test", extra={"raw": "a"})
    again, changed = storage.write_partition(_frame(), uri, source="test", extra={"raw": "b"})
    assert not changed and again.files == first.files
    assert storage.read_manifest(uri).extra == {"raw": "b"}


def _mixed(n: int, start: int = 0) -> pd.DataFrame:
    """Every dtype the stages write: Arrow strings with nulls, ints, floats with NaN, UTC times."""
    ids = pd.Series([f"id{i}" if i % 7 else None for i in range(start, start + n)], dtype="string")
    return pd.DataFrame(
        {
            "id": ids,
            "n": pd.Series(range(start, start + n), dtype="int64"),
            "x": pd.Series([float(i) if i % 5 else None for i in range(start, start + n)], dtype="float64"),
            "ts": pd.date_range("2024-01-01", periods=n, freq="s", tz="UTC").as_unit("us"),
        }
    )


@pytest.mark.parametrize("n", [0, 5, 131_072, 131_073, 300_000])
def test_read_partition_returns_what_pandas_reads_chunks_included(data_root, n):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-05")
    storage.write_partition(_mixed(n), uri, source="test")
    (name,) = storage.read_manifest(uri).files
    expected = pd.read_parquet(Path(uri, name))
    got = storage.read_partition(uri)
    pd.testing.assert_frame_equal(got, expected)
    # the same Arrow chunks too: content hashes of what a stage reads and writes back stay stable
    assert storage.content_hash(got) == storage.content_hash(expected)
    columns = storage.read_partition(uri, columns=["ts", "id"])
    pd.testing.assert_frame_equal(columns, expected[["ts", "id"]])


def test_read_partitions_equals_concatenating_the_partitions(data_root):
    uris = [storage.partition_uri(data_root, "raw", "events", f"2024-01-0{d}") for d in (1, 2, 3, 4)]
    frames = [_mixed(5), _mixed(0), _mixed(8, start=5), _mixed(3, start=13)]
    for uri, df in zip(uris, frames, strict=True):
        storage.write_partition(df, uri, source="test")
    got, sizes = storage.read_partitions(uris)
    expected = pd.concat([storage.read_partition(u) for u in uris], ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)
    assert sizes == [5, 0, 8, 3]
    # each partition's rows, cut out again, hash as the partition read alone
    assert storage.content_hash(got.iloc[13:16].reset_index(drop=True)) == storage.content_hash(
        storage.read_partition(uris[3])
    )
    assert storage.read_partitions(uris[1:2])[1] == [0]


def test_read_partitions_where_keeps_the_rows_whose_column_is_one_of_the_values(data_root):
    uris = [storage.partition_uri(data_root, "raw", "events", f"2024-01-0{d}") for d in (1, 2)]
    frames = [_mixed(9), _mixed(6, start=9)]
    for uri, df in zip(uris, frames, strict=True):
        storage.write_partition(df, uri, source="test")
    got, sizes = storage.read_partitions(uris, where=("id", ["id1", "id3", "id12", "absent"]))
    everything = pd.concat(frames, ignore_index=True)
    expected = everything[everything["id"].isin(["id1", "id3", "id12"]).fillna(False).to_numpy()]
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))
    assert sizes == [2, 1]  # the rows kept per partition (id0 and id7 are null: never kept)


def test_read_partitions_of_different_layouts_concatenates_frame_by_frame(data_root):
    uris = [storage.partition_uri(data_root, "raw", "items", f"2024-01-0{d}") for d in (1, 2)]
    storage.write_partition(_mixed(3), uris[0], source="test")
    storage.write_partition(_mixed(2).astype({"n": "float64"}), uris[1], source="test")
    got, sizes = storage.read_partitions(uris)
    assert sizes == [3, 2] and str(got["n"].dtype) == "float64"
    pd.testing.assert_frame_equal(
        got, pd.concat([storage.read_partition(u) for u in uris], ignore_index=True)
    )


def test_read_partitions_names_a_missing_partition(data_root):
    uris = [storage.partition_uri(data_root, "raw", "users", f"2024-01-0{d}") for d in (1, 2)]
    storage.write_partition(_frame(), uris[0], source="test")
    with pytest.raises(FileNotFoundError, match="ds=2024-01-02"):
        storage.read_partitions(uris)


def test_memory_filesystem_reads_together():
    uris = [f"memory://ecom-test/raw/items/ds=2024-01-0{d}" for d in (1, 2)]
    for n, uri in zip((2, 3), uris, strict=True):
        storage.write_partition(_frame(n), uri, source="test")
    got, sizes = storage.read_partitions(uris)
    assert sizes == [2, 3] and list(got["a"]) == [0, 1, 0, 1, 2]


def test_a_write_over_leftovers_removes_them(data_root):
    uri = storage.partition_uri(data_root, "raw", "events", "2024-01-07")
    os.makedirs(uri)
    Path(uri, "part-x.parquet").write_bytes(b"half written")  # a crashed write, never committed
    Path(uri, "_manifest.json.tmp-0").write_bytes(b"{")
    storage.write_partition(_frame(), uri, source="test")
    (name,) = storage.read_manifest(uri).files
    assert sorted(os.listdir(uri)) == [storage.MANIFEST, name]
    pd.testing.assert_frame_equal(storage.read_partition(uri), _frame())


def test_same_content_gives_the_same_bytes(data_root):
    uris = [storage.partition_uri(data_root, "quarantine", "events", f"2024-01-0{d}") for d in (1, 2)]
    for uri in uris:
        storage.write_partition(_mixed(0), uri, source="test")
    files = [Path(u, storage.read_manifest(u).files[0]).read_bytes() for u in uris]
    assert files[0] == files[1] == storage.to_parquet_bytes(_mixed(0))
