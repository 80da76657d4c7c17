"""Typed configuration of the feature stage: one frozen dataclass per task, defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from ecom_tasks.errors import ConfigError


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name}: must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class FeatureConfig:
    """Parameters of ``build_features``.

    Attributes:
        trend_days: length of the "recent" and the "prior" window of the activity trend
            (the last ``trend_days`` days against the ``trend_days`` before them).
        popularity_windows: item popularity windows in days (the longest bounds the per-day state).
        top_categories: number of most-bought categories that get a ``cat_share_*`` column.
        affinity_categories: pin the ``cat_share_*`` categories (keeps the profile columns fixed
            across days, e.g. between a training cutoff and serving); ``None`` takes the
            ``top_categories`` most bought as of each day.
        basket_days: trailing window (days) of orders for basket sizes and co-purchase pairs.
        max_basket_items: orders with more distinct items are left out of co-purchase pairs
            (a wholesale order of 500 lines would add 125k pairs and say little about affinity).
        min_pair_orders: a pair must occur in at least this many orders to be reported.
        top_pairs: number of co-purchase pairs kept (by number of orders).
        max_title_tokens: title tokens kept per item for the text tower.
        report_days: days of history shown in the report's time-series plots.
        cohort_months: cohorts (and months after) shown in the report's retention heatmap.
        write_report: whether ``build_features`` renders the HTML report.
    """

    trend_days: int = 30
    popularity_windows: tuple[int, ...] = (7, 30, 90)
    top_categories: int = 8
    affinity_categories: tuple[str, ...] | None = None
    basket_days: int = 90
    max_basket_items: int = 50
    min_pair_orders: int = 3
    top_pairs: int = 200
    max_title_tokens: int = 16
    report_days: int = 90
    cohort_months: int = 12
    write_report: bool = True

    def __post_init__(self) -> None:
        for name in (
            "trend_days",
            "top_categories",
            "basket_days",
            "max_basket_items",
            "min_pair_orders",
            "top_pairs",
            "max_title_tokens",
            "report_days",
            "cohort_months",
        ):
            _positive(name, getattr(self, name))
        if not self.popularity_windows:
            raise ConfigError("popularity_windows: needs at least one window")
        for w in self.popularity_windows:
            _positive("popularity_windows", w)
        if len(set(self.popularity_windows)) != len(self.popularity_windows):
            raise ConfigError(f"popularity_windows: duplicate window in {self.popularity_windows}")

    @property
    def customer_history_days(self) -> int:
        """Days of per-customer daily aggregates the running state keeps (recent + prior window)."""
        return 2 * self.trend_days

    @property
    def item_history_days(self) -> int:
        """Days of per-item daily aggregates the running state keeps (the longest popularity window)."""
        return max(self.popularity_windows)


@dataclass(frozen=True)
class TrainingDataConfig:
    """Parameters of ``build_training_data``.

    Attributes:
        churn_horizon_days: churn label = no purchase within this many days after the cutoff.
        repurchase_days: repurchase label and order count horizon (days after the cutoff).
        next_items_days: horizon of the "next items bought" table (days after the cutoff).
        interaction_days: trailing days of retrieval interactions up to ``ds``; ``None`` = all history.
        view_weight, cart_weight, purchase_weight, return_weight: interaction weight per event type;
            event types with weight 0 are left out of the interactions.
        cutoff: explicit cutoff date (features use data up to the end of this day); ``None`` takes
            ``ds`` minus the longest horizon, so that every label is fully observed by ``ds``.
        retrieval_holdout_days: the days the retrieval model holds out for its evaluation
            (``RetrievalConfig.holdout_days`` takes its default from here): ``training_profiles``
            are the customer profiles as of the end of ``ds`` minus this, its last training day.
        features: the feature parameters used for the examples' features at the cutoff.
    """

    churn_horizon_days: int = 90
    repurchase_days: int = 30
    next_items_days: int = 30
    interaction_days: int | None = 365
    view_weight: float = 1.0
    cart_weight: float = 2.0
    purchase_weight: float = 4.0
    return_weight: float = 0.0
    cutoff: str | None = None
    retrieval_holdout_days: int = 7
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def __post_init__(self) -> None:
        for name in ("churn_horizon_days", "repurchase_days", "next_items_days", "retrieval_holdout_days"):
            _positive(name, getattr(self, name))
        if self.interaction_days is not None:
            _positive("interaction_days", self.interaction_days)
        for name in ("view_weight", "cart_weight", "purchase_weight", "return_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{name}: must be a number >= 0, got {value!r}")

    @property
    def horizon_days(self) -> int:
        """The longest label horizon: the nightly cutoff is ``ds`` minus this."""
        return max(self.churn_horizon_days, self.repurchase_days, self.next_items_days)


DEFAULT_FEATURES = FeatureConfig()
DEFAULT_TRAINING = TrainingDataConfig()
