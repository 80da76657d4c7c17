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
