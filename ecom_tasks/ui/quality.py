"""Data quality and behaviour analytics: validation summaries, quarantined rows, Data Docs, the
daily funnel, cohort retention and the behaviour report of a day."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.features import columns as fc
from ecom_tasks.ui.cache import TableCache
from ecom_tasks.ui.config import DEFAULT_UI, UIConfig
from ecom_tasks.ui.files import data_file, days_with_file
from ecom_tasks.ui.inputs import NotFound
from ecom_tasks.validation.history import summary_uri
from ecom_tasks.validation.report import jsonable

log = logging.getLogger(__name__)


def summary_days(root: str) -> list[dt.date]:
    """Days with a validation summary, oldest first."""
    return days_with_file(root, catalog.VALIDATION, catalog.SUMMARY, catalog.SUMMARY_FILE)


def _pick(days: list[dt.date], ds: dt.date | None, what: str) -> dt.date | None:
    if ds is None:
        return days[-1] if days else None
    if ds not in days:
        raise NotFound(f"no {what} for ds={ds.isoformat()}")
    return ds


def data_quality(root: str, ds: dt.date | None = None, config: UIConfig = DEFAULT_UI) -> dict[str, Any]:
    """The validation result of ``ds`` (default: the newest day validated) per table.

    Returns ``{"ds", "status", "critical_failures", "warnings", "tables": {table: {"rows_in",
    "rows_clean", "rows_quarantined", "quarantined_share", "quarantine_reasons",
    "quarantine_partition_rows", "passed"}}, "data_docs", "history": [{"ds", "status"}]}``;
    ``ds`` None when nothing has been validated. :class:`NotFound` for a ``ds`` never validated.
    """
    days = summary_days(root)
    day = _pick(days, ds, "validation summary")
    history = []
    for d in days[-config.chart_days :]:
        try:
            status = storage.read_json(summary_uri(root, d)).get("status")
            history.append({"ds": d.isoformat(), "status": status})
        except (OSError, ValueError) as exc:
            log.warning("validation summary of %s unreadable: %s", d, exc)
    docs = data_file(root, catalog.DATA_DOCS_INDEX, catalog.DATA_DOCS) is not None
    if day is None:
        return {"ds": None, "status": None, "tables": {}, "critical_failures": [], "warnings": [],
                "data_docs": docs, "history": history}  # fmt: skip
    summary = storage.read_json(summary_uri(root, day))
    tables = {}
    for table in contract.TABLES:
        info = dict(summary.get("tables", {}).get(table) or {})
        info.pop("expectations", None)
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.QUARANTINE, table, day))
        info["quarantine_partition_rows"] = manifest.row_count if manifest is not None else None
        tables[table] = info
    return jsonable({
        "ds": day.isoformat(),
        "status": summary.get("status"),
        "critical_failures": summary.get("critical_failures", []),
        "warnings": summary.get("warnings", []),
        "tables": tables,
        "data_docs": docs,
        "history": history,
    })  # fmt: skip


def _analytics(root: str, table: str, ds: dt.date | None, cache: TableCache) -> tuple[dt.date | None, Any]:
    days = storage.list_partitions(root, catalog.FEATURES, table)
    day = _pick(days, ds, f"{table} table")
    if day is None:
        return None, None
    uri = storage.partition_uri(root, catalog.FEATURES, table, day)
    manifest = storage.read_manifest(uri)
    frame = cache.memo(("analytics", uri), manifest.content_hash if manifest else None,
                       lambda: storage.read_partition(uri))  # fmt: skip
    return day, frame


def funnel(root: str, ds: dt.date | None, cache: TableCache, config: UIConfig = DEFAULT_UI) -> dict[str, Any]:
    """The last ``chart_days`` days of ``features/funnel_daily`` as of ``ds`` (default newest):
    ``{"ds", "days": [...], "sessions", "with_view", "with_cart", "with_purchase", "conversion",
    "totals": {step: sessions over the window}}``."""
    day, frame = _analytics(root, catalog.FUNNEL_DAILY, ds, cache)
    if day is None:
        return {"ds": None, "days": []}
    tail = frame.sort_values(fc.DAY).tail(config.chart_days)
    steps = {"sessions": fc.N_SESSIONS, "with_view": fc.SESSIONS_VIEW, "with_cart": fc.SESSIONS_CART,
             "with_purchase": fc.SESSIONS_PURCHASE}  # fmt: skip
    out: dict[str, Any] = {"ds": day.isoformat(), "days": [d.date().isoformat() for d in tail[fc.DAY]]}
    for name, col in steps.items():
        out[name] = tail[col].astype(float).tolist() if col in tail else []
    rate = fc.SESSION_CONVERSION
    out["conversion"] = tail[rate].astype(float).tolist() if rate in tail else []
    out["totals"] = {name: float(sum(out[name])) for name in steps}
    return jsonable(out)


def retention(
    root: str, ds: dt.date | None, cache: TableCache, config: UIConfig = DEFAULT_UI
) -> dict[str, Any]:
    """The newest ``cohort_months`` cohorts of ``features/cohort_retention``: ``{"ds", "cohorts",
    "periods", "matrix": [[retention or None]], "sizes"}``."""
    day, frame = _analytics(root, catalog.COHORT_RETENTION, ds, cache)
    if day is None or frame.empty:
        empty: dict[str, Any] = {"cohorts": [], "periods": [], "matrix": [], "sizes": []}
        return {"ds": day.isoformat() if day else None, **empty}
    cohorts = sorted(frame[fc.COHORT].astype(str).unique())[-config.cohort_months :]
    part = frame[frame[fc.COHORT].astype(str).isin(cohorts)]
    wide = part.pivot_table(index=fc.COHORT, columns=fc.PERIOD, values=fc.RETENTION, aggfunc="first")
    wide = wide.reindex(cohorts)
    sizes = part.groupby(fc.COHORT)[fc.COHORT_SIZE].first().reindex(cohorts)
    matrix = [[None if pd.isna(v) else float(v) for v in row] for row in wide.to_numpy()]
    return jsonable({"ds": day.isoformat(), "cohorts": cohorts, "periods": [int(p) for p in wide.columns],
                     "matrix": matrix, "sizes": sizes.fillna(0).astype(int).tolist()})  # fmt: skip


def report_days(root: str) -> list[dt.date]:
    """Days with a behaviour report, oldest first."""
    return days_with_file(root, catalog.REPORTS, catalog.BEHAVIOUR_REPORT, catalog.REPORT_HTML)


def report_file(root: str, ds: dt.date) -> Path:
    """The behaviour report of ``ds``; :class:`NotFound` when there is none."""
    found = data_file(
        root, catalog.REPORT_HTML, catalog.REPORTS, catalog.BEHAVIOUR_REPORT, f"ds={ds.isoformat()}"
    )
    if found is None:
        raise NotFound(f"no behaviour report for ds={ds.isoformat()}")
    return found


def data_docs_file(root: str, relative: str) -> Path:
    """A file of the Data Docs site; :class:`NotFound` when absent or outside the site."""
    found = data_file(root, relative, catalog.DATA_DOCS)
    if found is None:
        raise NotFound("no such Data Docs page")
    return found
