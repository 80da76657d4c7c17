"""Reading validated inputs and reading/writing the running state, by explicit dates only.

State tables live at ``features/state_<table>/ds=D``. Each carries, in its manifest, what it was
computed from: the state format version, the window lengths and a fingerprint of every validated
events partition up to ``D``. A state whose record does not match what is there now (a
validated day was re-run, a window changed, a table is missing) is not used: the caller rebuilds
from the validated partitions instead of carrying a stale summary forward.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable

import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.errors import ContractError
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.state import STATE_TABLES, FeatureState, typed_frame

log = logging.getLogger(__name__)

STATE_VERSION = 1


def read_validated(root: str, table: str, ds: dt.date, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The validated partition of ``table`` for ``ds``; raises ``FileNotFoundError`` naming it."""
    uri = storage.partition_uri(root, catalog.VALIDATED, table, ds)
    frame = storage.read_partition(uri, columns=columns)
    wanted = list(columns) if columns is not None else contract.columns(table)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ContractError(f"{uri}: missing column(s) {missing}")
    return frame


def event_days(root: str, first: dt.date | None, last: dt.date) -> list[dt.date]:
    """Dates of the validated events partitions in ``[first, last]`` (``first=None``: from the start)."""
    return [
        d
        for d in storage.list_partitions(root, catalog.VALIDATED, contract.EVENTS)
        if d <= last and (first is None or d >= first)
    ]


def read_events(
    root: str,
    days: list[dt.date],
    columns: Iterable[str] | None = None,
    event_types: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Concatenate the validated events of ``days`` (explicit dates), optionally only some types.

    Read as one Arrow table (``storage.read_partitions``: converted to pandas once, not once a day).

    Raises:
        FileNotFoundError: naming the first day's partition that is not committed.
        ContractError: naming a requested column the partitions lack.
    """
    cols = list(columns) if columns is not None else None
    if cols is not None and event_types is not None and contract.EVENT_TYPE not in cols:
        cols.append(contract.EVENT_TYPE)
    if not days:
        empty = contract.empty_frame(contract.EVENTS)
        return empty[cols] if cols is not None else empty
    uris = [storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, d) for d in days]
    where = (contract.EVENT_TYPE, list(event_types)) if event_types is not None else None
    try:
        frame, _ = storage.read_partitions(uris, columns=cols, where=where)
    except KeyError as exc:  # the filter's column is absent from a partition
        raise ContractError(f"{uris[0]} .. {uris[-1]}: missing column(s) [{contract.EVENT_TYPE!r}]") from exc
    wanted = cols if cols is not None else contract.columns(contract.EVENTS)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ContractError(f"{uris[0]} .. {uris[-1]}: missing column(s) {missing}")
    return frame


def state_records(
    root: str, days: Iterable[dt.date], config: FeatureConfig
) -> dict[dt.date, dict[str, object]]:
    """What a state as of each of ``days`` must have been computed from to be reusable.

    The fingerprint hashes the content hash of every validated events partition up to the day;
    the manifests are read once for all ``days``.
    """
    days = sorted(set(days))
    manifests = []
    for day in event_days(root, None, days[-1]):
        manifest = storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, day))
        manifests.append((day, manifest.content_hash if manifest else ""))
    out = {}
    for through in days:
        h = hashlib.sha256()
        for day, digest in manifests:
            if day <= through:
                h.update(f"{day.isoformat()}:{digest}\n".encode())
        out[through] = {
            "state_version": STATE_VERSION,
            "through": through.isoformat(),
            "customer_history_days": config.customer_history_days,
            "item_history_days": config.item_history_days,
            "basket_days": config.basket_days,
            "inputs": h.hexdigest(),
        }
    return out


def state_uri(root: str, table: str, ds: dt.date) -> str:
    return storage.partition_uri(root, catalog.FEATURES, f"{catalog.STATE_PREFIX}{table}", ds)


def save_state(root: str, state: FeatureState, record: dict[str, object]) -> dict[str, str]:
    """Write every state table for ``state.through``; returns ``{table: uri}``."""
    uris = {}
    for table, frame in state.tables().items():
        uri = state_uri(root, table, state.through)
        storage.write_partition(frame, uri, source="features.state", extra=record)
        uris[table] = uri
    return uris


def load_state(root: str, through: dt.date, record: dict[str, object]) -> FeatureState | None:
    """The stored state as of ``through`` if all its tables are there and match ``record``."""
    tables = {}
    for table in STATE_TABLES:
        uri = state_uri(root, table, through)
        manifest = storage.read_manifest(uri)
        if manifest is None:
            log.info("no usable state as of %s: %s is missing", through, uri)
            return None
        if manifest.extra != record:
            log.warning("state at %s was computed from other inputs or settings; rebuilding", uri)
            return None
        tables[table] = typed_frame(table, storage.read_partition(uri))
    return FeatureState(through=through, **tables)


def read_snapshot(root: str, table: str, ds: dt.date, *, latest_before: bool = False) -> pd.DataFrame:
    """The items or users snapshot as of the end of ``ds``.

    With ``latest_before`` a missing partition falls back to the newest one before ``ds`` (a
    training cutoff may land on a day the pipeline did not run); never to a later one.
    """
    if (
        latest_before
        and storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, table, ds)) is None
    ):
        earlier = [d for d in storage.list_partitions(root, catalog.VALIDATED, table) if d < ds]
        if earlier:
            log.warning("no validated %s snapshot for %s; using the one of %s", table, ds, earlier[-1])
            return read_validated(root, table, earlier[-1])
    return read_validated(root, table, ds)


def write_table(root: str, table: str, ds: dt.date, frame: pd.DataFrame, extra: dict | None = None) -> str:
    """Write one output table to ``features/<table>/ds=D`` and return its URI."""
    uri = storage.partition_uri(root, catalog.FEATURES, table, ds)
    storage.write_partition(frame, uri, source=f"features.{table}", extra=extra)
    return uri
