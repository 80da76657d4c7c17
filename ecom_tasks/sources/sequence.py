"""Ordered item sequences (Amazon Beauty 5-core and the like) as canonical tables.

Input: one user per line, ``user_id item_1 ... item_n`` (integers, oldest first), as used by the
sequential-recommendation literature (S3-Rec and followers). The files carry no timestamps, prices
or text, so the adapter makes them up deterministically:

- Ordinal time: the k-th item of a user (k = 0, 1, ...) gets ``ts = start + k days + s`` where
  ``s = user_id mod 86400`` seconds. Every item of a user is on its own day, in file order, so
  sorting by time reproduces the file order exactly and leave-one-out by position stays exact;
  the per-user second offset only spreads users within a day.
- ``event_type`` purchase, ``quantity`` 1, ``unit_price`` 0.0 and item ``price`` 0.0: the
  source has no prices. ``event_id`` = ``session_id`` = ``order_id`` = ``{user}-{k}``.
- Items: ``category`` = ``attr_{first attribute id}`` from the item-to-attributes JSON when given
  (null for items without attributes), ``title`` null; users have no country.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd

from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_ID,
    EVENT_TYPE,
    EVENTS,
    FIRST_SEEN,
    ITEM_ID,
    ITEMS,
    ORDER_ID,
    PRICE,
    PURCHASE,
    QUANTITY,
    SESSION_ID,
    STRING_DTYPE,
    TITLE,
    TS,
    UNIT_PRICE,
    USER_ID,
    USERS,
    conform,
)
from ecom_tasks.errors import ConfigError, SourceError
from ecom_tasks.sources import _io
from ecom_tasks.sources.base import ShopTables

log = logging.getLogger(__name__)

DEFAULT_START = "2000-01-01"
SECONDS_PER_DAY = 86_400
ATTRIBUTE_PREFIX = "attr_"


def _parse_ids(path: Path | str, lineno: int, tokens: list[str]) -> list[int]:
    ids = []
    for k, token in enumerate(tokens):
        if not token.isascii() or not token.lstrip("-").isdigit():
            what = "user id" if k == 0 else f"item id (position {k})"
            raise SourceError(path, f"line {lineno}: {what} {token!r} is not an integer")
        ids.append(int(token))
    return ids


def _parse_lines(path: Path | str) -> tuple[list[int], list[int], list[int]]:
    """(user of each line, number of items of each line, all items flattened in file order)."""
    _io.check_readable(path)
    users: list[int] = []
    lengths: list[int] = []
    items: list[int] = []
    seen: dict[int, int] = {}
    try:
        with fsspec.open(str(path), "rt", encoding="utf-8", compression="infer") as fh:
            for lineno, line in enumerate(fh, start=1):
                tokens = line.split()
                if not tokens:
                    continue  # blank lines (a trailing newline) carry nothing
                ids = _parse_ids(path, lineno, tokens)
                if len(ids) == 1:
                    raise SourceError(path, f"line {lineno}: user {ids[0]} has no items")
                if ids[0] in seen:
                    raise SourceError(
                        path, f"line {lineno}: user {ids[0]} already had a line (line {seen[ids[0]]})"
                    )
                seen[ids[0]] = lineno
                users.append(ids[0])
                lengths.append(len(ids) - 1)
                items.extend(ids[1:])
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise SourceError(path, f"cannot read the file: {type(exc).__name__}: {exc}") from exc
    return users, lengths, items


def _read_attributes(path: Path | str) -> dict[str, str]:
    """``{item_id: "attr_{first id}"}`` from an ``{item_id: [attribute ids]}`` JSON file."""
    _io.check_readable(path)
    try:
        with fsspec.open(str(path), "rt", encoding="utf-8", compression="infer") as fh:
            raw = json.load(fh)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceError(path, f"not a readable JSON file: {exc}") from exc
    if not isinstance(raw, dict):
        raise SourceError(path, f"expected an object {{item_id: [attribute ids]}}, got {type(raw).__name__}")
    categories = {}
    for item, attrs in raw.items():
        if not isinstance(attrs, list) or not all(isinstance(a, int) for a in attrs):
            raise SourceError(path, f"item {item!r}: attributes must be a list of integers, got {attrs!r}")
        if attrs:
            categories[str(item)] = f"{ATTRIBUTE_PREFIX}{attrs[0]}"
    return categories


def read_sequences(
    path: Path | str,
    attributes_path: Path | str | None = None,
    until: dt.date | str | None = None,
    start: dt.date | str = DEFAULT_START,
) -> ShopTables:
    """Read a sequence file (``user item_1 ... item_n`` per line) as canonical tables.

    Args:
        path: the sequence file (plain or gzip-compressed text).
        attributes_path: optional ``{item_id: [attribute ids]}`` JSON giving item categories.
        until: last day (inclusive, UTC) whose events are returned.
        start: the day of every user's first item.

    Returns:
        Events sorted by user then position, items and users as first seen, and stats
        (``users_read``, ``interactions_read``, ``events``, ``items``, ``users``,
        ``excluded_after_until``, ``items_with_category``).
    """
    first_day = _io.as_day(start, "start")
    if first_day is None:
        raise ConfigError("start: must be a date, got None")
    last_day = _io.as_day(until, "until")
    line_users, lengths, item_list = _parse_lines(path)
    counts = np.asarray(lengths, dtype=np.int64)
    users = np.repeat(np.asarray(line_users, dtype=np.int64), counts)
    items = np.asarray(item_list, dtype=np.int64)
    n = len(items)
    # position k of each interaction within its user's line
    position = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    offset = position * SECONDS_PER_DAY + users % SECONDS_PER_DAY
    ts = pd.Timestamp(first_day, tz="UTC") + pd.to_timedelta(offset, unit="s")
    keep = np.ones(n, dtype=bool) if last_day is None else np.asarray(ts < _io.day_end(last_day))
    user_ids = pd.Series(users[keep]).astype(STRING_DTYPE)
    ids = user_ids + "-" + pd.Series(position[keep]).astype(STRING_DTYPE)
    events = conform(
        pd.DataFrame(
            {
                EVENT_ID: ids,
                TS: ts[keep],
                USER_ID: user_ids,
                SESSION_ID: ids,
                ITEM_ID: pd.Series(items[keep]).astype(STRING_DTYPE),
                EVENT_TYPE: PURCHASE,
                QUANTITY: 1,
                UNIT_PRICE: 0.0,
                ORDER_ID: ids,
                COUNTRY: pd.Series(pd.NA, index=range(int(keep.sum())), dtype=STRING_DTYPE),
            }
        ),
        EVENTS,
    )
    categories = _read_attributes(attributes_path) if attributes_path is not None else {}
    first_items = events.sort_values(TS, kind="stable").drop_duplicates(ITEM_ID)
    item_table = conform(
        pd.DataFrame(
            {
                ITEM_ID: first_items[ITEM_ID],
                TITLE: pd.Series(pd.NA, index=first_items.index, dtype=STRING_DTYPE),
                CATEGORY: first_items[ITEM_ID].map(categories).astype(STRING_DTYPE),
                PRICE: 0.0,
                FIRST_SEEN: first_items[TS],
            }
        ),
        ITEMS,
    )
    first_users = events.drop_duplicates(USER_ID)  # each user's first event comes first
    user_table = conform(
        pd.DataFrame(
            {
                USER_ID: first_users[USER_ID],
                FIRST_SEEN: first_users[TS],
                COUNTRY: pd.Series(pd.NA, index=first_users.index, dtype=STRING_DTYPE),
            }
        ),
        USERS,
    )
    stats = {
        "users_read": len(line_users),
        "interactions_read": n,
        "excluded_after_until": int(n - keep.sum()),
        "events": len(events),
        "items": len(item_table),
        "users": len(user_table),
        "items_with_category": int(item_table[CATEGORY].notna().sum()),
    }
    log.info("read %s: %s", path, stats)
    return ShopTables(events=events, items=item_table, users=user_table, stats=stats)


def leave_one_out(events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split each user's events by position: last -> test, second-to-last -> validation, rest -> train.

    Order within a user is by ``ts`` (ties keep the frame's order). A user with one event only
    has a test event, one with two has a test and a validation event. Anonymous events (null
    ``user_id``) belong to no user and are left out of all three.

    Returns:
        ``(train, valid, test)``, each in the input's row order with a fresh index.
    """
    known = events[events[USER_ID].notna()]
    ordered = known.sort_values(TS, kind="stable")
    from_end = ordered.groupby(USER_ID, sort=False).cumcount(ascending=False).reindex(known.index)
    parts = (known[from_end >= 2], known[from_end == 1], known[from_end == 0])
    return tuple(p.reset_index(drop=True) for p in parts)  # type: ignore[return-value]
