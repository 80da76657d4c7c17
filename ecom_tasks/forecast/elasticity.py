"""Own-price elasticity per category (and per item with enough price changes of its own).

On the item-days with a priced sale before a cutoff, per category::

    log(units) = β · log(price) + item effect + day-of-week effects + ε

fitted by OLS (statsmodels) after removing each item's mean (the fixed effects), with the residual
degrees of freedom corrected for the item means. ``β`` is the elasticity (-1.5: a 10 % higher price
sells about 15 % fewer units); it comes with its 90 % interval, the number of price changes behind
it (consecutive priced sales of one item at a price more than 1 % different) and a flag when the
interval contains zero. A category with fewer than ``min_changes`` price changes gets no estimate
(NaN, flagged): its prices did not move, so the data cannot say.

The check (:func:`check`): on the test window, for items whose mean price moved by more than 1 %
against the window before it, the predicted change in log volume (β · Δlog price) against the
observed one, and the no-elasticity baseline (no change).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ecom_tasks.contract import CATEGORY, ITEM_ID

log = logging.getLogger(__name__)

ELASTICITY, LOW, HIGH = "elasticity", "elasticity_low_90", "elasticity_high_90"
LEVEL, ITEM = "level", "item"  # a row's level: ``category`` or ``item``
CHANGES, OBSERVATIONS, NOT_ZERO = "price_changes", "observations", "distinguishable_from_zero"
MOVE = 0.01  # a price change smaller than 1 % is rounding, not a change


def price_changes(price: np.ndarray) -> np.ndarray:
    """Per item, how often consecutive priced sales differ by more than :data:`MOVE`."""
    out = np.zeros(price.shape[0], dtype=np.int64)
    for i in range(price.shape[0]):
        p = price[i][np.isfinite(price[i])]
        if len(p) > 1:
            out[i] = int(np.sum(np.abs(np.diff(np.log(p))) > MOVE))
    return out


def _design(
    y: np.ndarray, x: np.ndarray, group: np.ndarray, dow: np.ndarray
) -> tuple[pd.Series, pd.DataFrame, int]:
    """The within (item-demeaned) response and regressors: log price and day-of-week dummies."""
    frame = pd.DataFrame({"y": y, "x": x, "g": group})
    dummies = pd.get_dummies(dow, prefix="dow", drop_first=True, dtype=float)
    frame = pd.concat([frame, dummies.set_index(frame.index)], axis=1)
    cols = ["y", "x", *dummies.columns]
    demeaned = frame[cols] - frame.groupby("g")[cols].transform("mean")
    return demeaned["y"], demeaned[["x", *dummies.columns]], int(frame["g"].nunique())


def _interval(beta: float, se: float, df: int) -> tuple[float, float, float]:
    from scipy.stats import t

    if df <= 0 or not np.isfinite(se):
        return beta, float("nan"), float("nan")
    half = float(t.ppf(0.95, df)) * se
    return beta, beta - half, beta + half


def _fit(y: np.ndarray, x: np.ndarray, group: np.ndarray, dow: np.ndarray) -> tuple[float, float, float]:
    """Elasticity and its 90 % interval by statsmodels OLS on the within-transformed data."""
    import statsmodels.api as sm

    yy, xx, n_groups = _design(y, x, group, dow)
    result = sm.OLS(yy, xx).fit()
    df_fe = int(result.df_resid) - n_groups  # the item means used degrees of freedom too
    se = float(result.bse["x"]) * np.sqrt(result.df_resid / df_fe) if df_fe > 0 else float("nan")
    return _interval(float(result.params["x"]), se, df_fe)


def _fit_fast(y: np.ndarray, x: np.ndarray, group: np.ndarray, dow: np.ndarray) -> tuple[float, float, float]:
    """The same estimate as :func:`_fit` by numpy least squares (thousands of per-item fits)."""
    present = np.unique(dow)
    dummies = (dow[:, None] == present[None, 1:]).astype(np.float64)  # as _design: first day dropped
    raw = np.column_stack([y, x, dummies])
    codes, n_groups = np.unique(group, return_inverse=True)[1], len(np.unique(group))
    means = (
        np.stack([np.bincount(codes, raw[:, j]) for j in range(raw.shape[1])], 1)
        / np.bincount(codes)[:, None]
    )
    within = raw - means[codes]
    a, b = within[:, 1:], within[:, 0]
    coef, *_ = np.linalg.lstsq(a, b, rcond=None)
    df_fe = len(b) - a.shape[1] - n_groups
    if df_fe <= 0:
        return float(coef[0]), float("nan"), float("nan")
    sigma2 = float(np.sum((b - a @ coef) ** 2)) / df_fe
    cov = sigma2 * np.linalg.pinv(a.T @ a)
    return _interval(float(coef[0]), float(np.sqrt(max(cov[0, 0], 0.0))), df_fe)


def _row(
    units: np.ndarray, price: np.ndarray, changes: np.ndarray, dow: np.ndarray, min_changes: int, fit=_fit
) -> dict:
    """The estimate over the given items' rows (``[items, days]``)."""
    n_changes = int(changes.sum())
    mask = (units > 0) & np.isfinite(price) & (price > 0)
    r, c = np.nonzero(mask)
    beta = lo = hi = float("nan")
    varied = np.isin(r, np.flatnonzero(changes > 0))  # items whose price never moved say nothing
    if n_changes >= min_changes and varied.sum() > 3:
        r, c = r[varied], c[varied]
        beta, lo, hi = fit(np.log(units[r, c]), np.log(price[r, c]), r, dow[c])
    return {
        ELASTICITY: beta,
        LOW: lo,
        HIGH: hi,
        CHANGES: n_changes,
        OBSERVATIONS: int(mask.sum()),
        NOT_ZERO: bool(np.isfinite(lo) and (lo > 0 or hi < 0)),
    }


