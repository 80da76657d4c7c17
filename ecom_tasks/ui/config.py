"""Configuration of the UI queries, with every default in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecom_tasks.errors import ConfigError


@dataclass(frozen=True)
class UIConfig:
    """What the UI shows and how it validates input.

    Attributes:
        max_id_length: longest customer id accepted (longer queries are refused, not truncated).
        id_pattern: characters a customer id may contain; anything else (markup, quotes, spaces)
            is refused with a message that does not repeat the input.
        top_k: recommendations shown per customer.
        recent_purchases: purchase (and return) lines shown per customer.
        purchase_days: trailing days of validated events searched for recent purchases.
        gate_history: blessings shown per model (newest first).
        chart_days: days of the daily funnel shown in charts.
        cohort_months: cohorts shown in the retention heatmap.
        registry_ttl_s: how long the MLflow registry listing is reused (it is the slow part).
        reasons_shown: churn reasons shown per customer.
        refresh_s: how often the list of validated partitions behind recent purchases is re-read.
    """

    max_id_length: int = 64
    id_pattern: str = r"[A-Za-z0-9][A-Za-z0-9._:@-]*"
    top_k: int = 10
    recent_purchases: int = 10
    purchase_days: int = 365
    gate_history: int = 30
    chart_days: int = 90
    cohort_months: int = 12
    registry_ttl_s: float = 60.0
    reasons_shown: int = 5
    refresh_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_id_length", "top_k", "recent_purchases", "purchase_days", "gate_history",
                     "chart_days", "cohort_months", "reasons_shown"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ConfigError(f"UIConfig.{name}: must be a positive integer, got {value!r}")
        for name in ("registry_ttl_s", "refresh_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"UIConfig.{name}: must be >= 0, got {getattr(self, name)!r}")
        try:
            re.compile(self.id_pattern)
        except re.error as exc:
            raise ConfigError(f"UIConfig.id_pattern: not a regular expression ({exc})") from None


DEFAULT_UI = UIConfig()
