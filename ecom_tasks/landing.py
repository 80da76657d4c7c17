"""A source's landing is one unit: all of its raw partitions change together, or none do.

Ingest prepares every changed raw partition first (data files written, invisible without their
manifests), then commits the landing in three steps:

1. ``{root}/ingest/landing/journal.json`` is written atomically: every manifest to commit and every
   day to retract. This is the commit point: before it the old landing is intact (the new data
   files are unreferenced); after it the new landing is decided.
2. The journal is applied: the manifests are written, and the retracted days (days an earlier
   landing left that the new one does not contain) have their raw, validated and quarantined
   partitions and their validation summary moved under ``{root}/retracted/`` with a record.
3. The landing record ``current.json`` is written and the journal removed.

A process killed in step 2 leaves the journal: the next ingest, validation or ``ecom verify``
applies it again first (every step is idempotent), so what the pipeline reads is the old landing
or the new one, never a mix of both.
"""

from __future__ import annotations

import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ecom_tasks import aside, catalog, fsio, storage
from ecom_tasks import contract as c

log = logging.getLogger(__name__)

# Everything keyed by day that is derived from a raw day and goes with it when it is retracted.
DERIVED_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (catalog.RAW, c.TABLES),
    (catalog.VALIDATED, c.TABLES),
    (catalog.QUARANTINE, c.TABLES),
)


def _landing_folder(root: str) -> str:
    return f"{storage.data_root(root)}/{catalog.INGEST}/{catalog.LANDING}"


def journal_uri(root: str) -> str:
    return f"{_landing_folder(root)}/{catalog.JOURNAL_FILE}"


def record_uri(root: str) -> str:
    return f"{_landing_folder(root)}/{catalog.POINTER_FILE}"


def read_record(root: str) -> dict[str, Any] | None:
    """The record of the last committed landing (source, fingerprint, days), if any."""
    try:
        return storage.read_json(record_uri(root))
    except FileNotFoundError:
        return None


def _manifest_from(entry: dict[str, Any]) -> storage.PreparedWrite:
    manifest = storage.Manifest.from_dict(entry["uri"], entry["manifest"])
    return storage.PreparedWrite(manifest, changed=bool(entry["changed"]), fresh=False)


def _retraction_record_uri(root: str, stamp: str) -> str:
    return f"{storage.data_root(root)}/{catalog.RETRACTED}/{catalog.RETRACTION_RECORDS}/{stamp}.json"


def retract_day(root: str, day: dt.date, stamp: str, reason: str) -> list[str]:
    """Move every partition of ``day`` derived from its raw data under ``retracted/``; their URIs."""
    moved = []
    for stage, tables in DERIVED_STAGES:
        for table in tables:
            uri = storage.partition_uri(root, stage, table, day)
            if aside.move_aside(uri, catalog.RETRACTED, {"reason": reason}, stamp) is not None:
                moved.append(uri)
    summary = f"{storage.data_root(root)}/{catalog.VALIDATION}/{catalog.SUMMARY}/ds={day.isoformat()}"
    fs, path = fsio.resolve(summary)
    if fsio.exists(fs, path):
        aside.move_aside(summary, catalog.RETRACTED, {"reason": reason}, stamp)
        moved.append(summary)
    return moved


def apply_journal(root: str, journal: dict[str, Any], writers: int = 4) -> list[str]:
    """Apply a committed journal (idempotent); returns the retracted partitions."""
    prepared = [_manifest_from(e) for e in journal["manifests"]]
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(storage.commit_partition, prepared))
    moved = []
    for day in journal["retract"]:
        moved += retract_day(root, dt.date.fromisoformat(day), journal["stamp"], journal["reason"])
    if journal["retract"]:
        record = {k: journal[k] for k in ("stamp", "reason", "retract", "record")} | {"moved": moved}
        storage.write_json(record, _retraction_record_uri(root, journal["stamp"]))
    storage.write_json(journal["record"], record_uri(root))
    fs, path = fsio.resolve(journal_uri(root))
    fsio.remove(fs, path)
    return moved


def recover(root: str) -> bool:
    """Finish a landing that a killed process left half applied; whether there was one."""
    try:
        journal = storage.read_json(journal_uri(root))
    except FileNotFoundError:
        return False
    log.warning(
        "the landing of %s committed at %s was interrupted; finishing it now",
        journal["record"].get("source"),
        journal["stamp"],
    )
    apply_journal(root, journal)
    return True


def commit(
    root: str,
    writes: list[storage.PreparedWrite],
    retract: list[dt.date],
    record: dict[str, Any],
    reason: str,
    writers: int = 4,
) -> dict[str, Any]:
    """Commit a landing: ``writes`` become visible and ``retract`` is moved aside, as one unit.

    Returns ``{"retracted_days", "retracted_partitions", "retraction_record"}`` for the summary.
    """
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    journal = {
        "stamp": stamp,
        "reason": reason,
        "record": record,
        "retract": [d.isoformat() for d in sorted(retract)],
        "manifests": [
            {"uri": w.manifest.uri, "changed": w.changed, "manifest": w.manifest.to_dict()} for w in writes
        ],
    }
    if writes or retract:
        storage.write_json(journal, journal_uri(root))  # the commit point
        moved = apply_journal(root, journal, writers)
    else:
        storage.write_json(record, record_uri(root))
        moved = []
    return {
        "retracted_days": journal["retract"],
        "retracted_partitions": len(moved),
        "retraction_record": _retraction_record_uri(root, stamp) if retract else None,
    }
