"""Issue 16, case 5: writers of one root are serialised, tested with two real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ecom_tasks import contract as c
from ecom_tasks import fsio, storage
from ecom_tasks.errors import ConcurrentWriterError
from ecom_tasks.writelock import lock_uri, writer_lock
from tests.test_data_safety import retail_lines, write_csv

PROJECT = Path(__file__).resolve().parents[1]


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(PROJECT))
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


HOLD = """
    import sys, time
    from ecom_tasks.writelock import writer_lock
    with writer_lock(sys.argv[1], "holder in a test"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
"""

INGEST = """
    import json, sys
    from ecom_tasks.ingest import IngestConfig, ingest
    from ecom_tasks.errors import ConcurrentWriterError
    config = IngestConfig(source="online_retail", source_path=sys.argv[2], lock_wait_s=float(sys.argv[3]))
    try:
        print(json.dumps(ingest(sys.argv[1], "2009-12-12", config)["first_day"]))
    except ConcurrentWriterError as exc:
        print("REFUSED", exc)
        sys.exit(3)
"""


def test_a_second_process_is_refused_naming_the_holder(data_root):
    holder = _spawn(HOLD, data_root, "5")
    assert holder.stdout.readline().strip() == "locked"
    with (
        pytest.raises(ConcurrentWriterError, match=rf"holder in a test \(host .*, pid {holder.pid},"),
        writer_lock(data_root, "second", wait_s=0.3),
    ):
        pass
    holder.kill()
    holder.wait()
    # The holder was killed: its lock is stale (same host, no such process) and is taken over.
    with writer_lock(data_root, "after the kill", wait_s=1):
        body = json.loads(Path(lock_uri(data_root)).read_text())
        assert body["pid"] == os.getpid()
    assert not Path(lock_uri(data_root)).exists()


def test_two_ingests_of_different_files_at_once_leave_one_consistent_landing(tmp_path, data_root):
    a = write_csv(tmp_path / "a.csv", retail_lines())
    b = write_csv(tmp_path / "b.csv", retail_lines(per_day=5))
    first, second = _spawn(INGEST, data_root, str(a), "120"), _spawn(INGEST, data_root, str(b), "120")
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    rows = {
        storage.read_manifest(storage.partition_uri(data_root, "raw", c.EVENTS, d)).row_count
        for d in storage.list_partitions(data_root, "raw", c.EVENTS)
    }
    assert rows in ({8}, {10})  # every day from one file, never a mix
    for day in storage.list_partitions(data_root, "raw", c.EVENTS):
        storage.read_partition(storage.partition_uri(data_root, "raw", c.EVENTS, day))  # files intact
    holder = _spawn(HOLD, data_root, "5")
    assert holder.stdout.readline().strip() == "locked"
    out, _ = _spawn(INGEST, data_root, str(a), "0").communicate(timeout=120)
    assert "REFUSED" in out and "holder in a test" in out
    holder.kill()
    holder.wait()


def test_temporary_files_are_hidden_and_unique_so_clean_up_spares_other_writers(data_root):
    folder = Path(data_root, "raw", "events", "ds=2024-01-01")
    folder.mkdir(parents=True)
    theirs = folder / ".tmp-0123-part-other.parquet"  # another writer's file, mid-write
    theirs.write_bytes(b"x")
    import pandas as pd

    uri = str(folder)
    storage.write_partition(pd.DataFrame({"a": [1]}), uri, source="t")
    storage.write_partition(pd.DataFrame({"a": [2]}), uri, source="t")  # replaces, cleans up
    assert theirs.exists()
    fs, path = fsio.resolve(uri)
    assert [n for n in fsio.list_names(fs, path) if n.startswith(".tmp-") and n != theirs.name] == []
