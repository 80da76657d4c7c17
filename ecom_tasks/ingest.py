"""Ingest stage: land a source's data as canonical, day-partitioned raw tables.

``raw/events/ds=D`` holds the events whose timestamp falls on day D (UTC); ``raw/items/ds=D`` and
``raw/users/ds=D`` hold snapshots of every item and user known by the end of D. A run for ``ds``
lands every day of the source up to ``ds`` (so later stages see the whole history); days whose
content is unchanged are left untouched, so reruns and backfills are idempotent. File sources are
read completely before anything is written: a bad file fails the run with landed data intact.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks import storage
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.params import RunParams
from ecom_tasks.sources import base
from ecom_tasks.sources.synthetic import SyntheticShopConfig

log = logging.getLogger(__name__)

STAGE = "raw"


@dataclass(frozen=True)
class IngestConfig:
    """How to ingest.

    Attributes:
        source: one of ``synthetic``, ``online_retail``, ``sequence``, ``landing``.
        source_path: the file or folder of a file source (unused for ``synthetic``).
        attributes_path: optional item-attributes JSON for the ``sequence`` source.
        synthetic: the built-in shop's configuration.
        history_days: land at most this many days ending at ``ds`` (``None``: the whole source).
        start_date: land nothing before this day (``None``: no bound); with ``history_days`` the
            later of the two bounds applies.
        writers: parallel partition writers (parquet encoding releases the GIL).
    """

    source: str = base.SYNTHETIC
    source_path: str | None = None
    attributes_path: str | None = None
    synthetic: SyntheticShopConfig = field(default_factory=SyntheticShopConfig)
    history_days: int | None = None
    start_date: dt.date | None = None
    writers: int = 4

    def __post_init__(self) -> None:
        if self.source not in base.SOURCES:
            raise ConfigError(f"source: unknown source {self.source!r}; expected one of {list(base.SOURCES)}")
        if self.source != base.SYNTHETIC:
            if not self.source_path:
                raise ConfigError(f"source_path: required for source {self.source!r}")
            if "://" not in self.source_path and not os.path.exists(self.source_path):
                raise ConfigError(f"source_path: {self.source_path!r} does not exist")
        if self.history_days is not None and self.history_days < 1:
            raise ConfigError(f"history_days: must be at least 1, got {self.history_days}")
        if self.writers < 1:
            raise ConfigError(f"writers: must be at least 1, got {self.writers}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> IngestConfig:
        """Build from a DAG run's ``params`` (validated by :class:`ecom_tasks.params.RunParams`)."""
        run = RunParams.from_mapping(params)
        shop = SyntheticShopConfig(
            seed=run.seed,
            n_users=run.synthetic_users,
            n_items=run.synthetic_items,
            start_date=run.synthetic_start_date,
        )
        return cls(
            source=run.source,
            source_path=run.source_path,
            attributes_path=run.attributes_path,
            synthetic=shop,
            history_days=run.history_days,
            start_date=dt.date.fromisoformat(run.start_date) if run.start_date else None,
        )


