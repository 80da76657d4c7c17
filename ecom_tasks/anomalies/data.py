"""What the anomaly stage reads for ``ds``: the purchase lines and sessions of every validated day up
to ``ds`` (explicit partitions, never "latest"), and the item categories of the ``ds`` snapshot.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.contract import (
    CATEGORY,
    COUNTRY,
    EVENT_TYPE,
    ITEM_ID,
    ORDER_ID,
    PURCHASE,
    QUANTITY,
    SESSION_ID,
    TS,
    UNIT_PRICE,
    USER_ID,
    VIEW,
)
from ecom_tasks.features import store

log = logging.getLogger(__name__)

DAY = "day"  # the UTC day of an event, as datetime64[D]-like Timestamp
LINE_COLUMNS = (TS, USER_ID, ITEM_ID, QUANTITY, UNIT_PRICE, ORDER_ID, COUNTRY)
SESSIONS = "sessions"  # sessions with a view, per day and country or category (conversion's denominator)


@dataclass
class Inputs:
    """The purchase lines up to ``ds`` (with ``day`` and ``category``), daily viewing sessions, URIs."""

    lines: pd.DataFrame
    sessions: pd.DataFrame  # day, country, sessions (empty when the shop records no views)
    days: list[dt.date]
    uris: list[str]


def purchase_lines(events: pd.DataFrame, categories: pd.Series | None = None) -> pd.DataFrame:
    """The purchase events of ``events`` as order lines, with their ``day`` and item ``category``."""
    lines = events.loc[events[EVENT_TYPE] == PURCHASE, list(LINE_COLUMNS)].reset_index(drop=True)
    lines = lines[lines[ORDER_ID].notna()].reset_index(drop=True)
    lines[DAY] = lines[TS].dt.tz_convert("UTC").dt.floor("D").dt.tz_localize(None)
    lines[QUANTITY] = lines[QUANTITY].astype(np.float64)
    lines[UNIT_PRICE] = lines[UNIT_PRICE].astype(np.float64)
    if categories is not None:
        lines[CATEGORY] = lines[ITEM_ID].map(categories).astype("string")
    else:
        lines[CATEGORY] = pd.array([pd.NA] * len(lines), dtype="string")
    return lines


def viewing_sessions(events: pd.DataFrame, categories: pd.Series | None = None) -> pd.DataFrame:
    """Sessions with at least one view per day and country and, where items have a category, per day
    and viewed category (rows with a ``category`` and no country; a session counts once in each
    category it viewed). Empty without views."""
    views = events.loc[events[EVENT_TYPE] == VIEW, [TS, SESSION_ID, COUNTRY, ITEM_ID]]
    if views.empty:
        return pd.DataFrame(
            {DAY: pd.Series([], dtype="datetime64[us]"), COUNTRY: [], CATEGORY: [], SESSIONS: []}
        )
    day = views[TS].dt.tz_convert("UTC").dt.floor("D").dt.tz_localize(None)
    frame = pd.DataFrame({DAY: day, COUNTRY: views[COUNTRY].fillna(""), SESSION_ID: views[SESSION_ID]})
    frame = frame.drop_duplicates([DAY, COUNTRY, SESSION_ID])
    out = frame.groupby([DAY, COUNTRY], as_index=False).size().rename(columns={"size": SESSIONS})
    out[CATEGORY] = pd.array([pd.NA] * len(out), dtype="string")
    if categories is not None:
        by_category = pd.DataFrame(
            {
                DAY: day,
                CATEGORY: views[ITEM_ID].map(categories).astype("string"),
                SESSION_ID: views[SESSION_ID],
            }
        )
        by_category = by_category[by_category[CATEGORY].notna()].drop_duplicates([DAY, CATEGORY, SESSION_ID])
        counted = (
            by_category.groupby([DAY, CATEGORY], as_index=False).size().rename(columns={"size": SESSIONS})
        )
        counted[COUNTRY] = pd.array([pd.NA] * len(counted), dtype="string")
        out = pd.concat([out, counted[out.columns]], ignore_index=True)
    return out


def load(root: str, ds: dt.date, view_days: int | None = None) -> Inputs:
    """Every validated events partition up to ``ds`` (named one by one) and the items of ``ds``.

    Purchases come from every day; views (the conversion's sessions) from the last ``view_days``
    days only (all days when None): only the daily metrics read them, over a few weeks, and views
    are most of a shop's events.
    """
    days = store.event_days(root, None, ds)
    uris = [storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, d) for d in days]
    purchases = store.read_events(root, days, list(LINE_COLUMNS), event_types=[PURCHASE])
    view_from = days if view_days is None else [d for d in days if d > ds - dt.timedelta(days=view_days)]
    views = store.read_events(root, view_from, [TS, SESSION_ID, COUNTRY, ITEM_ID], event_types=[VIEW])
    try:
        items = store.read_snapshot(root, contract.ITEMS, ds, latest_before=True)
        categories = items.drop_duplicates(ITEM_ID).set_index(ITEM_ID)[CATEGORY]
    except FileNotFoundError:
        categories = None
    lines = purchase_lines(purchases, categories)
    sessions = viewing_sessions(views, categories)
    log.info("anomalies: %d purchase lines over %d validated days up to %s", len(lines), len(days), ds)
    return Inputs(lines=lines, sessions=sessions, days=days, uris=uris)
