"""Configuration and names of the forecast stage; defaults live here in one place."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError

MODEL = catalog.FORECAST
DEMAND_FORECAST = catalog.DEMAND_FORECAST
INVENTORY_PLAN = catalog.INVENTORY_PLAN
PRICE_ELASTICITY = catalog.PRICE_ELASTICITY
ARTIFACT_DIR = "model"  # the published artifact: the forecast table and the recipe that made it

# Candidate names: ``selected`` is one of them; metrics of the others carry ``<name>_``.
SNAIVE, ETS, INTERMITTENT, GLOBAL, GLOBAL_NOEMB = "snaive", "ets", "intermittent", "global", "global_noemb"
STATS_MODELS: tuple[str, ...] = (SNAIVE, ETS, INTERMITTENT)
CANDIDATES: tuple[str, ...] = (*STATS_MODELS, GLOBAL_NOEMB, GLOBAL)
LEVELS: tuple[int, ...] = (80, 95)


@dataclass(frozen=True)
class ForecastConfig:
    """How the forecast stage builds its data, backtests, selects and plans.

    Attributes:
        horizon_days: forecast horizon h; the test window is the last h days up to ``ds``, the
            validation window the h days before it (run parameter ``forecast_horizon_days``).
        min_train_days: days of history a backtest fit needs before the validation window.
        min_items_sold: items with a sale a backtest window needs (fewer: the stage steps aside,
            its WAPE would be a handful of sales; the gate's ``min_test_examples`` is the same 20).
        cap_multiplier: an item-day above this many times the 90th percentile of the item's
            non-zero days (before the fit's cutoff) is capped there for training (one-off
            wholesale lines); None: no cap. Evaluation always uses the uncapped actuals.
        ets_model: the AutoETS model string (``ANA``: additive error, no trend, additive weekly
            season; ``ZZZ`` lets it choose, at several times the cost on 4,000 items).
        ets_min_sale_days / ets_recent_days: AutoETS is fitted only to items with at least
            ``ets_min_sale_days`` days with a sale in the fit window; a sparser item (half of Online
            Retail II's) is forecast the mean of its last ``ets_recent_days`` days, which is
            more accurate there and costs nothing (chosen on the validation window, bench/RESULTS.md).
            0: AutoETS for every item.
        fit_days: every model learns from at most this many days before each cutoff.
        lgbm_estimators / lgbm_learning_rate / lgbm_leaves / lgbm_objective: its LightGBM. ``l1``
            forecasts the median, what WAPE rewards: on Online Retail II's validation window WAPE
            0.893 against 1.121 for ``tweedie`` (a mean), at the price of a large negative bias
            (bench/RESULTS.md); ``tweedie`` when the volume matters more than the daily error.
        embedding_dims: item-embedding dimensions kept (first principal components).
        lead_time_days / review_days / service_level: the inventory plan's parameters.
        elasticity_min_changes: price changes a category needs for an elasticity estimate.
        seed: seeds LightGBM.
        stock_folder: the landing folder whose ``ds=D/stock.*`` file gives the plan its stock
            (:mod:`ecom_tasks.forecast.stock`); the run's ``source_path`` when its source is a
            landing folder, else None. Not part of the recipe: stock changes no forecast.
    """

    horizon_days: int = 28
    min_train_days: int = 28
    min_items_sold: int = 20
    cap_multiplier: float | None = 3.0
    ets_model: str = "ANA"
    ets_min_sale_days: int = 30
    ets_recent_days: int = 14
    fit_days: int = 182
    lgbm_estimators: int = 150
    lgbm_learning_rate: float = 0.05
    lgbm_leaves: int = 31
    lgbm_objective: str = "l1"
    embedding_dims: int = 8
    lead_time_days: int = 14
    review_days: int = 7
    service_level: float = 0.95
    elasticity_min_changes: int = 5
    seed: int = 42
    stock_folder: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "horizon_days",
            "min_train_days",
            "fit_days",
            "lgbm_estimators",
            "lgbm_leaves",
            "min_items_sold",
            "ets_recent_days",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"ForecastConfig.{name}: must be a positive integer, got {value!r}")
        for name in (
            "lead_time_days",
            "review_days",
            "embedding_dims",
            "elasticity_min_changes",
            "ets_min_sale_days",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"ForecastConfig.{name}: must be an integer >= 0, got {value!r}")
        if not 0.5 <= self.service_level < 1:
            raise ConfigError(f"service_level: must be in [0.5, 1), got {self.service_level!r}")
        if self.cap_multiplier is not None and not self.cap_multiplier >= 1:
            raise ConfigError(
                f"ForecastConfig.cap_multiplier: must be >= 1 or None, got {self.cap_multiplier!r}"
            )
        if self.lead_time_days + self.review_days < 1:
            raise ConfigError("lead_time_days + review_days: must be at least 1 day")

    @property
    def min_history_days(self) -> int:
        """Days from the first sale to ``ds`` a run needs: two backtest windows and a fit."""
        return 2 * self.horizon_days + self.min_train_days

    @classmethod
    def from_run(cls, run: Any) -> ForecastConfig:
        """The configuration a run's parameters select (horizon, inventory parameters, seed)."""
        return replace(
            cls(),
            horizon_days=run.forecast_horizon_days,
            lead_time_days=run.lead_time_days,
            review_days=run.review_days,
            service_level=run.service_level,
            seed=run.seed,
            stock_folder=run.source_path if getattr(run, "source", None) == catalog.LANDING else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """The recipe's fields (what makes the forecast; the stock folder does not)."""
        out = asdict(self)
        out.pop("stock_folder")
        return out
