"""Ingest stage: land a source's data as canonical, day-partitioned raw tables.

``raw/events/ds=D`` holds the events whose timestamp falls on day D (UTC); ``raw/items/ds=D`` and
``raw/users/ds=D`` hold snapshots of every item and user known by the end of D. A run for ``ds``
lands every day of the source up to ``ds`` (so later stages see the whole history); days whose
content is unchanged are left untouched, so reruns and backfills are idempotent. File sources are
read completely before anything is written: a bad file fails the run with landed data intact.

Data safety: the source is checked as a whole first (:mod:`ecom_tasks.ingest_checks`: exact
duplicate lines, rows dated after the run's day, unknown users), a root has one writer at a time
(:mod:`ecom_tasks.writelock`), and a landing is committed as one unit (:mod:`ecom_tasks.landing`):
days that an earlier landing of another file left and the new one does not contain are retracted
with a record, and a process killed midway leaves the old landing or the new one, never a mix.
A raw partition whose files no longer match its manifest is re-landed instead of trusted.
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

from ecom_tasks import catalog, storage
from ecom_tasks import contract as c
from ecom_tasks import ingest_checks as checks
from ecom_tasks import landing as landing_unit
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.params import RunParams
from ecom_tasks.sources import base
from ecom_tasks.sources.synthetic import SyntheticShopConfig
from ecom_tasks.writelock import DEFAULT_WAIT_S, writer_lock

log = logging.getLogger(__name__)

POLICY_PARAMS = ("duplicate_lines", "max_duplicate_share", "future_rows", "date_order")


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
        duplicate_lines: ``keep`` exact duplicate lines (every column but the event id equal;
            real order files repeat lines) or ``drop`` them; the count is in the summary.
        max_duplicate_share: with ``keep``, a source whose share of exact duplicate lines is above
            this is refused (a file landed twice or exported with every line repeated).
        future_rows: events a landing folder delivers for days up to the run's day but dated
            after it: ``quarantine`` (to ``ingest_quarantine/events/ds=D``, with a reason) or
            ``refuse`` the run.
        date_order: how ``dd/dd/yyyy`` dates of Online Retail files are read: ``auto`` decides
            from the data (a first field above 12 means day first, a second one month first)
            and refuses a file where nothing decides; ``dayfirst`` or ``monthfirst`` say it.
        lock_wait_s: how long to wait for another writer of the root before failing.
    """

    source: str = base.SYNTHETIC
    source_path: str | None = None
    attributes_path: str | None = None
    synthetic: SyntheticShopConfig = field(default_factory=SyntheticShopConfig)
    history_days: int | None = None
    start_date: dt.date | None = None
    writers: int = 4
    duplicate_lines: str = checks.KEEP
    max_duplicate_share: float = 0.1
    future_rows: str = checks.QUARANTINE
    date_order: str = "auto"
    lock_wait_s: float = DEFAULT_WAIT_S

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
        choices = {
            "duplicate_lines": (checks.KEEP, checks.DROP),
            "future_rows": (checks.QUARANTINE, checks.REFUSE),
            "date_order": ("auto", "dayfirst", "monthfirst"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}: {getattr(self, name)!r} is not one of {list(allowed)}")
        if not 0.0 <= self.max_duplicate_share <= 1.0:
            raise ConfigError(f"max_duplicate_share: {self.max_duplicate_share!r} must be in [0, 1]")

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
        # The data-safety policies are run parameters (the trigger form's fields); their values
        # are checked here.
        policies = {k: getattr(run, k) for k in POLICY_PARAMS}
        return cls(
            source=run.source,
            source_path=run.source_path,
            attributes_path=run.attributes_path,
            synthetic=shop,
            history_days=run.history_days,
            start_date=dt.date.fromisoformat(run.start_date) if run.start_date else None,
            **policies,
        )


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

        return read_online_retail(path, until=until, date_order=config.date_order)
    if config.source == base.SEQUENCE:
        from ecom_tasks.sources.sequence import read_sequences

        return read_sequences(path, attributes_path=config.attributes_path, until=until)
    from ecom_tasks.sources.landing import read_landing

    return read_landing(path, until=until)


def _first_allowed(config: IngestConfig, ds: dt.date) -> dt.date:
    first = ds - dt.timedelta(days=config.history_days - 1) if config.history_days else dt.date.min
    return max(first, config.start_date) if config.start_date else first


@dataclass
class SourcePlan:
    """What a run lands: the days, the source's own counts, the policies' results."""

    days: Iterator[LandingDay]
    stats: dict[str, int]
    first_day: dt.date
    policies: dict[str, Any] = field(default_factory=dict)
    future_events: pd.DataFrame | None = None


def _source_span(config: IngestConfig) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day with events of a file source (the whole file, not up to a run's day)."""
    events = _read_file_source(config, None).events[c.TS]
    return (events.min().date(), events.max().date()) if len(events) else (None, None)


def iter_source_days(config: IngestConfig, ds: dt.date) -> tuple[Iterator[LandingDay], dict[str, int]]:
    """The per-day tables to land for a run on ``ds``, and the source's own counts."""
    plan = plan_source(config, ds)
    return plan.days, plan.stats


def plan_source(config: IngestConfig, ds: dt.date) -> SourcePlan:
    """Read the source, apply the ingest policies to it as a whole, and cut it into days."""
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
        return SourcePlan(days, {"source_days": (ds - start).days + 1}, start)
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
    tables, duplicates = checks.check_duplicates(
        tables, config.source_path, config.duplicate_lines, config.max_duplicate_share
    )
    policies = {"duplicates": duplicates, "unknown_users": checks.unknown_users(tables)}
    start = max(first_day, first_allowed)
    return SourcePlan(
        split_by_day(tables, start, ds), dict(tables.stats), first_day, policies, tables.future_events
    )


def _prepare_day(root: str, landing: LandingDay, source: str) -> dict[str, Any]:
    """Write the data files of a day's changed tables (not yet visible) and say what changed."""
    day, tables = landing.day, landing.tables
    out: dict[str, Any] = {"ds": day.isoformat(), "changed": [], "writes": []}
    for table, frame in ((c.EVENTS, tables.events), (c.ITEMS, tables.items), (c.USERS, tables.users)):
        conformed = _conformed(frame, table, where=f"{source} {table} for {day}")
        uri = storage.partition_uri(root, catalog.RAW, table, day)
        prepared = storage.prepare_partition(conformed, uri, source=source, extra={"day_stats": tables.stats})
        out[table] = len(conformed)
        if prepared is not None:
            out["writes"].append(prepared)
            if prepared.changed:
                out["changed"].append(table)
    return out


def _stale_days(root: str, produced: set[dt.date], plan_fp: str, config: IngestConfig) -> list[dt.date]:
    """Landed raw days that this landing replaces but does not contain (see :mod:`ecom_tasks.landing`).

    The same file landed again (a rerun, an earlier ``ds``) retracts nothing. Another file, or
    another source, replaces the whole landed range: every raw day it does not produce goes. A
    landing folder is compared day by day: a raw day whose day folder is gone goes.
    """
    landed = set()
    for table in c.TABLES:
        landed.update(storage.list_partitions(root, catalog.RAW, table))
    extra = sorted(landed - produced)
    if not extra:
        return []
    record = landing_unit.read_record(root)
    if record is None:
        # A root landed before landing records existed: the raw manifests say where days came from.
        source = _source_name(config)
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.RAW, c.EVENTS, extra[0]))
        same = manifest is not None and manifest.source == source
    else:
        same = record.get("fingerprint") == plan_fp
    if config.source == base.LANDING and same:
        from ecom_tasks.sources.landing import landing_days

        present = set(landing_days(str(config.source_path)))
        return [d for d in extra if d not in present]
    return [] if same else extra


