"""Running feature state: per-customer, per-item and per-day aggregates as of the end of a day.

The state is a commutative-monoid summary of the event history: ``aggregate`` (aggregate.py)
summarises any span of events, and :func:`merge` combines the state as of day ``ds - 1`` with
the summary of day ``ds`` into the state as of ``ds``. Folding day by day therefore gives the
same tables as summarising the whole history at once (tested), and a night costs one day of
events plus the size of the state, not the whole history.

Definitions the summary relies on (documented once, here):
- an order is the set of purchase lines with the same (user, order_id, UTC day); an order whose
  lines straddle midnight UTC counts once per day (lines of one invoice share a timestamp in
  every source we read, so this does not happen in practice);
- an order's timestamp is its earliest line; inter-purchase gaps are the differences between
  consecutive order timestamps of a customer (``gap_*`` in seconds; NaN min/max when none);
- windowed tables keep a bounded number of days: ``customer_daily`` (twice the trend window),
  ``item_daily`` (the longest popularity window) and ``basket_lines`` (the distinct items of each
  order of the last ``basket_days``, for basket sizes and co-purchase pairs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.encode import DAY_US, SECOND_US, day_us, group_reduce, positions, ts_us

TS = contract.TS_DTYPE
HOUR_COLS = [f"{fc.HOUR_PREFIX}{h:02d}" for h in range(24)]
WEEKDAY_COLS = [f"{fc.WEEKDAY_PREFIX}{d}" for d in range(7)]

# Column -> dtype of each state table, and how two summaries combine.
CUSTOMER_SUMS = [
    fc.N_EVENTS, fc.N_VIEWS, fc.N_CARTS, fc.N_PURCHASE_LINES, fc.N_RETURN_LINES, fc.N_ORDERS,
    fc.UNITS_PURCHASED, fc.UNITS_RETURNED, *HOUR_COLS, *WEEKDAY_COLS,
]  # fmt: skip
CUSTOMER_FLOAT_SUMS = [fc.GROSS_VALUE, fc.RETURNED_VALUE, fc.GAP_SUM, fc.GAP_SUMSQ]
SCHEMAS: dict[str, dict[str, str]] = {
    "customers": {
        contract.USER_ID: contract.STRING_DTYPE,
        **dict.fromkeys(CUSTOMER_SUMS, "int64"),
        **dict.fromkeys(CUSTOMER_FLOAT_SUMS, "float64"),
        fc.GAP_MIN: "float64",
        fc.GAP_MAX: "float64",
        **dict.fromkeys([fc.FIRST_EVENT_TS, fc.LAST_EVENT_TS, fc.FIRST_PURCHASE_TS, fc.LAST_PURCHASE_TS], TS),
    },
    "customer_items": {
        contract.USER_ID: contract.STRING_DTYPE,
        contract.ITEM_ID: contract.STRING_DTYPE,
        fc.N_ORDERS: "int64",
        fc.UNITS: "int64",
        fc.VALUE: "float64",
    },
    "customer_daily": {
        contract.USER_ID: contract.STRING_DTYPE,
        fc.DAY: TS,
        fc.N_EVENTS: "int64",
        fc.N_ORDERS: "int64",
        fc.VALUE: "float64",
    },
    "customer_months": {
        contract.USER_ID: contract.STRING_DTYPE,
        fc.MONTH: "int64",
        fc.N_ORDERS: "int64",
        fc.VALUE: "float64",
    },
    "items": {
        contract.ITEM_ID: contract.STRING_DTYPE,
        **dict.fromkeys(
            [
                fc.N_VIEWS,
                fc.N_CARTS,
                fc.N_PURCHASE_LINES,
                fc.N_ORDERS,
                fc.UNITS,
                fc.N_RETURN_LINES,
                fc.UNITS_RETURNED,
                fc.PRICE_N,
                fc.N_ZERO_PRICE_LINES,
            ],
            "int64",
        ),
        **dict.fromkeys([fc.VALUE, fc.PRICE_SUM, fc.PRICE_SUMSQ, fc.PRICE_MIN, fc.PRICE_MAX], "float64"),
        **dict.fromkeys([fc.FIRST_EVENT_TS, fc.LAST_EVENT_TS, fc.LAST_PURCHASE_TS], TS),
    },
    "item_daily": {
        contract.ITEM_ID: contract.STRING_DTYPE,
        fc.DAY: TS,
        **dict.fromkeys([fc.N_VIEWS, fc.N_CARTS, fc.N_PURCHASE_LINES, fc.UNITS], "int64"),
    },
    "daily": {
        fc.DAY: TS,
        **dict.fromkeys(
            [
                fc.N_EVENTS,
                fc.N_SESSIONS,
                fc.SESSIONS_VIEW,
                fc.SESSIONS_CART,
                fc.SESSIONS_PURCHASE,
                fc.N_VIEWS,
                fc.N_CARTS,
                fc.N_PURCHASE_LINES,
                fc.N_RETURN_LINES,
                fc.N_ORDERS,
                fc.N_ACTIVE_USERS,
                fc.N_BUYERS_DAY,
            ],
            "int64",
        ),
        **dict.fromkeys([fc.REVENUE, fc.RETURNED_VALUE], "float64"),
    },
    "basket_lines": {
        contract.USER_ID: contract.STRING_DTYPE,
        contract.ORDER_ID: contract.STRING_DTYPE,
        fc.DAY: TS,
        contract.ITEM_ID: contract.STRING_DTYPE,
        fc.N_PURCHASE_LINES: "int64",
    },
    "hour_of_week": {
        fc.HOUR_OF_WEEK: "int64",
        **dict.fromkeys(
            [fc.N_VIEWS, fc.N_CARTS, fc.N_PURCHASE_LINES, fc.N_RETURN_LINES, fc.N_ORDERS], "int64"
        ),
    },
}
KEYS: dict[str, list[str]] = {
    "customers": [contract.USER_ID],
    "customer_items": [contract.USER_ID, contract.ITEM_ID],
    "customer_daily": [contract.USER_ID, fc.DAY],
    "customer_months": [contract.USER_ID, fc.MONTH],
    "items": [contract.ITEM_ID],
    "item_daily": [contract.ITEM_ID, fc.DAY],
    "daily": [fc.DAY],
    "basket_lines": [contract.USER_ID, contract.ORDER_ID, fc.DAY, contract.ITEM_ID],
    "hour_of_week": [fc.HOUR_OF_WEEK],
}
_MINS = {fc.GAP_MIN, fc.FIRST_EVENT_TS, fc.FIRST_PURCHASE_TS, fc.PRICE_MIN}
_MAXS = {fc.GAP_MAX, fc.LAST_EVENT_TS, fc.LAST_PURCHASE_TS, fc.PRICE_MAX}


@dataclass(frozen=True)
class FeatureState:
    """The running state as of the end of ``through`` (one frame per table of :data:`SCHEMAS`)."""

    through: dt.date
    customers: pd.DataFrame
    customer_items: pd.DataFrame
    customer_daily: pd.DataFrame
    customer_months: pd.DataFrame
    items: pd.DataFrame
    item_daily: pd.DataFrame
    daily: pd.DataFrame
    basket_lines: pd.DataFrame
    hour_of_week: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """``{table name: frame}`` for every state table."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "through"}


