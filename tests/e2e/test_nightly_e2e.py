"""End to end: the real ecom_nightly DAG run through Airflow on a small synthetic shop."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage

from .conftest import RUN_DS, SMALL_SHOP

pytestmark = pytest.mark.slow


def _manifests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob(storage.MANIFEST))}


def test_run_landed_every_day_of_history(nightly_run):
    env, proc = nightly_run
    assert "ecom_nightly" in proc.stdout + proc.stderr
    root = str(env.data_root)
    expected = [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(21)]
    for table in c.TABLES:
        assert storage.list_partitions(root, "raw", table) == expected, table
    events = storage.read_partition(storage.partition_uri(root, "raw", c.EVENTS, RUN_DS))
    assert len(events) > 0
    assert set(events[c.TS].dt.date.astype(str)) == {RUN_DS}
    summary = json.loads((env.data_root / "ingest" / "summary" / f"ds={RUN_DS}" / "summary.json").read_text())
    assert summary["rows"]["events"] == len(events)
    assert summary["days_in_source"] == 21


def test_rerun_changes_nothing(nightly_run):
    env, _ = nightly_run
    before = _manifests(env.data_root)
    proc = env.dags_test(RUN_DS, SMALL_SHOP)
    assert proc.returncode == 0, proc.stderr[-4000:]
    after = _manifests(env.data_root)
    assert after == before  # same content, same manifests: nothing was rewritten or duplicated


def test_every_landed_day_was_validated_and_features_built(nightly_run):
    env, _ = nightly_run
    root = str(env.data_root)
    assert storage.list_partitions(root, "validated", c.EVENTS) == storage.list_partitions(
        root, "raw", c.EVENTS
    )
    summary = json.loads(
        (env.data_root / "validation" / "summary" / f"ds={RUN_DS}" / "summary.json").read_text()
    )
    assert summary["passed"] is True
    profiles = storage.read_partition(storage.partition_uri(root, "features", "customer_profiles", RUN_DS))
    assert len(profiles) > 0 and not profiles.select_dtypes("number").isna().any().any()
    assert (env.data_root / "reports" / "behaviour" / f"ds={RUN_DS}" / "report.html").stat().st_size > 10_000
    assert (
        storage.read_manifest(
            storage.partition_uri(root, "features", "training_interactions", RUN_DS)
        ).row_count
        > 0
    )