def _source_name(config: IngestConfig) -> str:
    return config.source if config.source == base.SYNTHETIC else f"{config.source}:{config.source_path}"


def ingest(root: str, ds: str | dt.date, config: IngestConfig) -> dict[str, Any]:
    """Land the configured source up to and including ``ds``.

    Args:
        root: the data root (``storage.data_root()``).
        ds: the run's logical date; its data interval is that whole UTC day.
        config: which source and how.

    Returns:
        Small metadata: days landed and changed, row counts for ``ds``, the raw partition URIs of
        ``ds``, the source's own counts (lines read, excluded, anonymous, ...), the policies'
        results and the days retracted from an earlier landing.

    Raises:
        SourceError: a bad file or a policy refusal (nothing landed is changed).
        ConcurrentWriterError: another ingest or validation holds the root.
    """
    day = storage.as_date(ds)
    root = storage.data_root(root)
    with writer_lock(root, f"ingest of {config.source} for ds={day}", wait_s=config.lock_wait_s):
        recovered = landing_unit.recover(root)
        return _ingest_locked(root, day, config, recovered)


def _ingest_locked(root: str, day: dt.date, config: IngestConfig, recovered: bool) -> dict[str, Any]:
    plan = plan_source(config, day)
    source = _source_name(config)
    # How the file is read is part of what was landed: the same file read day first is another landing.
    reading = f"{config.date_order}|{config.duplicate_lines}|{config.synthetic!r}"
    fingerprint = checks.fingerprint(config.source, config.source_path, reading)
    results: list[dict[str, Any]] = []
    pending: deque[Future[dict[str, Any]]] = deque()
    with ThreadPoolExecutor(max_workers=config.writers) as pool:
        for landing in plan.days:
            pending.append(pool.submit(_prepare_day, root, landing, source))
            # A bounded window keeps memory flat: only a few days' frames are alive at once.
            while len(pending) >= 2 * config.writers:
                results.append(pending.popleft().result())
        results.extend(p.result() for p in pending)
    if not results:
        raise SourceError(config.source_path or config.source, f"produced no day up to {day}")
    produced = {dt.date.fromisoformat(r["ds"]) for r in results}
    stale = _stale_days(root, produced, fingerprint, config)
    record = {
        "source": source,
        "fingerprint": fingerprint,
        "ds": day.isoformat(),
        "first_day": results[0]["ds"],
        "last_day": results[-1]["ds"],
    }
    reason = f"replaced by the landing of {source} for ds={day}, which does not contain the day"
    writes = [w for r in results for w in r.pop("writes")]
    retraction = landing_unit.commit(root, writes, stale, record, reason, config.writers)
    if stale:
        log.warning(
            "retracted %d day(s) an earlier landing left (%s..%s): %s; record %s",
            len(stale),
            stale[0],
            stale[-1],
            reason,
            retraction["retraction_record"],
        )
    policies = dict(plan.policies)
    policies["future_rows"] = checks.quarantine_future(
        root, day, plan.future_events, config.source_path, config.future_rows
    )
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
        "uris": {t: storage.partition_uri(root, catalog.RAW, t, day) for t in c.TABLES},
        "source_stats": {k: int(v) for k, v in plan.stats.items()},
        "policies": policies,
        "retracted": retraction,
        "recovered_interrupted_landing": recovered,
    }
    storage.write_json(
        summary, f"{root}/{catalog.INGEST}/{catalog.SUMMARY}/ds={day.isoformat()}/{catalog.SUMMARY_FILE}"
    )
    log.info(
        "landed %d day(s) of %s up to %s (%d rewritten, %d retracted); %s: %s",
        len(results),
        config.source,
        day,
        len(changed_days),
        len(stale),
        day,
        summary["rows"],
    )
    return summary
