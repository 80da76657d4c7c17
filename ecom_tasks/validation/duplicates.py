"""Exact duplicate events per day: a check no Great Expectations rule made.

A file landed twice (or exported with every line repeated) passed every suite: each repeated line
got its own event id, and the history checks compared days that were all inflated alike. Real
order files do repeat some lines (Online Retail II: at most 4.7% of a day's events, 1.3% over
the year), so the share is reported every day and fails the day only above
``ValidationConfig.max_duplicate_share``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.validation.config import CRITICAL, WARNING, ValidationConfig
from ecom_tasks.validation.report import Outcome

CHECK_ID = "duplicate_share"


def duplicate_counts(events: pd.DataFrame, codes: np.ndarray | None = None, n_days: int = 1) -> np.ndarray:
    """Per day, how many events repeat an earlier event of the same day on every column but the id.

    Args:
        events: the days' events end to end.
        codes: each row's day (0..n_days-1); ``None``: one day.
    """
    if events.empty:
        return np.zeros(n_days, dtype=np.int64)
    day = np.zeros(len(events), dtype=np.int64) if codes is None else np.asarray(codes)
    # Integer codes per column make the row comparison cheap (strings are hashed once each).
    keys = {col: pd.factorize(events[col])[0] for col in events.columns if col != c.EVENT_ID}
    keys["_day"] = day
    dup = pd.DataFrame(keys).duplicated().to_numpy()
    return np.bincount(day[dup], minlength=n_days)


def duplicate_outcome(duplicates: int, rows: int, config: ValidationConfig) -> Outcome:
    """The day's check: critical above ``max_duplicate_share``, a warning above ``warn_duplicate_share``."""
    share = duplicates / rows if rows else 0.0
    critical = share > config.max_duplicate_share
    detail = (
        f"{duplicates} of {rows} events repeat another event of the day exactly (all columns but "
        f"event_id): {share:.1%}; warning above {config.warn_duplicate_share:.0%}, critical above "
        f"{config.max_duplicate_share:.0%} (a file landed twice or exported with repeated lines: "
        "fix the source file and ingest again)"
    )
    return Outcome(
        CHECK_ID,
        c.EVENTS,
        "share of exact duplicate events",
        CRITICAL if critical else WARNING,
        share <= config.warn_duplicate_share,
        round(share, 6),
        detail=detail,
    )
