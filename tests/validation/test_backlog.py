"""Every landed day is validated once, oldest first; reruns validate nothing; changed raw days again."""

from __future__ import annotations

import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.ingest import IngestConfig, ingest
from ecom_tasks.sources.synthetic import SyntheticShopConfig
from ecom_tasks.validation import ValidationFailed
from ecom_tasks.validation.backlog import needs_validation, validate_landed

SHOP = SyntheticShopConfig(n_users=60, n_items=25, start_date="2024-02-01").without_dirt()


def test_backlog_is_validated_once_in_order(data_root):
    ingest(data_root, "2024-02-03", IngestConfig(synthetic=SHOP))
    result = validate_landed(data_root, "2024-02-03")
    assert result["days_validated"] == ["2024-02-01", "2024-02-02", "2024-02-03"]
    assert result["passed"] and result["ds"] == "2024-02-03"
    assert storage.list_partitions(data_root, "validated", c.EVENTS) == storage.list_partitions(
        data_root, "raw", c.EVENTS
    )
    assert validate_landed(data_root, "2024-02-03")["days_validated"] == []
    # A day whose raw content changes is validated again; the others are left alone.
    uri = storage.partition_uri(data_root, "raw", c.EVENTS, "2024-02-02")
    events = storage.read_partition(uri)
    storage.write_partition(events.iloc[1:].reset_index(drop=True), uri, source="test")
    assert needs_validation(data_root, storage.as_date("2024-02-02"))
    assert validate_landed(data_root, "2024-02-03")["days_validated"] == ["2024-02-02"]


def test_missing_raw_day_is_named(data_root):
    with pytest.raises(ValidationFailed, match="no raw partition"):
        validate_landed(data_root, "2024-02-03")
