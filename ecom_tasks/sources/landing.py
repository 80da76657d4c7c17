"""A landing folder of canonical CSV / Parquet files dropped once a day.

Layout::

    {path}/ds=YYYY-MM-DD/events.{csv,csv.gz,parquet}   required: that day's events
    {path}/ds=YYYY-MM-DD/items.{...}                   optional: items new or changed that day
    {path}/ds=YYYY-MM-DD/users.{...}                   optional: users new or changed that day
    {path}/ds=YYYY-MM-DD/support_log.{...}               optional: the shop's support log (the assistant's)
    {path}/ds=YYYY-MM-DD/stock.{...}                     optional: units on hand and on order per item
                                                         at the end of the day (the forecast's plan)

Files hold exactly the canonical columns of their table (any order). CSV cells are text: empty
means null, timestamps are ISO 8601 (naive ones are taken as UTC). Parquet columns must already
have the right types (strings, integers, floats, timestamps; naive timestamps are taken as UTC).
Entries whose name starts with "." or "_" (``_SUCCESS``, ``.DS_Store``) are ignored.

Item and user deltas are merged "as first seen": ``first_seen`` is the earliest one delivered and
every other attribute is the first non-null value in ``first_seen`` order (delivery order on ties),
so a later delta never rewrites what was already known.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from ecom_tasks.catalog import STOCK, SUPPORT_LOG
from ecom_tasks.contract import (
    EVENT_ID,
    EVENTS,
    FIRST_SEEN,
    ITEMS,
    PRIMARY_KEYS,
    SCHEMAS,
    TABLES,
    TS,
    TS_DTYPE,
    USERS,
    conform,
    empty_frame,
)
from ecom_tasks.errors import ConfigError, ContractError, SourceError
from ecom_tasks.sources import _io
from ecom_tasks.sources.base import ShopTables

log = logging.getLogger(__name__)

DAY_PREFIX = "ds="
LANDING_FORMATS: tuple[str, ...] = (_io.PARQUET, _io.CSV_GZ, _io.CSV)


def _fs(path: Path | str) -> tuple[fsspec.AbstractFileSystem, str]:
    return fsspec.core.url_to_fs(str(path))


def _full(fs: fsspec.AbstractFileSystem, path: str) -> str:
    """A path pandas can open: plain for local files, with its protocol (``memory://``) otherwise."""
    return path if isinstance(fs, LocalFileSystem) else fs.unstrip_protocol(path)


def _visible(entry: str) -> bool:
    name = entry.rstrip("/").rsplit("/", 1)[-1]
    return not name.startswith((".", "_"))


def _day_folders(path: Path | str) -> dict[dt.date, str]:
    fs, root = _fs(path)
    if not fs.isdir(root):
        raise SourceError(path, "landing folder not found")
    days: dict[dt.date, str] = {}
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if entry["type"] != "directory" or not _visible(name):
            continue
        try:
            if not name.startswith(DAY_PREFIX):
                raise ValueError
            day = dt.date.fromisoformat(name[len(DAY_PREFIX) :])
        except ValueError:
            raise SourceError(
                _full(fs, f"{root}/{name}"), f"folder name {name!r} is not a day {DAY_PREFIX}YYYY-MM-DD"
            ) from None
        days[day] = _full(fs, f"{root}/{name}")
    return dict(sorted(days.items()))


def landing_days(path: Path | str) -> list[dt.date]:
    """The days present in the landing folder, oldest first."""
    return list(_day_folders(path))


def _day_files(folder: str) -> dict[str, str]:
    """``{table: file}`` of one day folder; SourceError for unknown or ambiguous files."""
    fs, root = _fs(folder)
    found: dict[str, str] = {}
    for entry in fs.ls(root, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if not _visible(name):
            continue
        file = _full(fs, f"{root}/{name}")
        table, _, _ = name.partition(".")
        if table in (SUPPORT_LOG, STOCK):  # read by the assistant and the forecast, not ingest
            continue
        if table not in TABLES:
            raise SourceError(file, f"unexpected file; expected {', '.join(TABLES)} files")
        _io.file_format(file, LANDING_FORMATS)
        if table in found:
            raise SourceError(file, f"a day holds one {table} file, also found {found[table]}")
        found[table] = file
    if EVENTS not in found:
        raise SourceError(folder, f"required {EVENTS} file missing (one of {EVENTS}.{{csv,csv.gz,parquet}})")
    return found


def read_landing_file(file: str, table: str) -> pd.DataFrame:
    """Read one landing file as a conformed canonical ``table``; errors name file and column."""
    strict = _io.file_format(file, LANDING_FORMATS) == _io.PARQUET
    raw = _io.read_parquet(file) if strict else _io.read_csv(file, dtype="str")
    expected = [c.name for c in SCHEMAS[table]]
    missing = [c for c in expected if c not in raw.columns]
    if missing:
        raise SourceError(file, f"missing column(s) {missing}; {table} needs {expected}", column=missing[0])
    extra = [str(c) for c in raw.columns if c not in expected]
    if extra:
        raise SourceError(file, f"unexpected column(s) {extra}; {table} has {expected}", column=extra[0])
    out = {}
    for col in SCHEMAS[table]:
        series = raw[col.name].reset_index(drop=True)
        kwargs = {"path": file, "column": col.name, "locate": _io.csv_row, "strict": strict}
        if col.dtype == TS_DTYPE:
            out[col.name] = _io.parse_timestamps(series, **kwargs)
        elif col.dtype in ("int64", "float64"):
            out[col.name] = _io.parse_number(series, integer=col.dtype == "int64", **kwargs)
        elif col.name.endswith("_id") and not strict:
            # A spreadsheet round trip turns 13085 into "13085.0": one customer, one id.
            out[col.name] = _io.id_strings(series)
        else:
            out[col.name] = _text(series, file, col.name, strict)
    try:
        return conform(pd.DataFrame(out), table, where=file)
    except ContractError as exc:  # unreachable after the checks above, kept as a safety net
        raise SourceError(file, str(exc)) from exc


def _text(series: pd.Series, file: str, column: str, strict: bool) -> pd.Series:
    if strict and not series.isna().all():
        if pd.api.types.is_object_dtype(series.dtype):
            ok = all(isinstance(v, str) for v in series.dropna())
        else:
            ok = isinstance(series.dtype, pd.StringDtype)
        if not ok:
            raise SourceError(file, f"has type {series.dtype}, expected strings", column=column)
    return _io.clean_strings(series, strip=False)


def _merge_first_seen(frames: list[pd.DataFrame], table: str, end: pd.Timestamp | None) -> pd.DataFrame:
    """Collapse delivered rows to one per key: earliest first_seen, first non-null attributes."""
    if not frames:
        return empty_frame(table)
    rows = pd.concat(frames, ignore_index=True).sort_values(FIRST_SEEN, kind="stable")
    if end is not None:
        rows = rows[rows[FIRST_SEEN] < end]
    key = PRIMARY_KEYS[table]
    merged = rows.groupby(key, sort=False, dropna=False).first()  # first() skips nulls per column
    return conform(merged.reset_index(), table)


def read_landing(path: Path | str, until: dt.date | str | None = None) -> ShopTables:
    """Read every day folder up to ``until`` (inclusive) as canonical tables.

    Events later than ``until`` are left out (counted in ``excluded_after_until`` and returned
    as ``future_events``, which the ingest quarantines) and so are item/user rows first seen
    after it. Id columns of CSV files are normalised as the Online Retail adapter does
    (``"13085.0"`` -> ``"13085"``). Stats also count ``events_outside_day`` (events whose UTC
    day is not their folder's day; kept) and ``duplicate_event_ids`` (kept for validation).
    """
    last = _io.as_day(until, "until")
    end = _io.day_end(last) if last else None
    events, deltas = [], {ITEMS: [], USERS: []}
    stats = {"days": 0, "events_read": 0, "events_outside_day": 0, "item_rows": 0, "user_rows": 0}
    for day, folder in _day_folders(path).items():
        if last and day > last:
            continue
        stats["days"] += 1
        files = _day_files(folder)
        day_events = read_landing_file(files[EVENTS], EVENTS)
        stats["events_read"] += len(day_events)
        on_day = day_events[TS].dt.floor("D") == pd.Timestamp(day, tz="UTC")
        stats["events_outside_day"] += int((~on_day).sum())
        events.append(day_events)
        for table, key in ((ITEMS, "item_rows"), (USERS, "user_rows")):
            if table in files:
                delta = read_landing_file(files[table], table)
                stats[key] += len(delta)
                deltas[table].append(delta)
    frame = pd.concat(events, ignore_index=True) if events else empty_frame(EVENTS)
    future = None
    if end is not None:
        future = conform(frame[frame[TS] >= end].reset_index(drop=True), EVENTS)
        frame = frame[frame[TS] < end]
    frame = conform(frame.sort_values(TS, kind="stable"), EVENTS)
    items = _merge_first_seen(deltas[ITEMS], ITEMS, end)
    users = _merge_first_seen(deltas[USERS], USERS, end)
    stats.update(
        excluded_after_until=stats["events_read"] - len(frame),
        events=len(frame),
        duplicate_event_ids=int(frame[EVENT_ID].duplicated().sum()),
        items=len(items),
        users=len(users),
    )
    log.info("read landing %s: %s", path, stats)
    return ShopTables(events=frame, items=items, users=users, stats=stats, future_events=future)


def write_landing_day(
    path: Path | str, day: dt.date | str, tables: ShopTables, fmt: str = _io.PARQUET
) -> str:
    """Write ``tables`` as the landing drop of ``day`` and return the day folder.

    Events are always written (even when empty); items and users only when non-empty. Files of
    the same table in another format are removed first, so a day never holds two of them.

    Args:
        fmt: ``parquet``, ``csv`` or ``csv.gz``.
    """
    if fmt not in LANDING_FORMATS:
        raise ConfigError(f"fmt: {fmt!r} is not one of {', '.join(LANDING_FORMATS)}")
    the_day = _io.as_day(day, "day")
    fs, root = _fs(path)
    folder = f"{root}/{DAY_PREFIX}{the_day}"
    fs.makedirs(folder, exist_ok=True)
    for table in TABLES:
        frame = conform(getattr(tables, table), table, where=f"{table} for {folder}")
        for other in LANDING_FORMATS:
            stale = f"{folder}/{table}.{other}"
            if other != fmt and fs.exists(stale):
                fs.rm(stale)
        if table != EVENTS and frame.empty:
            continue
        target = f"{folder}/{table}.{fmt}"
        with fs.open(target, "wb") as fh:
            if fmt == _io.PARQUET:
                frame.to_parquet(fh, index=False, engine="pyarrow")
            else:
                frame.to_csv(fh, index=False, compression="gzip" if fmt == _io.CSV_GZ else None)
    log.info("wrote landing day %s (%s rows of events)", folder, len(tables.events))
    return folder