def estimate(
    units: np.ndarray,
    price: np.ndarray,
    category: np.ndarray,
    days: pd.DatetimeIndex,
    min_changes: int,
    items: np.ndarray | None = None,
    min_item_changes: int = 10,
) -> pd.DataFrame:
    """One row per category (``level`` category) and, with ``items``, one per item with at least
    ``min_item_changes`` price changes of its own (``level`` item); arrays ``[items, days]``."""
    rows = []
    changes = price_changes(price)
    dow = np.asarray(days.day_of_week)
    for cat in sorted(set(category)):
        members = np.flatnonzero(category == cat)
        row = _row(units[members], price[members], changes[members], dow, min_changes)
        rows.append({LEVEL: CATEGORY, CATEGORY: cat, ITEM_ID: None, **row})
    if items is not None:
        for i in np.flatnonzero(changes >= min_item_changes):
            row = _row(
                units[i : i + 1], price[i : i + 1], changes[i : i + 1], dow, min_item_changes, _fit_fast
            )
            if np.isfinite(row[ELASTICITY]):
                rows.append({LEVEL: ITEM, CATEGORY: category[i], ITEM_ID: str(items[i]), **row})
    frame = pd.DataFrame(
        rows, columns=[LEVEL, CATEGORY, ITEM_ID, ELASTICITY, LOW, HIGH, CHANGES, OBSERVATIONS, NOT_ZERO]
    )
    for col in (LEVEL, CATEGORY, ITEM_ID):
        frame[col] = pd.array(frame[col], dtype="string")
    return frame


def lookup(table: pd.DataFrame, items: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Per item, its own elasticity when the table has one, else its category's (NaN: none)."""
    cats = table[table[LEVEL] == CATEGORY]
    by_cat = dict(zip(cats[CATEGORY].astype(str), cats[ELASTICITY].astype(float), strict=True))
    own = table[table[LEVEL] == ITEM]
    by_item = dict(zip(own[ITEM_ID].astype(str), own[ELASTICITY].astype(float), strict=True))
    return np.array(
        [by_item.get(str(i), by_cat.get(str(c), np.nan)) for i, c in zip(items, category, strict=True)]
    )


def check(
    table: pd.DataFrame,
    items: np.ndarray,
    category: np.ndarray,
    units_before: np.ndarray,
    units_after: np.ndarray,
    price_before: np.ndarray,
    price_after: np.ndarray,
) -> dict[str, float]:
    """``elasticity_sign_accuracy``, ``elasticity_log_mae``, ``noelasticity_log_mae`` and
    ``elasticity_items``: items whose mean price moved, both windows priced and sold."""
    with np.errstate(all="ignore"):
        pb = np.nanmean(np.where(np.isfinite(price_before), price_before, np.nan), axis=1)
        pa = np.nanmean(np.where(np.isfinite(price_after), price_after, np.nan), axis=1)
        dlogp = np.log(pa) - np.log(pb)
    qb, qa = units_before.sum(axis=1), units_after.sum(axis=1)
    beta = lookup(table, items, category) if len(table) else np.full(len(items), np.nan)
    ok = np.isfinite(dlogp) & (np.abs(dlogp) > MOVE) & (qb > 0) & (qa > 0) & np.isfinite(beta)
    if not ok.any():
        return {"elasticity_items": 0}
    observed = np.log(qa[ok]) - np.log(qb[ok])
    predicted = beta[ok] * dlogp[ok]
    moved = observed != 0
    return {
        "elasticity_items": int(ok.sum()),
        "elasticity_sign_accuracy": float(np.mean(np.sign(predicted[moved]) == np.sign(observed[moved])))
        if moved.any()
        else float("nan"),
        "elasticity_log_mae": float(np.mean(np.abs(predicted - observed))),
        "noelasticity_log_mae": float(np.mean(np.abs(observed))),
    }