def day_bounds(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The data interval ``[day 00:00 UTC, day+1 00:00 UTC)`` of a logical date."""
    start = pd.Timestamp(day, tz="UTC")
    return start, start + pd.Timedelta(days=1)


@dataclass(frozen=True)
class LandingDay:
    """One day to land and its tables."""

    day: dt.date
    tables: base.ShopTables


def _conformed(df: pd.DataFrame, table: str, where: str = "") -> pd.DataFrame:
    """``df`` itself when it already has the canonical columns and dtypes (cheap), else conformed."""
    if c.has_canonical_layout(df, table):
        return df
    return c.conform(df, table, where=where)


def _naive_utc(series: pd.Series) -> np.ndarray:
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def split_by_day(
    tables: base.ShopTables, first: dt.date, last: dt.date
) -> Iterator[tuple[dt.date, base.ShopTables]]:
    """Cut whole-period tables into per-day tables for every day from ``first`` to ``last``.

    Days without events yield an empty events frame: an explicit "nothing happened" partition
    is different from a day that was never landed.
    """
    tables = base.ShopTables(
        events=_conformed(tables.events, c.EVENTS),
        items=_conformed(tables.items, c.ITEMS),
        users=_conformed(tables.users, c.USERS),
        stats=tables.stats,
    )
    events = tables.events
    # Naive UTC datetime64 arrays: numpy compares and searches them without per-element objects.
    ts = _naive_utc(events[c.TS])
    order = np.argsort(ts, kind="stable")
    events = events.iloc[order].reset_index(drop=True)
    ts = ts[order]
    items = tables.items.sort_values(c.FIRST_SEEN, kind="stable").reset_index(drop=True)
    users = tables.users.sort_values(c.FIRST_SEEN, kind="stable").reset_index(drop=True)
    item_seen = _naive_utc(items[c.FIRST_SEEN])
    user_seen = _naive_utc(users[c.FIRST_SEEN])
    day = first
    while day <= last:
        start = np.datetime64(day.isoformat(), "us")
        end = start + np.timedelta64(1, "D")
        lo, hi = np.searchsorted(ts, [start, end], side="left")
        n_items = int(np.searchsorted(item_seen, end, side="left"))
        n_users = int(np.searchsorted(user_seen, end, side="left"))
        day_tables = base.ShopTables(
            events=events.iloc[lo:hi].reset_index(drop=True),
            items=items.iloc[:n_items].reset_index(drop=True),
            users=users.iloc[:n_users].reset_index(drop=True),
        )
        yield LandingDay(day, day_tables)
        day += dt.timedelta(days=1)


def _read_file_source(config: IngestConfig, until: dt.date | None) -> base.ShopTables:
    path = str(config.source_path)
    if config.source == base.ONLINE_RETAIL:
        from ecom_tasks.sources.online_retail import read_online_retail

        return read_online_retail(path, until=until)
    if config.source == base.SEQUENCE:
        from ecom_tasks.sources.sequence import read_sequences

        return read_sequences(path, attributes_path=config.attributes_path, until=until)
    from ecom_tasks.sources.landing import read_landing

    return read_landing(path, until=until)


def _first_allowed(config: IngestConfig, ds: dt.date) -> dt.date:
    first = ds - dt.timedelta(days=config.history_days - 1) if config.history_days else dt.date.min
    return max(first, config.start_date) if config.start_date else first


def _source_span(config: IngestConfig) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with events of a file source (the whole file, not up to a run's day)."""
    events = _read_file_source(config, None).events[c.TS]
    return (events.min().date(), events.max().date()) if len(events) else (None, None)


def iter_source_days(config: IngestConfig, ds: dt.date) -> tuple[Iterator[LandingDay], dict[str, int]]:
    """The per-day tables to land for a run on ``ds``, and the source's own counts."""
    first_allowed = _first_allowed(config, ds)
    if config.source == base.SYNTHETIC:
        from ecom_tasks.sources.synthetic import generate

        shop = config.synthetic
        opening = (
            shop.start_date if isinstance(shop.start_date, dt.date) else storage.as_date(shop.start_date)
        )
        if ds < opening:
            raise ConfigError(
                f"ds: {ds} is before the synthetic shop opens ({opening}, synthetic.start_date)"
            )
        start = max(opening, first_allowed)
        days = (LandingDay(day, tables) for day, tables in generate(shop, start, ds))
        return days, {"source_days": (ds - start).days + 1}
    tables = _read_file_source(config, ds)
    if tables.events.empty or tables.events[c.TS].max().date() < ds:
        # Before the source's first day, or after its last, a run would land nothing (or unknown
        # days as empty, a lie): fail naming the days the source holds. A day without events
        # inside that range (a closed shop, a Sunday) is landed as an explicit empty day.
        first, last = _source_span(config)
        if first is None:
            raise SourceError(config.source_path, f"holds no events; the run's day ds={ds} has no data")
        if not first <= ds <= last:
            raise SourceError(
                config.source_path,
                f"holds days {first}..{last}; the run's day ds={ds} has no data: "
                f"run for a day from {first} to {last}",
            )
    first_day = tables.events[c.TS].min().date()
    start = max(first_day, first_allowed)
    return split_by_day(tables, start, ds), dict(tables.stats)


def _write_day(root: str, landing: LandingDay, source: str) -> dict[str, Any]:
    day, tables = landing.day, landing.tables
    out: dict[str, Any] = {"ds": day.isoformat(), "changed": []}
    for table, frame in ((c.EVENTS, tables.events), (c.ITEMS, tables.items), (c.USERS, tables.users)):
        conformed = _conformed(frame, table, where=f"{source} {table} for {day}")
        uri = storage.partition_uri(root, STAGE, table, day)
        manifest, changed = storage.write_partition(
            conformed, uri, source=source, extra={"day_stats": tables.stats}
        )
        out[table] = manifest.row_count
        if changed:
            out["changed"].append(table)
    return out


def ingest(root: str, ds: str | dt.date, config: IngestConfig) -> dict[str, Any]:
    """Land the configured source up to and including ``ds``.

    Args:
        root: the data root (``storage.data_root()``).
        ds: the run's logical date; its data interval is that whole UTC day.
        config: which source and how.

    Returns:
        Small metadata: days landed and changed, row counts for ``ds``, the raw partition URIs of
        ``ds`` and the source's own counts (lines read, excluded, anonymous, ...).
    """
    day = storage.as_date(ds)
    root = storage.data_root(root)
    days, source_stats = iter_source_days(config, day)
    source = config.source if config.source == base.SYNTHETIC else f"{config.source}:{config.source_path}"
    results: list[dict[str, Any]] = []
    pending: deque[Future[dict[str, Any]]] = deque()
    with ThreadPoolExecutor(max_workers=config.writers) as pool:
        for landing in days:
            pending.append(pool.submit(_write_day, root, landing, source))
            # A bounded window keeps memory flat: only a few days' frames are alive at once.
            while len(pending) >= 2 * config.writers:
                results.append(pending.popleft().result())
        results.extend(p.result() for p in pending)
    if not results:
        raise SourceError(config.source_path or config.source, f"produced no day up to {day}")
    today = results[-1]
    changed_days = [r["ds"] for r in results if r["changed"]]
    summary = {
        "ds": day.isoformat(),
        "source": config.source,
        "source_path": config.source_path,
        "days_in_source": len(results),
        "first_day": results[0]["ds"],
        "days_written": len(changed_days),
        "rows": {t: today[t] for t in c.TABLES},
        "uris": {t: storage.partition_uri(root, STAGE, t, day) for t in c.TABLES},
        "source_stats": {k: int(v) for k, v in source_stats.items()},
    }
    storage.write_json(summary, f"{root}/ingest/summary/ds={day.isoformat()}/summary.json")
    log.info(
        "landed %d day(s) of %s up to %s (%d rewritten); %s: %s",
        len(results),
        config.source,
        day,
        len(changed_days),
        day,
        summary["rows"],
    )
    return summary
