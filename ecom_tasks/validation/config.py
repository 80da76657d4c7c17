"""Configuration of the validation gate: every threshold in one frozen dataclass, defaults here only.

The defaults are set so that the real UCI Online Retail II file passes with warnings only (its
quietest trading day has 16% of the trailing median's events, its most anonymous day 82% anonymous
events) while a broken feed still fails: a day with under a tenth of the usual events, nine in ten
events without a customer, or more than 5% of a table's rows quarantined stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecom_tasks.errors import ConfigError

CRITICAL = "critical"  # a failure stops the run: nothing downstream may read the day
QUARANTINE = "quarantine"  # failing rows are moved to quarantine/; critical above a share
WARNING = "warning"  # reported in the summary and Data Docs; the run goes on
SEVERITIES: tuple[str, ...] = (CRITICAL, QUARANTINE, WARNING)

Band = tuple[float, float]


def _check_band(name: str, band: Band) -> None:
    lo, hi = band
    if not 0.0 <= lo < 1.0 < hi:
        raise ConfigError(f"{name}: {band!r} must be a (low, high) pair with 0 <= low < 1 < high")


@dataclass(frozen=True)
class HistoryThresholds:
    """How far the day's key figures may move from the median of the trailing validated days.

    Ratios (row count, mean purchase price, purchases per session) are ``day / median`` and must
    stay inside their band; shares (anonymous events, returns) are ``day - median`` in absolute
    terms. A figure outside its critical band fails the run; outside its warning band it warns.
    ``None`` switches a critical check off (the warning still applies). ``min_purchases``: the
    purchase-based figures only warn when the trailing median of daily purchases is below it.
    """

    rows_warning: Band = (0.5, 2.0)
    rows_critical: Band = (0.1, 10.0)
    mean_purchase_price_warning: Band = (0.67, 1.5)
    mean_purchase_price_critical: Band | None = (0.2, 5.0)
    purchases_per_session_warning: Band = (0.5, 2.0)
    purchases_per_session_critical: Band | None = (0.1, 10.0)
    anonymous_share_warning: float = 0.3
    anonymous_share_critical: float | None = None  # the absolute max_anonymous_share covers it
    return_share_warning: float = 0.1
    return_share_critical: float | None = 0.5
    min_purchases: int = 20

    def __post_init__(self) -> None:
        for name in ("rows", "mean_purchase_price", "purchases_per_session"):
            _check_band(f"history.{name}_warning", getattr(self, f"{name}_warning"))
            critical = getattr(self, f"{name}_critical")
            if critical is not None:
                _check_band(f"history.{name}_critical", critical)
        for name in ("anonymous_share", "return_share"):
            for level in ("warning", "critical"):
                value = getattr(self, f"{name}_{level}")
                if value is not None and not 0.0 < value <= 1.0:
                    raise ConfigError(f"history.{name}_{level}: {value!r} must be in (0, 1]")


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of the validation gate.

    Attributes:
        ts_tolerance_minutes: events up to this long before the day's start are accepted (clocks
            of devices and servers disagree a little); an event at or after the day's end is
            never accepted, since it lies in the future of the data interval.
        max_quarantine_share: above this share of a table's rows quarantined, the day fails.
        warn_anonymous_share: above this share of events without a user_id, a warning.
        max_anonymous_share: above this share of events without a user_id, the day fails.
        allow_empty_events: a day without events is an outage (critical) unless this is set, for
            sources whose shop closes on some days (Online Retail II does not trade on Saturdays).
        history_window: how many trailing validated days form the baseline of the history checks.
        history_lookback_days: how many calendar days before ``ds`` are searched for them.
        min_history: history checks apply once at least this many validated days are found.
        history: the history thresholds.
        data_docs: update the Data Docs site (HTML under ``{root}/data_docs``) on every run.
        data_docs_index_limit: the Data Docs index lists at most this many validation results
            (the newest); older pages stay on disk. Rebuilding the index reads every listed result.
        warn_duplicate_share: above this share of a day's events repeating another event of the
            day exactly (every column but event_id), a warning.
        max_duplicate_share: above it, the day fails (Online Retail II's busiest repeats: 4.7%).
        backlog_max_rows: a backlog of days is validated in batches of about this many rows
            (events, items and users together; one Great Expectations run each), which bounds
            the memory a batch takes (~0.5 GiB per million rows).
    """

    ts_tolerance_minutes: int = 5
    max_quarantine_share: float = 0.05
    warn_anonymous_share: float = 0.5
    max_anonymous_share: float = 0.9
    allow_empty_events: bool = False
    history_window: int = 14
    history_lookback_days: int = 60
    min_history: int = 5
    history: HistoryThresholds = field(default_factory=HistoryThresholds)
    data_docs: bool = True
    data_docs_index_limit: int = 28
    backlog_max_rows: int = 4_000_000
    warn_duplicate_share: float = 0.1
    max_duplicate_share: float = 0.2

    def __post_init__(self) -> None:
        if self.ts_tolerance_minutes < 0:
            raise ConfigError(f"ts_tolerance_minutes: {self.ts_tolerance_minutes!r} must not be negative")
        for name in (
            "max_quarantine_share",
            "warn_anonymous_share",
            "max_anonymous_share",
            "warn_duplicate_share",
            "max_duplicate_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name}: {value!r} must be in [0, 1]")
        if self.warn_anonymous_share > self.max_anonymous_share:
            raise ConfigError(
                f"warn_anonymous_share: {self.warn_anonymous_share!r} is above "
                f"max_anonymous_share {self.max_anonymous_share!r}"
            )
        for name in (
            "history_window",
            "history_lookback_days",
            "min_history",
            "data_docs_index_limit",
            "backlog_max_rows",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        if self.min_history > self.history_window:
            raise ConfigError(
                f"min_history: {self.min_history} is larger than history_window {self.history_window}"
            )
        if self.history_window > self.history_lookback_days:
            raise ConfigError(
                f"history_window: {self.history_window} is larger than history_lookback_days "
                f"{self.history_lookback_days}"
            )
