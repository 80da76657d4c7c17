"""The validation stage's task function: raw partitions of a day in, validated and quarantined out.

Reads ``raw/{events,items,users}/ds=D``, runs the suites (:func:`validate_frames`), then writes:

1. ``quarantine/{table}/ds=D``: the rows that broke a row-level rule, with a ``reason`` column;
   written for every table on every run, empty when nothing was quarantined, so a rerun always
   replaces what an earlier run left.
2. ``validation/summary/ds=D/summary.json``: counts per table and per expectation, the day's
   figures, history checks, warnings and the verdict; the GE results and Data Docs pages
   (``{root}/data_docs``) are written by the checkpoints during the run.
3. Only when nothing critical failed: ``validated/{table}/ds=D`` with the clean rows. On a
   critical failure any validated partition of the day from an earlier run is removed, so nothing
   downstream can read the day, and :class:`ValidationFailed` is raised.

Raw partitions are only read. Everything written is keyed by ``ds`` and replaced atomically, so a
rerun of the same day gives the same outputs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa

from ecom_tasks import catalog, storage
from ecom_tasks import contract as c
from ecom_tasks.validation import history as hist
from ecom_tasks.validation import rowchecks
from ecom_tasks.validation.config import ValidationConfig
from ecom_tasks.validation.core import validate_frames
from ecom_tasks.validation.gxrun import gate_for
from ecom_tasks.validation.report import FAILED, ValidationFailed, ValidationReport
from ecom_tasks.validation.suites import all_rules

log = logging.getLogger(__name__)

SOURCE = catalog.VALIDATION  # the writer named in the manifests of validated/ and quarantine/
MAX_WARNINGS_RETURNED = 20  # the task's return value goes to XCom: keep it small


def read_raw(root: str, ds: dt.date) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[str]]:
    """The day's raw tables, their content hashes, and one line per partition that cannot be read."""
    frames, hashes, problems = {}, {}, []
    for table in c.TABLES:
        uri = storage.partition_uri(root, catalog.RAW, table, ds)
        manifest = storage.read_manifest(uri)
        if manifest is None:
            problems.append(f"{table}: no raw partition at {uri} (did ingest run for ds={ds}?)")
            continue
        try:
            frames[table] = storage.read_partition(uri)
            hashes[table] = manifest.content_hash
        except (OSError, ValueError, pa.ArrowException) as exc:
            files = ", ".join(manifest.files)
            problems.append(
                f"{table}: raw partition {uri} is unreadable ({files}): {type(exc).__name__}: {exc}"
            )
    return frames, hashes, problems


def _quarantine_frame(table: str, report: ValidationReport | None) -> pd.DataFrame:
    tr = report.tables.get(table) if report is not None else None
    if tr is not None and tr.quarantined is not None:
        return tr.quarantined
    return c.empty_frame(table).assign(**{rowchecks.REASON: pd.Series([], dtype=c.STRING_DTYPE)})


def _retract(root: str, ds: dt.date) -> None:
    """Remove the day's validated partitions (from an earlier, passing run): manifest first."""
    for table in c.TABLES:
        uri = storage.partition_uri(root, catalog.VALIDATED, table, ds)
        fs, path = fsspec.core.url_to_fs(uri)
        if fs.exists(path):
            if fs.exists(f"{path}/{storage.MANIFEST}"):
                fs.rm(f"{path}/{storage.MANIFEST}")
            fs.rm(path, recursive=True)
            log.warning("removed %s: the day no longer passes validation", uri)


def _write_failure(root: str, ds: dt.date, problems: list[str], config: ValidationConfig) -> str:
    summary = {
        "ds": ds.isoformat(),
        "status": FAILED,
        "passed": False,
        "critical_failures": problems,
        "warnings": [],
        "tables": {},
        "metrics": {},
        "history": {"days": [], "checks": []},
        "config": _config_dict(config),
    }
    return storage.write_json(summary, hist.summary_uri(root, ds))


def _config_dict(config: ValidationConfig) -> dict[str, Any]:
    return asdict(config)


