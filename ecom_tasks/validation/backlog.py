"""Validate every landed day that needs it, oldest first, up to the run's date.

A run over a file source (or the first run on the synthetic shop) lands many days at once; each of
them must pass the gate before features are built from it. A day is validated again only when its
raw content changed since it was last validated (its validated partitions record the raw content
hashes they came from), so a nightly run validates one day and a rerun validates none. A backlog
of many days is validated in a few batches rather than day by day (Great Expectations costs about
20 ms per expectation and run, whatever the rows: ~1 s per day, minutes for a year of days).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from ecom_tasks import aside, catalog, integrity, landing, storage
from ecom_tasks import contract as c
from ecom_tasks.validation import history as hist
from ecom_tasks.validation.batch import StackedDays, backlog_gate, batchable, validate_days
from ecom_tasks.validation.config import ValidationConfig
from ecom_tasks.validation.core import schema_ok
from ecom_tasks.validation.gate import publish, read_raw, validate_partition
from ecom_tasks.writelock import writer_lock

log = logging.getLogger(__name__)


def _raw_hashes(root: str, day: dt.date) -> dict[str, set[str]] | None:
    hashes = {}
    for table in c.TABLES:
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.RAW, table, day))
        if manifest is None:
            return None
        hashes[table] = manifest.hashes()  # with the hash an older version recorded
    return hashes


def needs_validation(root: str, day: dt.date) -> bool:
    """True when ``day`` has no validated partitions, or they came from other raw content."""
    raw = _raw_hashes(root, day)
    if raw is None:
        return True
    for table in c.TABLES:
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, table, day))
        if manifest is None:
            return True
        recorded = manifest.extra.get("raw_content_hash") or {}
        if set(recorded) != set(c.TABLES) or any(recorded[t] not in raw[t] for t in c.TABLES):
            return True
    return False


def set_aside_corrupt(root: str, days: list[dt.date]) -> list[str]:
    """Validated and quarantined partitions of ``days`` whose files no longer match their manifests.

    Each is moved to ``corrupt/`` with a record (so the day is validated again from raw) and
    named in the returned lines. Costs one read of the files (SHA-256 at ~1 GB/s).
    """
    found = []
    for day in days:
        for stage in (catalog.VALIDATED, catalog.QUARANTINE):
            for table in c.TABLES:
                uri = storage.partition_uri(root, stage, table, day)
                problem = integrity.check_files(uri)
                if problem is None:
                    continue
                manifest = storage.read_manifest(uri)
                if manifest is not None:
                    aside.quarantine_files(manifest, problem)
                found.append(f"{uri}: {problem}; validated again from raw")
    return found


def validate_landed(root: str, ds: str | dt.date, config: ValidationConfig | None = None) -> dict[str, Any]:
    """Validate each raw day up to ``ds`` that needs it, oldest first, then report on ``ds``.

    Days are validated in date order so each one's history checks see the days before it. A
    backlog of several days is validated in batches (one Great Expectations run for up to
    ``config.backlog_max_rows`` rows, see :mod:`ecom_tasks.validation.batch`) with the same
    outputs per day as validating the days one by one. The first critical failure stops the run
    (:class:`ValidationFailed` propagates, naming the day, table and expectation): the days before
    it stay validated, the days after it stay unvalidated, so nothing downstream reads them.

    Before that, an interrupted landing is finished (:func:`ecom_tasks.landing.recover`) and the
    validated partitions of the landed days are checked against their manifests: a corrupt one
    is moved to ``corrupt/`` and its day validated again. The root's writer lock is held.

    Returns:
        The result of validating ``ds`` itself (or a note that it was already valid), plus the
        list of days validated in this call and the corrupt partitions rebuilt.
    """
    root = storage.data_root(root)
    day = storage.as_date(ds)
    config = config or ValidationConfig()
    with writer_lock(root, f"validation for ds={day}"):
        landing.recover(root)
        landed = [d for d in storage.list_partitions(root, catalog.RAW, c.EVENTS) if d <= day]
        rebuilt = set_aside_corrupt(root, landed)
        for line in rebuilt:
            log.error("corrupt partition: %s", line)
        result = _validate_pending(root, day, landed, config)
        result["corrupt_rebuilt"] = rebuilt
        return result


def _validate_pending(
    root: str, day: dt.date, landed: list[dt.date], config: ValidationConfig
) -> dict[str, Any]:
    pending = [d for d in landed if needs_validation(root, d)]
    if day not in landed:
        pending.append(day)  # validate_partition names the missing raw partition
    result: dict[str, Any] = {"ds": day.isoformat(), "status": "already validated", "passed": True}
    if len(pending) > 1 and batchable():
        outs = _validate_backlog(root, pending, config)
    else:
        outs = {}
        for n, pending_day in enumerate(pending, 1):
            if len(pending) > 1:
                log.info("validating %s (%d of %d pending days)", pending_day, n, len(pending))
            outs[pending_day] = validate_partition(root, pending_day, config)
    result = outs.get(day, result)
    result["days_validated"] = [d.isoformat() for d in pending]
    return result


def _canonical(frames: dict[str, pd.DataFrame]) -> bool:
    """Every table has exactly the contract's columns, in its order, with its dtypes."""
    return all(list(df.columns) == c.columns(t) and schema_ok(df, t) for t, df in frames.items())


