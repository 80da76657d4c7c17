"""Item features as of the end of a day: popularity over trailing windows, price statistics,
category, title tokens for the text tower, age and repeat-purchase rate.

One row per known item (in the items snapshot or with events), sorted by item id, no NaN:

- No title: ``title`` and ``title_tokens`` are empty strings and ``has_title`` = 0.
- Price statistics use purchase lines with a positive price only (zero-price lines are samples,
  adjustments or gifts and would drag the mean down); they are counted in ``n_zero_price_lines``.
  With no such line (``has_price_history`` = 0) every statistic is the catalogue price (0 if that
  is 0 too; ``zero_price`` flags a catalogue price of 0) and the standard deviation is 0.
- No buyers: ``repeat_purchase_rate`` 0. Return rate as for customers (units returned over
  max(units bought, units returned)).
- Missing category: ``unknown``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import DEFAULT_FEATURES, FeatureConfig
from ecom_tasks.features.encode import (
    DAY_US,
    NAT,
    day_us,
    group_sum,
    positions,
    rows_for,
    sorted_union,
    ts_us,
)
from ecom_tasks.features.state import FeatureState


def title_tokens(titles: pd.Series, max_tokens: int) -> pd.Series:
    """Normalised title tokens for the text tower: lower case, letters and digits only, single
    spaces, at most ``max_tokens`` tokens; ``""`` for a missing title."""
    text = titles.astype(contract.STRING_DTYPE).fillna("").str.lower()
    text = text.str.replace(r"[\W_]+", " ", regex=True).str.strip()
    tokens = text.str.split(" ", n=max_tokens)
    clipped = tokens.str[:max_tokens].str.join(" ")
    return clipped.fillna("").astype(contract.STRING_DTYPE)


def item_features(
    state: FeatureState, items: pd.DataFrame, config: FeatureConfig = DEFAULT_FEATURES
) -> pd.DataFrame:
    """Features of every known item as of the end of ``state.through``.

    Args:
        state: running state as of the day.
        items: the items snapshot as of the same day (canonical ``items`` table).
        config: feature parameters (popularity windows, title tokens).
    """
    as_of = day_us(state.through) + DAY_US
    st = state.items
    ids = sorted_union(st[contract.ITEM_ID], items[contract.ITEM_ID])
    n = len(ids)
    s = rows_for(st, contract.ITEM_ID, ids)
    snap = rows_for(items.drop_duplicates(contract.ITEM_ID), contract.ITEM_ID, ids)

    def num(col: str) -> np.ndarray:
        return s[col].fillna(0).to_numpy(np.float64)

    catalogue = snap[contract.PRICE].fillna(0).clip(lower=0).to_numpy(np.float64)
    price_n = num(fc.PRICE_N)
    seen = price_n > 0
    mean = np.divide(num(fc.PRICE_SUM), price_n, out=catalogue.copy(), where=seen)
    var = np.divide(num(fc.PRICE_SUMSQ), price_n, out=np.zeros(n), where=seen) - np.where(seen, mean**2, 0)
    first_event = ts_us(s[fc.FIRST_EVENT_TS]) if n else np.zeros(0, np.int64)
    first_seen = ts_us(snap[contract.FIRST_SEEN]) if n else np.zeros(0, np.int64)
    big = np.iinfo(np.int64).max
    first = np.minimum(
        np.where(first_event == NAT, big, first_event), np.where(first_seen == NAT, big, first_seen)
    )
    first = np.where(first == big, as_of, first)
    title = snap[contract.TITLE].astype(contract.STRING_DTYPE).fillna("")
    tokens = title_tokens(snap[contract.TITLE], config.max_title_tokens)
    units, units_out = num(fc.UNITS), num(fc.UNITS_RETURNED)
    out: dict[str, object] = {
        contract.ITEM_ID: pd.array(ids, dtype=contract.STRING_DTYPE),
        contract.TITLE: title.to_numpy(),
        fc.TITLE_TOKENS: tokens.to_numpy(),
        fc.HAS_TITLE: (tokens.str.len().to_numpy() > 0).astype(np.int8),
        contract.CATEGORY: snap[contract.CATEGORY]
        .astype(contract.STRING_DTYPE)
        .fillna(fc.UNKNOWN)
        .to_numpy(),
        contract.PRICE: catalogue,
        fc.ZERO_PRICE: (catalogue <= 0).astype(np.int8),
        contract.FIRST_SEEN: pd.to_datetime(first, unit="us", utc=True),
        fc.AGE_DAYS: (as_of - first) / DAY_US,
        fc.HAS_PRICE_HISTORY: seen.astype(np.int8),
        fc.PRICE_MEAN: mean,
        fc.PRICE_STD: np.sqrt(np.maximum(var, 0.0)),
        fc.PRICE_MIN: np.where(seen, s[fc.PRICE_MIN].fillna(0).to_numpy(np.float64), catalogue),
        fc.PRICE_MAX: np.where(seen, s[fc.PRICE_MAX].fillna(0).to_numpy(np.float64), catalogue),
        fc.N_ZERO_PRICE_LINES: num(fc.N_ZERO_PRICE_LINES).astype(np.int64),
    }
    out.update(_popularity(state, ids, as_of, config.popularity_windows))
    buyers, repeaters = _buyers(state, ids)
    out.update(
        {
            fc.N_VIEWS: num(fc.N_VIEWS).astype(np.int64),
            fc.N_CARTS: num(fc.N_CARTS).astype(np.int64),
            fc.N_PURCHASE_LINES: num(fc.N_PURCHASE_LINES).astype(np.int64),
            fc.N_ORDERS: num(fc.N_ORDERS).astype(np.int64),
            fc.UNITS: units.astype(np.int64),
            fc.REVENUE: num(fc.VALUE),
            fc.UNITS_RETURNED: units_out.astype(np.int64),
            fc.RETURN_RATE: np.minimum(
                np.divide(units_out, np.maximum(units, units_out), out=np.zeros(n), where=units_out > 0), 1.0
            ),
            fc.N_BUYERS: buyers,
            fc.N_REPEAT_BUYERS: repeaters,
            fc.REPEAT_PURCHASE_RATE: np.divide(repeaters, buyers, out=np.zeros(n), where=buyers > 0),
        }
    )
    frame = pd.DataFrame(out)
    frame[contract.FIRST_SEEN] = frame[contract.FIRST_SEEN].astype(contract.TS_DTYPE)
    for col in (contract.TITLE, fc.TITLE_TOKENS, contract.CATEGORY):
        frame[col] = frame[col].astype(contract.STRING_DTYPE)
    return frame


def _popularity(
    state: FeatureState, ids: pd.array, as_of: int, windows: tuple[int, ...]
) -> dict[str, np.ndarray]:
    daily = state.item_daily
    day = ts_us(daily[fc.DAY]) if len(daily) else np.zeros(0, np.int64)
    pos = positions(daily[contract.ITEM_ID], ids)
    out = {}
    for w in windows:
        rows = day >= as_of - w * DAY_US
        for prefix, col in (
            (fc.PURCHASES_PREFIX, fc.N_PURCHASE_LINES),
            (fc.VIEWS_PREFIX, fc.N_VIEWS),
            (fc.CARTS_PREFIX, fc.N_CARTS),
        ):
            counts = group_sum(pos[rows], len(ids), daily[col].to_numpy()[rows])
            out[f"{prefix}{w}d"] = counts.round().astype(np.int64)
    return out


def _buyers(state: FeatureState, ids: pd.array) -> tuple[np.ndarray, np.ndarray]:
    """Customers who bought each item, and those who bought it in two or more orders."""
    ci = state.customer_items
    pos = positions(ci[contract.ITEM_ID], ids)
    repeat = ci[fc.N_ORDERS].to_numpy() >= 2
    return group_sum(pos, len(ids)), group_sum(pos[repeat], len(ids))
