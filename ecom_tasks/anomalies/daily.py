"""Daily metric anomalies: each day's key figures against a robust seasonal baseline.

Per day and segment (the whole shop, each country and each category with enough orders): revenue,
orders, units, the share of anonymous orders and, where the shop records views, conversion (orders
per viewing session; for a category, orders with a line of it per session that viewed one of its
items). The expected value of a day is the median of the same weekday in the
``metric_weeks`` weeks before it; the band is ``metric_band`` robust standard deviations
(1.4826 x MAD) around it, and never narrower than counting noise allows (a segment expecting n
orders varies by 1/sqrt(n) by chance; at least 10%; a share by sqrt(p(1-p)/n), at least two
points), so a flat history or a small shop does not flag every wobble. A day outside its band is
flagged with its deviation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.anomalies.data import DAY, SESSIONS
from ecom_tasks.contract import CATEGORY, COUNTRY, ORDER_ID, QUANTITY, UNIT_PRICE, USER_ID

SEGMENT, METRIC, VALUE, EXPECTED, LOWER, UPPER = "segment", "metric", "value", "expected", "lower", "upper"
DEVIATION, FLAGGED = "deviation", "flagged"  # (value - expected) / expected; outside the band
ALL = "all"
REVENUE, ORDERS, UNITS, ANONYMOUS_SHARE, CONVERSION = (
    "revenue",
    "orders",
    "units",
    "anonymous_share",
    "conversion",
)
SHARES = (ANONYMOUS_SHARE, CONVERSION)
COLUMNS = (DAY, SEGMENT, METRIC, VALUE, EXPECTED, LOWER, UPPER, DEVIATION, FLAGGED)


def _segments(lines: pd.DataFrame) -> pd.DataFrame:
    """The lines once per segment they count in: all, their country, their category."""
    parts = [lines.assign(**{SEGMENT: ALL})]
    parts.append(lines.assign(**{SEGMENT: "country: " + lines[COUNTRY].astype("string").fillna("unknown")}))
    if lines[CATEGORY].notna().any():
        known = lines[lines[CATEGORY].notna()]
        parts.append(known.assign(**{SEGMENT: "category: " + known[CATEGORY].astype("string")}))
    return pd.concat(parts, ignore_index=True)


def daily_values(lines: pd.DataFrame, sessions: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Wide frame: one row per calendar day of ``days``, one column per (segment, metric)."""
    seg = _segments(lines)
    seg["_value"] = seg[QUANTITY] * seg[UNIT_PRICE]
    seg["_anon"] = seg[USER_ID].isna().astype(np.float64)
    per_order = seg.groupby([DAY, SEGMENT, ORDER_ID], sort=False).agg(
        _value=("_value", "sum"), _units=(QUANTITY, "sum"), _anon=("_anon", "min")
    )
    daily = per_order.groupby(level=[DAY, SEGMENT]).agg(
        **{
            REVENUE: ("_value", "sum"),
            ORDERS: ("_value", "size"),
            UNITS: ("_units", "sum"),
            ANONYMOUS_SHARE: ("_anon", "mean"),
        }
    )
    wide = daily.unstack(SEGMENT).reindex(days)
    counts = wide.columns.get_level_values(0).isin([REVENUE, ORDERS, UNITS])
    wide.loc[:, counts] = wide.loc[:, counts].fillna(0.0)  # no order in a segment: a day of zeros
    if not sessions.empty:
        per_category = sessions[CATEGORY].notna() if CATEGORY in sessions.columns else None
        countries = sessions if per_category is None else sessions[~per_category]
        views = countries.assign(**{SEGMENT: "country: " + countries[COUNTRY].astype("string")})
        if per_category is not None and per_category.any():
            viewed = sessions[per_category]
            views = pd.concat(
                [views, viewed.assign(**{SEGMENT: "category: " + viewed[CATEGORY].astype("string")})]
            )
        per_seg = views.groupby([DAY, SEGMENT])[SESSIONS].sum().unstack(SEGMENT)
        per_seg[ALL] = countries.groupby(DAY)[SESSIONS].sum()
        per_seg = per_seg.reindex(days)
        for segment in per_seg.columns:
            if (ORDERS, segment) in wide.columns:
                wide[(CONVERSION, segment)] = wide[(ORDERS, segment)] / per_seg[segment].replace(0, np.nan)
    wide.columns = pd.MultiIndex.from_tuples([(s, m) for m, s in wide.columns], names=[SEGMENT, METRIC])
    return wide.astype(np.float64)


