"""Validate every landed day that needs it, oldest first, up to the run's date.

A run over a file source (or the first run on the synthetic shop) lands many days at once; each of
them must pass the gate before features are built from it. A day is validated again only when its
raw content changed since it was last validated (its validated partitions record the raw content
hashes they came from), so a nightly run validates one day and a rerun validates none.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.validation.config import ValidationConfig
from ecom_tasks.validation.gate import RAW, VALIDATED, validate_partition

log = logging.getLogger(__name__)


def _raw_hashes(root: str, day: dt.date) -> dict[str, str] | None:
    hashes = {}
    for table in c.TABLES:
        manifest = storage.read_manifest(storage.partition_uri(root, RAW, table, day))
        if manifest is None:
            return None
        hashes[table] = manifest.content_hash
    return hashes


def needs_validation(root: str, day: dt.date) -> bool:
    """True when ``day`` has no validated partitions, or they came from other raw content."""
    raw = _raw_hashes(root, day)
    for table in c.TABLES:
        manifest = storage.read_manifest(storage.partition_uri(root, VALIDATED, table, day))
        if manifest is None or manifest.extra.get("raw_content_hash") != raw:
            return True
    return False


def validate_landed(root: str, ds: str | dt.date, config: ValidationConfig | None = None) -> dict[str, Any]:
    """Validate each raw day up to ``ds`` that needs it, oldest first, then report on ``ds``.

    Days are validated in date order so each one's history checks see the days before it. The
    first critical failure stops the run (:class:`ValidationFailed` propagates, naming the day,
    table and expectation); days after it stay unvalidated, so nothing downstream reads them.

    Returns:
        The result of validating ``ds`` itself (or a note that it was already valid), plus the
        list of days validated in this call.
    """
    root = storage.data_root(root)
    day = storage.as_date(ds)
    config = config or ValidationConfig()
    landed = [d for d in storage.list_partitions(root, RAW, c.EVENTS) if d <= day]
    pending = [d for d in landed if needs_validation(root, d)]
    if day not in landed:
        pending.append(day)  # validate_partition names the missing raw partition
    result: dict[str, Any] = {"ds": day.isoformat(), "status": "already validated", "passed": True}
    for n, pending_day in enumerate(pending, 1):
        if len(pending) > 1:
            log.info("validating %s (%d of %d pending days)", pending_day, n, len(pending))
        outcome = validate_partition(root, pending_day, config)
        if pending_day == day:
            result = outcome
    result["days_validated"] = [d.isoformat() for d in pending]
    return result
