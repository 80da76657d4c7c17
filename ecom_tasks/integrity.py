"""Integrity of committed partitions: verify them against their manifests, set bad ones aside.

A partition whose files do not match its manifest (a bit flip, overwritten or truncated bytes, a
lost file) is never trusted: it is moved under ``{root}/corrupt/{stage}/{table}/ds=D/<stamp>/``
with a ``record.json`` saying what was wrong, which uncommits it, so the stage that owns it
rebuilds it from its upstream (ingest re-lands a raw day from the source, validation re-validates
a day from raw). Retracted partitions (days of an earlier landing that the new one does not
contain) are moved the same way under ``{root}/retracted/``.

``verify`` is the deep check behind ``ecom verify``: besides sizes and checksums it reads each
partition and recomputes its content hash.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa

from ecom_tasks import catalog, fsio, storage
from ecom_tasks.aside import quarantine_files
from ecom_tasks.errors import CorruptPartitionError

log = logging.getLogger(__name__)

DEFAULT_STAGES: tuple[str, ...] = (catalog.RAW, catalog.VALIDATED, catalog.QUARANTINE, catalog.FEATURES)


@dataclass(frozen=True)
class Finding:
    """One partition checked by :func:`verify_partition`."""

    uri: str
    problem: str | None  # None: intact
    migrated: bool = False  # checksums were added to an older manifest


def check_files(uri: str) -> str | None:
    """The cheap check: every file is present with the manifest's size and checksum (``None``: intact)."""
    manifest = storage.read_manifest(uri)
    if manifest is None:
        return None
    try:
        storage._read_tables(uri, columns=[])
    except CorruptPartitionError as exc:
        return exc.problem
    return None


def verify_partition(uri: str, migrate: bool = True) -> Finding:
    """The deep check: files against the manifest, then the content hash recomputed from the rows.

    With ``migrate``, a manifest written before file checksums existed gets them added (its data
    is not rewritten) once its content hash has been confirmed.
    """
    manifest = storage.read_manifest(uri)
    if manifest is None:
        return Finding(uri, "no manifest")
    try:
        tables = storage._read_tables(uri, None)
    except CorruptPartitionError as exc:
        return Finding(uri, exc.problem)
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    digest = storage.table_hash(table)
    # A manifest from before hash version 2 hashed the rows as laid out in memory when written,
    # which a read cannot reproduce: its file is checked by reading it (rows, Parquet) only.
    if manifest.file_checksums and digest not in manifest.hashes():
        return Finding(
            uri, f"content hash {digest[:12]} differs from the manifest's {manifest.content_hash[:12]}"
        )
    if migrate and not manifest.file_checksums:
        fs, path = fsio.resolve(uri)
        sums = {n: storage.checksum(fsio.read_bytes(fs, f"{path}/{n}") or b"") for n in manifest.files}
        legacy = [] if digest == manifest.content_hash else [manifest.content_hash]
        migrated = replace(manifest, content_hash=digest, file_checksums=sums, legacy_hashes=legacy)
        storage.commit_partition(storage.PreparedWrite(migrated, changed=False, fresh=False))
        return Finding(uri, None, migrated=True)
    return Finding(uri, None)


def partitions(root: str, stages: Iterable[str], days: Iterable[dt.date] | None = None) -> list[str]:
    """URIs of the committed partitions of ``stages`` (every table), on ``days`` if given."""
    root = storage.data_root(root)
    wanted = set(days) if days is not None else None
    out = []
    for stage in stages:
        fs, path = fsio.resolve(f"{root}/{stage}")
        if not fsio.exists(fs, path):
            continue
        for table in sorted(fsio.list_names(fs, path)):
            if table.startswith((".", "_")):
                continue
            for day in storage.list_partitions(root, stage, table):
                if wanted is None or day in wanted:
                    out.append(storage.partition_uri(root, stage, table, day))
    return out


def verify(
    root: str,
    stages: Iterable[str] = DEFAULT_STAGES,
    days: Iterable[dt.date] | None = None,
    repair: bool = False,
) -> dict[str, Any]:
    """Deep-check partitions; with ``repair`` move corrupt ones to ``corrupt/`` for a rebuild.

    Returns ``{"checked": n, "migrated": n, "corrupt": [{"partition", "problem", "moved_to"}]}``.
    """
    checked, migrated, bad = 0, 0, []
    for uri in partitions(root, stages, days):
        finding = verify_partition(uri, migrate=repair)
        checked += 1
        migrated += finding.migrated
        if finding.problem is None:
            continue
        entry = {"partition": uri, "problem": finding.problem, "moved_to": None}
        if repair:
            manifest = storage.read_manifest(uri)
            if manifest is not None:
                entry["moved_to"] = quarantine_files(manifest, finding.problem)
        bad.append(entry)
    return {"checked": checked, "migrated": migrated, "corrupt": bad}