def _stackable(root: str, day: dt.date) -> dict[str, storage.Manifest] | None:
    """The day's raw manifests when each says the contract's layout (else ``None``)."""
    manifests = {}
    for table in c.TABLES:
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.RAW, table, day))
        if manifest is None or list(manifest.schema.items()) != list(c.dtypes(table).items()):
            return None
        manifests[table] = manifest
    return manifests


def _groups(
    root: str, pending: list[dt.date], max_rows: int
) -> Iterator[tuple[list[dt.date], list[dict[str, storage.Manifest]] | None]]:
    """``pending`` cut into runs of days to read together, of about ``max_rows`` rows each.

    A day whose raw partitions are missing or not in the contract's layout (by their manifests)
    comes alone, without manifests: it is read and validated on its own.
    """
    days: list[dt.date] = []
    manifests: list[dict[str, storage.Manifest]] = []
    rows = 0
    for day in pending:
        found = _stackable(root, day)
        if found is None:
            if days:
                yield days, manifests
                days, manifests, rows = [], [], 0
            yield [day], None
            continue
        days.append(day)
        manifests.append(found)
        rows += sum(m.row_count for m in found.values())
        if rows >= max_rows:
            yield days, manifests
            days, manifests, rows = [], [], 0
    if days:
        yield days, manifests


def _read_stacked(root: str, days: list[dt.date]) -> StackedDays | None:
    """The days' raw tables read end to end, or ``None`` if one cannot be read as the contract's."""
    frames, sizes = {}, {}
    for table in c.TABLES:
        uris = [storage.partition_uri(root, catalog.RAW, table, d) for d in days]
        try:
            frames[table], sizes[table] = storage.read_partitions(uris)
        except (OSError, ValueError, pa.ArrowException) as exc:
            log.info(
                "%s..%s: reading the days one by one (%s: %s)", days[0], days[-1], type(exc).__name__, exc
            )
            return None
    if not _canonical(frames):
        return None
    return StackedDays(frames, sizes)


def _validate_backlog(root: str, pending: list[dt.date], config: ValidationConfig) -> dict[dt.date, dict]:
    """Validate ``pending`` in batches of at most ``config.backlog_max_rows`` rows, in date order.

    Each batch's raw partitions are read together (:func:`storage.read_partitions`, one
    conversion to pandas per table instead of one per day and table). A day whose raw data
    cannot join a batch (a missing or unreadable partition, a layout other than the contract's)
    is validated alone, after the batch of the days before it. Data Docs are built once, at the
    end (also when a day fails).
    """
    gate = backlog_gate(root, config)
    docs = gate.docs_index()
    known: dict[dt.date, hist.HistoryDay | None] = {}  # history looked up or validated here
    outs: dict[dt.date, dict] = {}
    keys: list[Any] = []

    def run(days: list[dt.date], frames: StackedDays | list[dict[str, pd.DataFrame]], hashes: list) -> None:
        log.info("validating %s..%s: %d days in one batch", days[0], days[-1], len(days))
        reports = validate_days(
            days, frames, config, lambda d: hist.load_history(root, d, config, known), gate, run_keys=keys
        )
        for report, raw_hashes in zip(reports, hashes, strict=True):
            outs[report.ds] = publish(root, report, raw_hashes, config, docs)
            known[report.ds] = hist.HistoryDay(report.ds, dict(report.metrics))

    def alone(day: dt.date) -> None:
        log.info("validating %s alone (%d of %d pending days)", day, pending.index(day) + 1, len(pending))
        outs[day] = validate_partition(root, day, config)
        known.pop(day, None)  # read it back from storage when a later day looks

    def flush(chunk: list[tuple[dt.date, dict[str, pd.DataFrame], dict[str, str]]]) -> None:
        if chunk:
            run([d for d, _, _ in chunk], [f for _, f, _ in chunk], [h for _, _, h in chunk])
            chunk.clear()

    try:
        for days, manifests in _groups(root, pending, config.backlog_max_rows):
            stacked = None if manifests is None else _read_stacked(root, days)
            if stacked is not None:
                run(days, stacked, [{t: m.content_hash for t, m in found.items()} for found in manifests])
                continue
            # Day by day: each readable day in the contract's layout joins a batch, others go alone.
            chunk: list[tuple[dt.date, dict[str, pd.DataFrame], dict[str, str]]] = []
            for day in days:
                frames, raw_hashes, problems = read_raw(root, day)
                if not problems and _canonical(frames):
                    chunk.append((day, frames, raw_hashes))
                    continue
                flush(chunk)
                alone(day)
            flush(chunk)
    finally:
        gate.build_docs(keys)
    return outs
