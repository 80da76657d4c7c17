"""Configuration of the synthetic shop: one frozen dataclass with every default in one place."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields, replace

from ecom_tasks.errors import ConfigError

# Parameters that are probabilities (or shares) and so must lie in [0, 1].
_UNIT_RATES = (
    "buying_share", "view_to_cart", "cart_to_purchase", "return_rate", "churn_hazard", "repurchase_prob",
    "revisit_prob", "session_focus", "duplicate_rate", "missing_user_rate", "zero_price_rate",
    "unknown_item_rate",
)  # fmt: skip
_NON_NEGATIVE = (
    "sessions_per_user_day", "signups_per_day", "new_items_per_day", "weekend_uplift",
    "trend_per_year", "activity_spread", "popularity_skew",
)  # fmt: skip
DIRT_RATES = ("duplicate_rate", "missing_user_rate", "zero_price_rate", "unknown_item_rate")


@dataclass(frozen=True)
class SyntheticShopConfig:
    """A simulated shop; the defaults make a quick demo (about 2,000 users, 400 items, 12 categories).

    Rates are per day, per session or per event as named. The dirt rates inject faults for the
    validation stage to catch; ``without_dirt()`` turns them all off. Dirt never changes the
    simulated behaviour: the same seed gives the same shop with or without it.
    """

    seed: int = 42
    start_date: str = "2024-01-01"  # the shop opens; simulation always starts here
    n_users: int = 2_000  # registered customers at opening (they appear on their first visit)
    n_items: int = 400  # catalogue at opening
    n_categories: int = 12
    signups_per_day: float = 6.0  # new customers per day (Poisson), first visit on signup day
    new_items_per_day: float = 0.4  # items launched per day (Poisson), buyable from the next day
    sessions_per_user_day: float = 0.12  # mean over customers; each has a lognormal activity level
    activity_spread: float = 0.8  # sigma of the lognormal activity level
    anonymous_share: float = 0.15  # share of sessions by visitors who are not logged in (never buy)
    views_per_session: float = 5.0  # mean; at least one view per session
    session_focus: float = 0.75  # chance a view stays in the session's category
    buying_share: float = 0.12  # mean share of sessions that are shopping trips (varies by customer)
    view_to_cart: float = 0.1  # overall; mostly in shopping trips and in categories the customer likes
    cart_to_purchase: float = 0.4  # chance a logged-in session with a cart checks out
    revisit_prob: float = 0.06  # chance a view is of the last item the customer bought
    repurchase_prob: float = 0.6  # chance a consumable is bought again when due
    consumable_interval_days: float = 28.0  # typical days between buys of a consumable
    return_rate: float = 0.06  # chance a purchased line is (partly) returned
    return_delay_days: float = 8.0  # mean days from purchase to return
    churn_hazard: float = 0.004  # daily chance a customer starts to drift away
    churn_decline_days: int = 21  # activity fades over this many days, then the customer is gone
    weekend_uplift: float = 0.3  # extra sessions on Saturdays and Sundays
    trend_per_year: float = 0.1  # slow growth of sessions per customer
    popularity_skew: float = 1.0  # Zipf exponent of item popularity
    preference_concentration: float = 0.3  # Dirichlet alpha of category preferences (low: focused)
    duplicate_rate: float = 0.002  # events written twice (same event_id)
    missing_user_rate: float = 0.002  # purchases whose user_id is lost
    zero_price_rate: float = 0.002  # purchases with a unit price of 0
    unknown_item_rate: float = 0.001  # events naming an item id not in the catalogue

    def __post_init__(self) -> None:
        _check_int(self, "seed", 0)
        self.opening  # noqa: B018 - parses start_date, raising a ConfigError naming it
        _check_int(self, "n_users", 1)
        _check_int(self, "n_categories", 1)
        _check_int(self, "n_items", self.n_categories)
        _check_int(self, "churn_decline_days", 1)
        for name in _UNIT_RATES:
            value = _number(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}: {value!r} is outside [0, 1]")
        if not 0.0 <= self.anonymous_share < 1.0:
            raise ConfigError(f"anonymous_share: {self.anonymous_share!r} must be in [0, 1)")
        for name in _NON_NEGATIVE:
            value = _number(self, name)
            if value < 0:
                raise ConfigError(f"{name}: {value!r} must not be negative")
        for name in ("views_per_session", "consumable_interval_days", "return_delay_days"):
            value = _number(self, name)
            if value < 1:
                raise ConfigError(f"{name}: {value!r} must be at least 1")
        if _number(self, "preference_concentration") <= 0:
            raise ConfigError(f"preference_concentration: {self.preference_concentration!r} must be > 0")

    @property
    def opening(self) -> dt.date:
        """``start_date`` as a date."""
        try:
            return dt.date.fromisoformat(str(self.start_date))
        except ValueError:
            raise ConfigError(f"start_date: {self.start_date!r} is not a date in YYYY-MM-DD form") from None

    @property
    def dirty(self) -> bool:
        """Whether any dirt is injected."""
        return any(getattr(self, name) > 0 for name in DIRT_RATES)

    def without_dirt(self) -> SyntheticShopConfig:
        """The same shop with every dirt rate set to zero."""
        return replace(self, **dict.fromkeys(DIRT_RATES, 0.0))

    @classmethod
    def parameter_names(cls) -> tuple[str, ...]:
        """Names of all parameters (for forms and CLIs)."""
        return tuple(f.name for f in fields(cls))


def _number(cfg: SyntheticShopConfig, name: str) -> float:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name}: {value!r} is not a finite number")
    return float(value)


def _check_int(cfg: SyntheticShopConfig, name: str, minimum: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: {value!r} is not an integer")
    if value < minimum:
        raise ConfigError(f"{name}: {value!r} must be at least {minimum}")
