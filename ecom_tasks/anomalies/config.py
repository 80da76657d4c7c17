"""Configuration and names of the anomaly stage (orders and daily metrics).

Defaults live here in one place: :class:`AnomalyConfig` (frozen); the run parameters
``anomaly_test_days`` and ``anomaly_budget`` (declared in :mod:`ecom_tasks.params`) set two of them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.params import DEFAULTS

NAME = catalog.ANOMALIES
ORDERS_TABLE = catalog.ORDER_ANOMALIES
METRICS_TABLE = catalog.METRIC_ANOMALIES
MODEL_DIR = "model"  # the artifact folder inside models/anomalies/ds=D (holds model.pkl)

# Candidates in metrics.json: the rules and each detector under their prefix, the selected one bare.
RULES = "rules"
IFOREST, ECOD, COPOD, HBOS = "iforest", "ecod", "copod", "hbos"
DETECTORS: tuple[str, ...] = (IFOREST, ECOD, COPOD, HBOS)
ENSEMBLE = "ensemble"
CANDIDATES: tuple[str, ...] = (RULES, *DETECTORS, ENSEMBLE)


@dataclass(frozen=True)
class AnomalyConfig:
    """How the anomaly stage builds features, fits, evaluates, flags and alerts.

    Attributes:
        test_days: the test window, the last days up to ``ds`` (run parameter ``anomaly_test_days``).
        valid_days: the validation window just before it, on which the published detector is chosen.
        budget: orders a person reviews per day (run parameter ``anomaly_budget``).
        min_train_orders: fewer orders before the validation window than this: not enough data.
        max_train_orders: the detectors are fitted on at most this many of the latest orders
            before the validation window (ECOD and COPOD keep them to score new orders).
        item_window_days: an item's typical price and quantities come from its lines in this many
            days before the order's day.
        duplicate_window_hours: an order with exactly the same basket (items, quantities, unit
            prices) as an earlier order of the same customer (anonymous orders: of the same
            country) placed at most this many hours before is a repeated basket: a feature of the
            detectors and the rules' duplicate rule (a weekly reorder is not one).
        min_item_lines: an item with fewer earlier lines has no typical price yet ("new item").
        price_factor / quantity_factor / first_order_factor: the rules fire at a unit price this
            many times above (or below) the item's median, a quantity this many times the item's
            99th percentile, a first order this many times the shop's typical first order.
        customer_quantity_factor: the quantity rule also fires at a line this many times the largest
            line the customer bought before (5 chosen on the validation window of Online Retail II).
        severity: an order is flagged when its score is above this share of the training orders'
            scores (0.999: more unusual than 999 in 1000 past orders).
        metric_weeks: the daily metrics' expected value is the median of the same weekday of this
            many earlier weeks; the band is ``metric_band`` robust standard deviations (MAD) wide.
        metric_min_orders: a country or category is tracked when it has at least this many orders
            per day on average over those weeks.
        metric_drop: the injected metric drop removes this share of one country's orders of a day.
        injection_rounds: copies of each window, each with its own injections (3 copies of 28
            days: 420 injected orders to measure on, not 140).
        seed: seeds the detectors and the injections.
    """

    test_days: int = DEFAULTS["anomaly_test_days"]
    valid_days: int = 14
    budget: int = DEFAULTS["anomaly_budget"]
    min_train_orders: int = 200
    max_train_orders: int = 20_000
    item_window_days: int = 180
    duplicate_window_hours: float = 24.0
    min_item_lines: int = 3
    price_factor: float = 3.0
    quantity_factor: float = 3.0
    customer_quantity_factor: float = 5.0
    first_order_factor: float = 10.0
    severity: float = 0.999
    metric_weeks: int = 4
    metric_band: float = 3.0
    metric_min_orders: float = 5.0
    metric_drop: float = 0.7
    injection_rounds: int = 3
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("test_days", "valid_days", "budget", "min_train_orders", "max_train_orders"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"AnomalyConfig.{name}: must be a positive integer, got {value!r}")
        for name in ("item_window_days", "min_item_lines", "metric_weeks", "injection_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"AnomalyConfig.{name}: must be a positive integer, got {value!r}")
        for name in ("price_factor", "quantity_factor", "customer_quantity_factor", "first_order_factor"):
            if not getattr(self, name) > 1:
                raise ConfigError(f"AnomalyConfig.{name}: must be above 1, got {getattr(self, name)!r}")
        if not self.duplicate_window_hours > 0:
            raise ConfigError(
                f"AnomalyConfig.duplicate_window_hours: must be above 0, got {self.duplicate_window_hours!r}"
            )
        if not 0 < self.severity < 1:
            raise ConfigError(f"AnomalyConfig.severity: must be in (0, 1), got {self.severity!r}")
        if not 0 < self.metric_drop < 1:
            raise ConfigError(f"AnomalyConfig.metric_drop: must be in (0, 1), got {self.metric_drop!r}")
        if not self.metric_band > 0 or not self.metric_min_orders >= 0:
            raise ConfigError("AnomalyConfig.metric_band must be > 0 and metric_min_orders >= 0")

    @classmethod
    def from_run(cls, run: Any) -> AnomalyConfig:
        """The nightly configuration with a run's ``anomaly_test_days``, ``anomaly_budget`` and ``seed``."""
        return replace(cls(), test_days=run.anomaly_test_days, budget=run.anomaly_budget, seed=run.seed)

    @property
    def history_days(self) -> int:
        """Days of history the stage needs: four weeks to learn from, then validation and test."""
        return 28 + self.valid_days + self.test_days

    @property
    def duplicate_window(self) -> pd.Timedelta:
        """How far back a repeated basket is looked for."""
        return pd.Timedelta(hours=self.duplicate_window_hours)

    @property
    def metric_view_days(self) -> int:
        """Days of views the daily metrics need: the test window and the weeks of their baseline."""
        return self.test_days + 7 * self.metric_weeks

    @property
    def lookback_days(self) -> int:
        """Whole days before a scored day whose orders come along (a repeat of one of them is seen)."""
        return max(1, math.ceil(self.duplicate_window_hours / 24))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
