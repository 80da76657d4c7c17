"""The rolling-origin backtest: every candidate on the same two windows before ``ds``.

With ``n`` days up to ``ds`` and horizon ``h``: the validation window is the days
``[n-2h, n-h)`` (models fit on the days before it) and chooses the model; the test window is
``[n-h, n)`` (models refit on the days before it) and gives every reported metric. Intervals on the
test window are conformal: widths from the same model's validation residuals, never from the
test's own. The published forecast refits the selected model on every day up to ``ds`` with widths
from its test-window residuals (the latest out-of-sample errors).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ecom_tasks.forecast import config as fcfg
from ecom_tasks.forecast import metrics as fm
from ecom_tasks.forecast import models
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.data import Demand, ForecastDataError
from ecom_tasks.ui import labels

log = logging.getLogger(__name__)


@dataclass
class Backtest:
    """Every candidate's forecasts and metrics on both windows, and the selection."""

    valid_start: int
    test_start: int
    evaluated: np.ndarray  # rows of the items alive before the validation window
    valid: dict[str, np.ndarray]  # name -> [items, h] validation forecasts
    test: dict[str, dict[str, np.ndarray]]  # name -> test quantiles
    widths: dict[str, dict[int, float]]  # name -> conformal widths from validation
    metrics: dict[str, float | str | int]
    selected: str
    selection: str
    capped_item_days: int
    seconds: dict[str, float] = field(default_factory=dict)

    def actual(self, demand: Demand, start: int, h: int) -> np.ndarray:
        return demand.units[self.evaluated, start : start + h]


def windows(n_days: int, config: ForecastConfig) -> tuple[int, int]:
    """Columns of the validation and test windows' first days; ForecastDataError when too short."""
    h = config.horizon_days
    if n_days < config.min_history_days:
        raise ForecastDataError(
            f"forecast_horizon_days={h}: the backtest needs {config.min_history_days} days of sales history "
            f"(two {h}-day windows and {config.min_train_days} days to fit on), the shop has {n_days}"
        )
    return n_days - 2 * h, n_days - h


def selection_text(
    names: list[str], valid_wape: dict[str, float], first: pd.Timestamp, last: pd.Timestamp
) -> str:
    """Why the published model won, in plain words: every candidate's validation WAPE, best first."""
    ranking = "; ".join(
        f"{labels.model_name(n)} {labels.number(valid_wape[n], labels.SHARE)}"
        for n in sorted(names, key=lambda n: np.nan_to_num(valid_wape[n], nan=np.inf))
    )
    return (
        f"lowest daily error per item (WAPE, absolute error / units sold) on the validation window "
        f"{first.date()} to {last.date()}: {ranking}"
    )


def run(
    demand: Demand,
    config: ForecastConfig,
    embeddings: np.ndarray | None,
    candidates: tuple[str, ...] = fcfg.CANDIDATES,
) -> Backtest:
    """Fit and score ``candidates`` on both windows; select on validation WAPE (see module doc)."""
    h = config.horizon_days
    v0, t0 = windows(len(demand.days), config)
    evaluated = np.flatnonzero(demand.first < v0)
    for name, start, end in (("validation", v0, t0), ("test", t0, len(demand.days))):
        sold = int(np.sum(demand.units[evaluated, start:end].sum(axis=1) > 0))
        if sold < config.min_items_sold:  # a WAPE over a handful of sales is noise: nothing to judge
            raise ForecastDataError(
                f"{sold} items sold in the {name} window ({demand.days[start].date()} .. "
                f"{demand.days[end - 1].date()}); the backtest needs at least {config.min_items_sold}"
            )
    names = [c for c in candidates if c != fcfg.GLOBAL or embeddings is not None]
    fit_v, fit_t = models.prepare(demand, v0, config), models.prepare(demand, t0, config)
    y_v, y_t = demand.units[evaluated, v0:t0], demand.units[evaluated, t0:]
    scale_v = fm.snaive_scale(fit_v.history[evaluated], fit_v.alive[evaluated])
    scale_t = fm.snaive_scale(fit_t.history[evaluated], fit_t.alive[evaluated])
    s_v, s_t = models.scale(fit_v)[evaluated], models.scale(fit_t)[evaluated]
    valid, test, widths, metrics = {}, {}, {}, {}
    for name in names:
        valid[name] = models.forecast(name, demand, fit_v, h, config, embeddings)[evaluated]
        widths[name] = models.conformal(y_v, valid[name], s_v)
        f_t = models.forecast(name, demand, fit_t, h, config, embeddings)[evaluated]
        test[name] = models.quantiles(f_t, s_t, widths[name])
        log.info(
            "forecast candidate %s: valid wape %.4f, test wape %.4f",
            name,
            fm.wape(y_v, valid[name]),
            fm.wape(y_t, f_t),
        )
    valid_wape = {n: fm.wape(y_v, valid[n]) for n in names}
    selected = min(names, key=lambda n: (np.nan_to_num(valid_wape[n], nan=np.inf), names.index(n)))
    selection = selection_text(names, valid_wape, demand.days[v0], demand.days[t0 - 1])
    for name in names:
        prefix = "" if name == selected else f"{name}_"
        metrics |= fm.all_metrics(y_t, test[name], scale_t, prefix)
        metrics |= fm.point_metrics(y_v, valid[name], scale_v, f"{prefix}valid_")
    metrics |= {
        "selected": selected,
        "selection": selection,
        "items_evaluated": len(evaluated),
        "capped_item_days": fit_t.capped_item_days,
        "embeddings_used": embeddings is not None,
    }
    seconds = {f"valid_{k}": v for k, v in fit_v.seconds.items()} | {
        f"test_{k}": v for k, v in fit_t.seconds.items()
    }
    return Backtest(
        v0, t0, evaluated, valid, test, widths, metrics, selected, selection, fit_t.capped_item_days, seconds
    )


def final(
    demand: Demand, config: ForecastConfig, name: str, widths: dict[int, float], embeddings: np.ndarray | None
) -> dict[str, np.ndarray]:
    """The published forecast: ``name`` refit on every day up to ``ds``, for the ``h`` days after it."""
    fit = models.prepare(demand, len(demand.days), config)
    f = models.forecast(name, demand, fit, config.horizon_days, config, embeddings)
    return models.quantiles(f, models.scale(fit), widths)


def recalibrate(backtest: Backtest, demand: Demand, name: str, config: ForecastConfig) -> dict[int, float]:
    """Widths for the published forecast: ``name``'s residuals on the test window."""
    fit = models.prepare(demand, backtest.test_start, config)
    y = backtest.actual(demand, backtest.test_start, config.horizon_days)
    return models.conformal(y, backtest.test[name]["p50"], models.scale(fit)[backtest.evaluated])