def tracked(wide: pd.DataFrame, config: AnomalyConfig) -> list[str]:
    """Segments with at least ``metric_min_orders`` orders per day on average (the shop always)."""
    segments = wide.columns.get_level_values(SEGMENT).unique()
    keep = []
    for segment in segments:
        orders = wide.get((segment, ORDERS))
        if segment == ALL or (orders is not None and orders.mean() >= config.metric_min_orders):
            keep.append(segment)
    return keep


def anomalies(
    lines: pd.DataFrame,
    sessions: pd.DataFrame,
    first: pd.Timestamp,
    last: pd.Timestamp,
    config: AnomalyConfig,
) -> pd.DataFrame:
    """Every tracked (day, segment, metric) of ``[first, last]`` with its expected value, band, flag."""
    weeks = config.metric_weeks
    start = first - pd.Timedelta(days=7 * weeks)
    days = pd.date_range(start, last, freq="D")
    window = lines[(lines[DAY] >= start) & (lines[DAY] <= last)]
    if window.empty:
        return pd.DataFrame({c: [] for c in COLUMNS})
    wide = daily_values(window, sessions[(sessions[DAY] >= start) & (sessions[DAY] <= last)], days)
    history = wide[wide.index < first]
    keep = set(tracked(history if len(history) else wide, config))
    wide = wide[[c for c in wide.columns if c[0] in keep]]
    values = wide.to_numpy()
    past = np.stack([wide.shift(7 * k).to_numpy() for k in range(1, weeks + 1)])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: a segment without history
        expected = np.nanmedian(past, axis=0)
        mad = np.nanmedian(np.abs(past - expected), axis=0) * 1.4826
    share = np.array([m in SHARES for m in wide.columns.get_level_values(METRIC)])
    # Counting noise: a segment expecting n orders a day varies by about 1/sqrt(n) from chance
    # alone (Poisson), whatever four weeks of history happened to show; a share by sqrt(p(1-p)/n).
    segments = wide.columns.get_level_values(SEGMENT)
    position = {seg: i for i, (seg, m) in enumerate(wide.columns) if m == ORDERS}
    orders = np.stack(
        [expected[:, position[seg]] if seg in position else expected[:, 0] for seg in segments], 1
    )
    n = np.fmax(np.nan_to_num(orders, nan=1.0), 1.0)
    p = np.clip(np.nan_to_num(expected, nan=0.0), 0.0, 1.0)
    floor = np.where(
        share,
        np.fmax(0.02, np.sqrt(p * (1 - p) / n)),
        np.abs(expected) * np.fmax(0.1, 1 / np.sqrt(n)),
    )
    half = config.metric_band * np.fmax(mad, floor)
    enough = np.sum(np.isfinite(past), axis=0) >= max(weeks - 1, 1)
    out = pd.DataFrame(
        {
            DAY: np.repeat(wide.index.to_numpy(), wide.shape[1]),
            SEGMENT: np.tile(wide.columns.get_level_values(SEGMENT).to_numpy(), len(wide)),
            METRIC: np.tile(wide.columns.get_level_values(METRIC).to_numpy(), len(wide)),
            VALUE: values.ravel(),
            EXPECTED: expected.ravel(),
            # Figures are never negative and shares never above 1: the band stops there.
            LOWER: np.fmax(expected - half, 0.0).ravel(),
            UPPER: np.where(share, np.fmin(expected + half, 1.0), expected + half).ravel(),
            "_enough": enough.ravel(),
        }
    )
    out = out[(out[DAY] >= first) & out[VALUE].notna() & out[EXPECTED].notna()].reset_index(drop=True)
    with np.errstate(all="ignore"):
        out[DEVIATION] = np.where(out[EXPECTED] != 0, (out[VALUE] - out[EXPECTED]) / out[EXPECTED].abs(), 0.0)
    # At a band edge of 0 (or 1 for a share) only a value beyond it would count: none can be.
    outside = (out[VALUE] < out[LOWER]) | (out[VALUE] > out[UPPER])
    out[FLAGGED] = outside & out.pop("_enough")
    out[SEGMENT] = out[SEGMENT].astype("string")
    out[METRIC] = out[METRIC].astype("string")
    return out[list(COLUMNS)]
