"""Configuration of the monitoring stage, with every default in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecom_tasks.errors import ConfigError


@dataclass(frozen=True)
class MonitorConfig:
    """How the nightly ``monitor`` task measures realized performance and drift.

    Attributes:
        top_k: the recommendation list length judged (hit rate and recall at ``top_k``).
        ndcg_k: the cut of the NDCG judged against the ranking gate (its ``ranking_ndcg_at_10``).
        popularity_days: popularity's top-K is the most bought items of this many days before ds.
        churn_horizon_days: churn scores are judged this many days after they were published (the
            label window of the churn head: no purchase within it).
        repurchase_days: repurchase scores are judged this many days after (a purchase within it).
        calibration_bins: equal-width bins of the expected calibration error (as the gate's ECE).
        drift_bins: quantile bins of the reference distribution for the PSI.
        psi_bound: a PSI above this is reported as drift and alerted (0.1 moderate, 0.25 major by
            the usual rule of thumb) when the KS test agrees (``ks_alpha``).
        ks_alpha: the two-sample KS test must reject equal distributions at this level too: on a
            few dozen customers a PSI over 10 bins exceeds 0.25 by chance alone.
        min_examples: fewer judged users, customers, item-days or answered messages than this: the
            figure is not computed.
        forecast_buckets: the last horizon day of each bucket of the realized WAPE by horizon
            (``(7, 14, 28)``: days 1-7, 8-14 and 15-28 ahead); forecasts published up to the last
            one's nights before ds are judged on ds's actual units.
        handover_bound: a share of the day's answered messages handed over to a person above this
            is alerted (the assistant's gate judges its intents, not this rate).
    """

    top_k: int = 20
    ndcg_k: int = 10
    popularity_days: int = 28
    churn_horizon_days: int = 90
    repurchase_days: int = 30
    calibration_bins: int = 10
    drift_bins: int = 10
    psi_bound: float = 0.25
    ks_alpha: float = 0.05
    min_examples: int = 5
    forecast_buckets: tuple[int, ...] = (7, 14, 28)
    handover_bound: float = 0.4

    def __post_init__(self) -> None:
        for name in ("top_k", "ndcg_k", "popularity_days", "churn_horizon_days", "repurchase_days",
                     "calibration_bins", "drift_bins", "min_examples"):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"MonitorConfig.{name}: must be a positive integer, got {value!r}")
        buckets = self.forecast_buckets
        if (
            not buckets
            or any(not isinstance(b, int) or b < 1 for b in buckets)
            or list(buckets) != sorted(set(buckets))
        ):
            raise ConfigError(
                f"MonitorConfig.forecast_buckets: must be increasing positive days, got {buckets!r}"
            )
        if not 0 < self.handover_bound <= 1:
            raise ConfigError(f"MonitorConfig.handover_bound: must be in (0, 1], got {self.handover_bound!r}")
        if not 0 < self.ks_alpha <= 1:
            raise ConfigError(f"MonitorConfig.ks_alpha: must be in (0, 1], got {self.ks_alpha!r}")
        if not self.psi_bound > 0:
            raise ConfigError(f"MonitorConfig.psi_bound: must be positive, got {self.psi_bound!r}")

    @classmethod
    def from_run(cls, run: Any = None) -> MonitorConfig:
        """The configuration of a run: the defaults (no run parameter changes monitoring)."""
        return cls()
