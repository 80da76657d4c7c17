"""Source adapters: each turns one kind of input into the canonical events/items/users tables.

Nothing downstream of ingestion knows which source a partition came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

# Re-exported: the adapters and ingest name the sources through this module.
from ecom_tasks.catalog import LANDING, ONLINE_RETAIL, SEQUENCE, SOURCES, SYNTHETIC  # noqa: F401


@dataclass
class ShopTables:
    """The three canonical tables produced by a source, plus the adapter's own counts.

    ``events`` holds the events of the period read; ``items`` and ``users`` hold every item and
    user known by the end of that period (one row each, attributes as first seen). ``stats`` are
    small integer counts the adapter wants to report (lines read, lines excluded and why, ...).
    """

    events: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    stats: dict[str, int] = field(default_factory=dict)
    # Events a source delivered up to the run's day but dated after it (landing folders); the
    # ingest quarantines them with a record instead of dropping them.
    future_events: pd.DataFrame | None = None