STATE_TABLES: tuple[str, ...] = tuple(SCHEMAS)


def typed_frame(table: str, data: dict[str, object]) -> pd.DataFrame:
    """Build a state frame with exactly the columns and dtypes of ``SCHEMAS[table]``."""
    out = {}
    for col, dtype in SCHEMAS[table].items():
        value = data[col]
        if dtype == TS:
            series = value if isinstance(value, pd.Series) else pd.Series(value)
            if not isinstance(series.dtype, pd.DatetimeTZDtype):
                series = pd.to_datetime(series, utc=True)
            out[col] = series.dt.tz_convert("UTC").astype(TS).array
        elif dtype == contract.STRING_DTYPE:
            arr = value.array if isinstance(value, pd.Series) else value
            out[col] = arr if getattr(arr, "dtype", None) == dtype else pd.array(arr, dtype=dtype)
        else:
            out[col] = np.asarray(value, dtype=dtype)
    return pd.DataFrame(out, columns=list(SCHEMAS[table]))


def empty_state(through: dt.date) -> FeatureState:
    """The state before any event: every table empty (``hour_of_week`` has its 168 zero rows)."""
    tables = {t: typed_frame(t, {c: [] for c in SCHEMAS[t]}) for t in STATE_TABLES}
    how = {c: np.zeros(168, dtype=np.int64) for c in SCHEMAS["hour_of_week"]}
    how[fc.HOUR_OF_WEEK] = np.arange(168)
    tables["hour_of_week"] = typed_frame("hour_of_week", how)
    return FeatureState(through=through, **tables)


