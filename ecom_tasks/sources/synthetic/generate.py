"""Public entry points: generate days of the synthetic shop, one at a time, and its hidden truth."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd

from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.sources.base import ShopTables
from ecom_tasks.sources.synthetic.config import SyntheticShopConfig
from ecom_tasks.sources.synthetic.day import simulate_day, st_date
from ecom_tasks.sources.synthetic.frames import FrameBuilder
from ecom_tasks.sources.synthetic.state import NEVER, ShopState
from ecom_tasks.storage import as_date

log = logging.getLogger(__name__)

# Columns of ground_truth(): latent facts no source would have, for checking models and tests.
TRUE_ACTIVITY = "true_activity"
TRUE_TOP_CATEGORY = "true_top_category"
TRUE_SIGNUP = "true_signup"
TRUE_DECLINE_START = "true_decline_start"
TRUE_CHURN_DATE = "true_churn_date"
TRUE_CHURNED = "true_churned"


def _day_index(cfg: SyntheticShopConfig, value: dt.date | str, name: str) -> int:
    try:
        day = as_date(value)
    except ConfigError:
        raise ConfigError(f"{name}: {value!r} is not a date in YYYY-MM-DD form") from None
    if day < cfg.opening:
        raise ConfigError(f"{name}: {day} is before the shop opens (start_date {cfg.opening})")
    return (day - cfg.opening).days


def generate(
    config: SyntheticShopConfig, start: dt.date | str, end: dt.date | str
) -> Iterator[tuple[dt.date, ShopTables]]:
    """Yield ``(day, tables)`` for each day from ``start`` to ``end`` inclusive.

    ``tables.events`` are that day's events (UTC); ``tables.items``/``tables.users`` are snapshots of
    everything known by the end of the day. The shop is simulated from ``config.start_date`` on, so a
    day is identical whatever range it is requested in; earlier days are simulated but not turned
    into frames.

    Raises:
        ConfigError: at once (not on first iteration), naming ``start`` or ``end`` when a day is
            before the opening or ``end`` is before ``start``.
    """
    first = _day_index(config, start, "start")
    last = _day_index(config, end, "end")
    if last < first:
        raise ConfigError(f"end: {as_date(end)} is before start {as_date(start)}")
    return _days(config, first, last)


def _days(config: SyntheticShopConfig, first: int, last: int) -> Iterator[tuple[dt.date, ShopTables]]:
    st = ShopState(config)
    builder = FrameBuilder(st)
    for day in range(last + 1):
        ev = simulate_day(st, day)
        if day >= first:
            tables = builder.build(day, ev)
            log.debug("synthetic shop %s: %s", st_date(st, day), tables.stats)
            yield st_date(st, day), tables


def generate_day(config: SyntheticShopConfig, day: dt.date | str) -> ShopTables:
    """The tables of one day (see :func:`generate`)."""
    ((_, tables),) = generate(config, day, day)
    return tables


def ground_truth(config: SyntheticShopConfig, day: dt.date | str) -> pd.DataFrame:
    """The latent state of every customer signed up by the end of ``day`` (seen or not yet).

    Returns one row per customer: ``user_id``; ``true_activity``, the mean sessions per day they
    were given; ``true_top_category``, the category name they like most; ``true_signup``;
    ``true_decline_start``, the day their activity began to fade (NaT if it has not);
    ``true_churn_date``, the first day they are gone for good (may lie after ``day``; NaT if not
    fading); and ``true_churned``, whether that day is on or before ``day``.
    """
    last = _day_index(config, day, "day")
    st = ShopState(config)
    for d in range(last + 1):
        simulate_day(st, d)
    u = st.users
    builder = FrameBuilder(st)
    builder.snapshots()  # fills the id cache
    opening = np.datetime64(config.opening, "D")
    fading = u.decline_start != NEVER
    start = np.where(fading, u.decline_start, 0).astype("timedelta64[D]")
    gone = np.where(fading, u.decline_start.astype(np.int64) + config.churn_decline_days, 0)
    nat = np.datetime64("NaT", "D")
    names = np.array([s.name for s in st.specs], dtype=object)
    return pd.DataFrame(
        {
            USER_ID: pd.Series(builder.user_ids.to_pylist(), dtype="string"),
            TRUE_ACTIVITY: u.activity.copy(),
            TRUE_TOP_CATEGORY: pd.Series(names[u.pref.argmax(axis=1)], dtype="string"),
            TRUE_SIGNUP: opening + u.signup_day.astype("timedelta64[D]"),
            TRUE_DECLINE_START: np.where(fading, opening + start, nat),
            TRUE_CHURN_DATE: np.where(fading, opening + gone.astype("timedelta64[D]"), nat),
            TRUE_CHURNED: fading & (gone <= last),
        }
    )