def validate_partition(root: str, ds: str | dt.date, config: ValidationConfig = ValidationConfig()) -> dict:  # noqa: B008
    """Validate the raw partitions of day ``ds`` and publish the clean rows.

    Args:
        root: the data root (``storage.data_root()``).
        ds: the logical date; its data interval is ``[ds, ds+1)`` in UTC.
        config: thresholds.

    Returns:
        Small metadata for XCom: status, row counts per table (in / clean / quarantined), the
        first warnings, and the URIs of the summary, the Data Docs index and the validated tables.

    Raises:
        ValidationFailed: on a critical failure (after the summary and Data Docs are written),
            naming the table, the expectation and the observed value; or when a raw partition is
            missing or unreadable, naming the partition.
    """
    root = storage.data_root(root)
    day = storage.as_date(ds)
    frames, raw_hashes, problems = read_raw(root, day)
    if problems:
        for table in c.TABLES:
            storage.write_partition(
                _quarantine_frame(table, None),
                storage.partition_uri(root, catalog.QUARANTINE, table, day),
                source=SOURCE,
            )
        _retract(root, day)
        raise ValidationFailed(day, problems, _write_failure(root, day, problems, config))
    rules = [r for t in c.TABLES for r in all_rules()[t]]
    gate = gate_for(root, config, rules)
    history = hist.load_history(root, day, config)
    # Handing the frames over (pop) frees the raw events when validate_frames returns, before the
    # clean rows are written (peak memory of a 10M-event batch).
    report = validate_frames(
        frames.pop(c.EVENTS), frames.pop(c.ITEMS), frames.pop(c.USERS), day, history, config, gate=gate
    )
    return publish(root, report, raw_hashes, config, gate.docs_index())


def publish(
    root: str,
    report: ValidationReport,
    raw_hashes: dict[str, str],
    config: ValidationConfig,
    data_docs: str | None,
) -> dict[str, Any]:
    """Write a validated day: quarantine, then the clean rows and the summary, or the failure.

    Args:
        root: the data root.
        report: the day's report (from :func:`validate_frames` or a backlog batch).
        raw_hashes: content hashes of the raw partitions it came from (recorded in every manifest,
            so a day is validated again only when its raw data changes).
        config: thresholds (recorded in the summary).
        data_docs: the URL of the Data Docs index, if any.

    Returns:
        The task's small metadata (see :func:`validate_partition`).

    Raises:
        ValidationFailed: when the report has a critical failure (after quarantine and summary
            are written and any validated partition of the day is removed).
    """
    day = report.ds
    extra = {"raw_content_hash": raw_hashes}
    for table in c.TABLES:
        storage.write_partition(
            _quarantine_frame(table, report),
            storage.partition_uri(root, catalog.QUARANTINE, table, day),
            source=SOURCE,
            extra=extra,
            table=report.tables[table].quarantined_arrow if table in report.tables else None,
        )
    summary = report.summary(data_docs=data_docs, raw_content_hash=raw_hashes, config=_config_dict(config))
    uri = hist.summary_uri(root, day)
    if not report.passed:
        _retract(root, day)
        storage.write_json(summary, uri)
        log.error("validation of %s failed: %s", day, report.critical)
        raise ValidationFailed(day, report.critical, uri)
    validated = {}
    for table in c.TABLES:
        target = storage.partition_uri(root, catalog.VALIDATED, table, day)
        tr = report.tables[table]
        storage.write_partition(tr.clean, target, source=SOURCE, extra=extra, table=tr.clean_arrow)
        validated[table] = target
    storage.write_json(summary, uri)  # last: a passing summary implies the validated partitions exist
    for line in report.warnings:
        log.warning("%s: %s", day, line)
    rows = {
        t: {"in": tr.rows_in, "clean": tr.rows_clean, "quarantined": tr.rows_quarantined}
        for t, tr in report.tables.items()
    }
    log.info("validated %s: %s; %d warning(s); summary %s", day, rows, len(report.warnings), uri)
    return {
        "ds": day.isoformat(),
        "status": report.status,
        "passed": True,
        "rows": rows,
        "warnings": report.warnings[:MAX_WARNINGS_RETURNED],
        "n_warnings": len(report.warnings),
        "summary_uri": uri,
        "data_docs": data_docs,
        "validated": validated,
    }
