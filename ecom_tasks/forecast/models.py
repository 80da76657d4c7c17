"""The candidate forecasters, each fitted on the days before a cutoff and asked for ``h`` days.

- ``snaive``, ``ets``, ``intermittent``: statsforecast's SeasonalNaive(7), AutoETS(season 7) and
  CrostonSBA, one local model per item;
- ``global`` / ``global_noemb``: one LightGBM over every item through mlforecast (lags, rolling
  means, calendar, the item's category and price level and, for ``global``, the retrieval
  champion's item embeddings), recursive over the horizon.

Training values are capped (:func:`ecom_tasks.forecast.data.caps`, from the fit's own history).
An item with fewer than two weeks of life before the cutoff is too short for a seasonal model:
every local model forecasts it the mean of its days so far (a defined result, also for a series of
one sale or only zeros). AutoETS also leaves out items with a sale on fewer than
``ets_min_sale_days`` days of its fit window: they get the mean of their last ``ets_recent_days``
days. Items born after the cutoff are not forecast (zero) by any model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecom_tasks.errors import ConfigError
from ecom_tasks.forecast import config as fcfg
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.data import Demand, caps

log = logging.getLogger(__name__)

SEASON = 7
MIN_LOCAL_DAYS = 2 * SEASON
# statsforecast JIT-compiles some models with numba on their first call in a process (measured:
# about 0.5 s for CrostonSBA, nothing for SeasonalNaive and AutoETS). Its on-disk cache
# (NIXTLA_NUMBA_CACHE=1) writes into the installed package unless NUMBA_CACHE_DIR points elsewhere,
# so it is left to the worker's environment, not switched on here.


@dataclass
class Fit:
    """The history a model may use for one cutoff, capped, and what capping did."""

    cutoff: int  # column of the first forecast day
    history: np.ndarray  # [items, cutoff] capped units
    alive: np.ndarray  # [items, cutoff]
    capped_item_days: int
    seconds: dict[str, float] = field(default_factory=dict)


def prepare(demand: Demand, cutoff: int, config: ForecastConfig) -> Fit:
    """The days before ``cutoff``, each item-day capped at its own history's cap."""
    raw = demand.units[:, :cutoff]
    alive = demand.alive[:, :cutoff]
    cap = caps(raw, alive, config.cap_multiplier)
    capped = np.minimum(raw, cap[:, None])
    return Fit(cutoff, capped, alive, int(np.sum(capped < raw)))


def _long(demand: Demand, fit: Fit, rows: np.ndarray, last_days: int | None = None) -> pd.DataFrame:
    start = 0 if last_days is None else max(0, fit.cutoff - last_days)
    alive = fit.alive[rows, start:]
    r, c = np.nonzero(alive)
    return pd.DataFrame(
        {
            "unique_id": demand.items[rows][r],
            "ds": demand.days[start:][c],
            "y": fit.history[rows, start:][r, c],
        }
    )


def _stats_model(name: str, config: ForecastConfig):
    from statsforecast.models import AutoETS, CrostonSBA, SeasonalNaive

    if name == fcfg.SNAIVE:
        return SeasonalNaive(season_length=SEASON)
    if name == fcfg.ETS:
        return AutoETS(season_length=SEASON, model=config.ets_model)
    if name == fcfg.INTERMITTENT:
        return CrostonSBA()
    raise ConfigError(f"model: {name!r} is not a statsforecast candidate {list(fcfg.STATS_MODELS)}")


def _short_mean(fit: Fit, rows: np.ndarray, h: int) -> np.ndarray:
    life = np.maximum(fit.alive[rows].sum(axis=1), 1)
    return np.repeat((fit.history[rows] * fit.alive[rows]).sum(axis=1)[:, None] / life[:, None], h, axis=1)


def recent_mean(fit: Fit, rows: np.ndarray, days: int, h: int) -> np.ndarray:
    """``[rows, h]``: each item's mean daily units over its alive days among the last ``days``."""
    window = slice(max(0, fit.cutoff - days), fit.cutoff)
    hist, alive = fit.history[rows, window], fit.alive[rows, window]
    mean = (hist * alive).sum(axis=1) / np.maximum(alive.sum(axis=1), 1)
    return np.repeat(mean[:, None], h, axis=1)


def local_forecast(name: str, demand: Demand, fit: Fit, h: int, config: ForecastConfig) -> np.ndarray:
    """``[items, h]`` forecasts of a statsforecast model (see the module docstring)."""
    from statsforecast import StatsForecast

    out = np.zeros((len(demand.items), h))
    life = fit.alive.sum(axis=1)
    short = np.flatnonzero((life > 0) & (life < MIN_LOCAL_DAYS))
    out[short] = _short_mean(fit, short, h)
    rows = np.flatnonzero(life >= MIN_LOCAL_DAYS)
    if name == fcfg.ETS and config.ets_min_sale_days:
        # A series with a sale on a few days of half a year has no level or season for AutoETS to
        # find (its optimiser is most of the stage's cost): the recent mean forecasts it better.
        window = slice(max(0, fit.cutoff - config.fit_days), fit.cutoff)
        sparse = (fit.history[rows, window] > 0).sum(axis=1) < config.ets_min_sale_days
        out[rows[sparse]] = recent_mean(fit, rows[sparse], config.ets_recent_days, h)
        rows = rows[~sparse]
    if len(rows):
        sf = StatsForecast(models=[_stats_model(name, config)], freq="D", n_jobs=1)
        # The last fit_days only: AutoETS's cost grows with the series, its fit barely with older data.
        pred = sf.forecast(df=_long(demand, fit, rows, config.fit_days), h=h)
        column = next(c for c in pred.columns if c not in ("unique_id", "ds"))
        values = pred[column].to_numpy(np.float64).reshape(len(rows), h)
        order = pd.Index(pred["unique_id"].to_numpy()[::h]).get_indexer(demand.items[rows])
        out[rows] = values[order]
    return np.clip(np.nan_to_num(out), 0, None)