def window_start_us(ds: dt.date, days: int) -> int:
    """First microsecond of a ``days``-day window ending with day ``ds``."""
    return day_us(ds) - (days - 1) * DAY_US


def _cross_gaps(prev: pd.DataFrame, day: pd.DataFrame) -> pd.DataFrame:
    """Add the gap between a customer's last order before and first order of ``day`` to ``day``."""
    pos = positions(day[contract.USER_ID], prev[contract.USER_ID])
    known = pos >= 0
    prev_last = np.full(len(day), np.iinfo(np.int64).min)
    prev_last[known] = ts_us(prev[fc.LAST_PURCHASE_TS])[pos[known]]
    first = ts_us(day[fc.FIRST_PURCHASE_TS])
    has = (prev_last != np.iinfo(np.int64).min) & (first != np.iinfo(np.int64).min)
    if not has.any():
        return day
    gap = np.where(has, (first - prev_last) / SECOND_US, 0.0)
    day = day.copy()
    day[fc.GAP_SUM] = day[fc.GAP_SUM].to_numpy() + gap
    day[fc.GAP_SUMSQ] = day[fc.GAP_SUMSQ].to_numpy() + gap * gap
    gap_or_nan = np.where(has, gap, np.nan)
    day[fc.GAP_MIN] = np.fmin(day[fc.GAP_MIN].to_numpy(), gap_or_nan)
    day[fc.GAP_MAX] = np.fmax(day[fc.GAP_MAX].to_numpy(), gap_or_nan)
    return day


def combine(table: str, earlier: pd.DataFrame, later: pd.DataFrame) -> pd.DataFrame:
    """Combine two summaries of ``table`` where ``earlier`` covers events before ``later``'s."""
    if table == "customers":
        later = _cross_gaps(earlier, later)
    both = pd.concat([earlier, later], ignore_index=True)
    value_cols = [c for c in SCHEMAS[table] if c not in KEYS[table]]
    reduced = group_reduce(
        both,
        KEYS[table],
        sums=[c for c in value_cols if c not in _MINS and c not in _MAXS],
        mins=[c for c in value_cols if c in _MINS],
        maxs=[c for c in value_cols if c in _MAXS],
    )
    return typed_frame(table, reduced)


def trim(state: FeatureState, config: FeatureConfig) -> FeatureState:
    """Drop per-day rows that fell out of the bounded windows as of ``state.through``."""
    windows = {
        "customer_daily": config.customer_history_days,
        "item_daily": config.item_history_days,
        "basket_lines": config.basket_days,
    }
    trimmed = {}
    for table, days in windows.items():
        frame = getattr(state, table)
        keep = ts_us(frame[fc.DAY]) >= window_start_us(state.through, days)
        trimmed[table] = frame if keep.all() else frame[keep].reset_index(drop=True)
    return FeatureState(**{**_as_kwargs(state), **trimmed})


def merge(prev: FeatureState, day: FeatureState, config: FeatureConfig) -> FeatureState:
    """The state as of ``day.through`` from the state as of the day before and that day's summary.

    Raises:
        ValueError: when ``day`` does not start right after ``prev`` (a gap would lose a day).
    """
    if day.through != prev.through + dt.timedelta(days=1):
        raise ValueError(
            f"state merge: summary through {day.through} does not follow state through {prev.through}"
        )
    tables = {t: combine(t, getattr(prev, t), getattr(day, t)) for t in STATE_TABLES}
    return trim(FeatureState(through=day.through, **tables), config)


def _as_kwargs(state: FeatureState) -> dict[str, object]:
    return {"through": state.through, **state.tables()}
