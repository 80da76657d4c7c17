"""Ingest policies on a whole source before anything is landed: duplicates, future rows, unknown users.

Each policy is a field of :class:`~ecom_tasks.ingest.IngestConfig` with the default a shop would
choose, and each result goes into the ingest summary (``policies``):

- exact duplicate lines (every column but ``event_id`` equal): kept by default, since real order
  files repeat lines on purpose (Online Retail II: 6,854 of 525,461 lines, 1.3%); above
  ``max_duplicate_share`` of the events the file is refused (a file landed twice, a 5x export);
  ``duplicate_lines="drop"`` drops them instead (the count is reported).
- rows dated after the run's day in a landing folder (delivered before they happened: a wrong
  clock or year) are quarantined to ``ingest_quarantine/events/ds=D`` with a reason, or refuse
  the run with ``future_rows="refuse"``.
- events whose user is not in the users table are counted and named in the summary (warning).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, fsio, storage
from ecom_tasks import contract as c
from ecom_tasks.errors import SourceError
from ecom_tasks.sources import base

log = logging.getLogger(__name__)

KEEP, DROP, REFUSE, QUARANTINE = "keep", "drop", "refuse", "quarantine"


def duplicate_mask(events: pd.DataFrame) -> np.ndarray:
    """Rows equal to an earlier row on every column but ``event_id`` (integer codes: cheap)."""
    if events.empty:
        return np.zeros(0, dtype=bool)
    codes = {col: pd.factorize(events[col])[0] for col in events.columns if col != c.EVENT_ID}
    return pd.DataFrame(codes).duplicated().to_numpy()


def check_duplicates(
    tables: base.ShopTables, path: object, policy: str, max_share: float
) -> tuple[base.ShopTables, dict[str, Any]]:
    """Apply the duplicate-lines policy; SourceError naming the file when the share is too high."""
    events = tables.events
    n = len(events)
    known = tables.stats.get("duplicate_lines")  # the Online Retail adapter counts them already
    if policy == KEEP and known is not None and (known / n if n else 0.0) <= max_share:
        share = known / n if n else 0.0
        out = {"duplicate_lines": int(known), "duplicate_share": round(share, 6), "policy": policy}
        return tables, out | {"max_share": max_share}
    dup = duplicate_mask(events)
    k = int(dup.sum())
    share = k / n if n else 0.0
    out = {"duplicate_lines": k, "duplicate_share": round(share, 6), "policy": policy, "max_share": max_share}
    if policy == DROP:
        out["dropped"] = k
        events = events[~dup].reset_index(drop=True)
        return base.ShopTables(events, tables.items, tables.users, tables.stats), out
    if share > max_share:
        i = int(np.flatnonzero(dup)[0])
        row = events.iloc[i]
        example = f"{row[c.TS]} order {row[c.ORDER_ID]} item {row[c.ITEM_ID]} quantity {row[c.QUANTITY]}"
        raise SourceError(
            path,
            f"{k:,} of {n:,} events ({share:.1%}) repeat an earlier line exactly (e.g. {example}, "
            f"on {row[c.TS].date()}), above max_duplicate_share {max_share:.0%}: the file looks landed "
            "twice or exported with repeated lines. Nothing was landed. De-duplicate the file, or set "
            "duplicate_lines='drop' (drop exact repeats) or a higher max_duplicate_share if the repeats "
            "are real",
            column="(every column)",
        )
    return tables, out


def quarantine_future(
    root: str, day: dt.date, future: pd.DataFrame | None, path: object, policy: str
) -> dict[str, Any]:
    """Record (or refuse) events dated after the run's day that the source delivered up to it."""
    n = 0 if future is None else len(future)
    out: dict[str, Any] = {"future_rows": n, "policy": policy, "quarantined_to": None}
    if not n:
        return out
    assert future is not None
    first = future.sort_values(c.TS).iloc[0]
    where = f"e.g. event {first[c.EVENT_ID]} dated {first[c.TS]}"
    if policy == REFUSE:
        raise SourceError(
            path,
            f"{n} event(s) are dated after the run's day {day} ({where}) in day folders up to it: "
            "fix their dates or set future_rows='quarantine'",
            column=c.TS,
        )
    frame = future.assign(reason=f"ts after the run's day {day}: delivered before it happened")
    uri = storage.partition_uri(root, catalog.INGEST_QUARANTINE, c.EVENTS, day)
    storage.write_partition(frame, uri, source=str(path))
    log.warning("%s: %d event(s) dated after %s quarantined to %s (%s)", path, n, day, uri, where)
    out["quarantined_to"] = uri
    out["example"] = where
    return out


def unknown_users(tables: base.ShopTables) -> dict[str, Any]:
    """Events whose user_id is not in the users table (only when the source delivers users)."""
    users = tables.users[c.USER_ID]
    ids = tables.events[c.USER_ID].dropna()
    if users.empty or ids.empty:
        return {"events_unknown_user": 0}
    unknown = ids[~ids.isin(users)]
    out: dict[str, Any] = {"events_unknown_user": len(unknown)}
    if len(unknown):
        out["examples"] = [str(u) for u in unknown.drop_duplicates().head(5)]
        log.warning("%d event(s) name a user not in users, e.g. %s", len(unknown), out["examples"])
    return out


def fingerprint(source: str, path: str | None, extra: str = "") -> str:
    """What a landing came from: the source and, for a single file, its size and SHA-256."""
    if not path:
        return f"{source}:{extra}"
    fs, p = fsio.resolve(path)
    if fs.isdir(p):
        return f"{source}:{path}:{extra}"  # a landing folder: days are compared folder by folder
    digest = hashlib.sha256()
    with fs.open(p, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return f"{source}:{path}:{digest.hexdigest()}:{extra}"