def statics(demand: Demand, fit: Fit, embeddings: np.ndarray | None) -> pd.DataFrame:
    """Per item: category code, log mean price before the cutoff and the embedding components."""
    price = demand.price[:, : fit.cutoff]
    with np.errstate(all="ignore"):
        level = np.nanmean(np.where(np.isfinite(price), price, np.nan), axis=1)
    frame = pd.DataFrame(
        {
            "unique_id": demand.items,
            "category_code": pd.factorize(demand.category, sort=True)[0].astype(np.int64),
            "log_price": np.log1p(np.nan_to_num(level, nan=0.0)),
        }
    )
    if embeddings is not None:
        for k in range(embeddings.shape[1]):
            frame[f"emb_{k}"] = embeddings[:, k]
    return frame


def global_forecast(
    demand: Demand, fit: Fit, h: int, config: ForecastConfig, embeddings: np.ndarray | None
) -> np.ndarray:
    """``[items, h]`` forecasts of the global LightGBM (with ``embeddings`` when given)."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean

    rows = np.flatnonzero(fit.alive.sum(axis=1) > 0)
    out = np.zeros((len(demand.items), h))
    if not len(rows):
        return out
    lags = [1, 7, 14, 28]
    frame = _long(demand, fit, rows, config.fit_days + max(lags))
    stat = statics(demand, fit, embeddings).iloc[rows]
    frame = frame.merge(stat, on="unique_id", how="left")
    model = lgb.LGBMRegressor(
        n_estimators=config.lgbm_estimators,
        learning_rate=config.lgbm_learning_rate,
        num_leaves=config.lgbm_leaves,
        objective=config.lgbm_objective,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=config.seed,
        n_jobs=1,  # OpenMP threads spin on a shared, oversubscribed machine: 1 is faster there
        verbose=-1,
    )
    mlf = MLForecast(
        models={"lgb": model},
        freq="D",
        lags=lags,
        lag_transforms={
            1: [RollingMean(window_size=7), RollingMean(window_size=28)],
            7: [RollingMean(window_size=7)],
        },
        date_features=["dayofweek", "day"],
    )
    static_cols = [c for c in stat.columns if c != "unique_id"]
    # dropna=False: a young item's first days (lags not yet defined) still teach the model.
    mlf.fit(frame, static_features=static_cols, dropna=False)
    pred = mlf.predict(h)
    values = pred["lgb"].to_numpy(np.float64).reshape(-1, h)
    order = pd.Index(pred["unique_id"].to_numpy()[::h]).get_indexer(demand.items[rows])
    out[rows] = values[order]
    return np.clip(np.nan_to_num(out), 0, None)


def forecast(
    name: str, demand: Demand, fit: Fit, h: int, config: ForecastConfig, embeddings: np.ndarray | None = None
) -> np.ndarray:
    """``[items, h]`` point forecasts of candidate ``name`` from ``fit`` (timed into ``fit.seconds``:
    wall seconds, and CPU seconds of this process as ``<name>_cpu``, which a shared machine's load
    does not inflate)."""
    started, cpu = time.perf_counter(), time.process_time()
    if name in fcfg.STATS_MODELS:
        out = local_forecast(name, demand, fit, h, config)
    elif name == fcfg.GLOBAL_NOEMB:
        out = global_forecast(demand, fit, h, config, None)
    elif name == fcfg.GLOBAL:
        out = global_forecast(demand, fit, h, config, embeddings)
    else:
        raise ConfigError(
            f"model: unknown forecast candidate {name!r}; expected one of {list(fcfg.CANDIDATES)}"
        )
    fit.seconds[name] = round(time.perf_counter() - started, 3)
    fit.seconds[f"{name}_cpu"] = round(time.process_time() - cpu, 3)
    return out


def scale(fit: Fit, rows: np.ndarray | None = None) -> np.ndarray:
    """Per item, the interval scale: mean daily units over its last 56 days before the cutoff
    (floor 1/56: an item that did not sell lately still gets a sliver of width)."""
    window = slice(max(0, fit.cutoff - 56), fit.cutoff)
    hist, alive = fit.history[:, window], fit.alive[:, window]
    days = np.maximum(alive.sum(axis=1), 1)
    return np.maximum((hist * alive).sum(axis=1) / days, 1 / 56)


def conformal(y: np.ndarray, f: np.ndarray, s: np.ndarray) -> dict[int, float]:
    """Per level, the quantile of |actual - forecast| / scale over a window's item-days."""
    scores = (np.abs(y - f) / s[:, None]).ravel()
    if not scores.size:
        return {lvl: 0.0 for lvl in fcfg.LEVELS}
    return {lvl: float(np.quantile(scores, lvl / 100, method="higher")) for lvl in fcfg.LEVELS}


def quantiles(f: np.ndarray, s: np.ndarray, widths: dict[int, float]) -> dict[str, np.ndarray]:
    """The published quantiles: p50 (the point forecast) and the 80 % and 95 % intervals."""
    w80, w95 = widths[80] * s[:, None], widths[95] * s[:, None]
    return {
        "p50": f,
        "p10": np.clip(f - w80, 0, None),
        "p90": f + w80,
        "p2_5": np.clip(f - w95, 0, None),
        "p97_5": f + w95,
    }
