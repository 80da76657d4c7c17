"""Paired bootstrap of a metric difference on the same test examples: is a gap beyond noise?

The gate compares the candidate with the champion and with the best baseline on one test split
(a few hundred customers on a real shop). A difference of a point or two in ROC AUC there is
well inside what another draw of customers would give, so a check that blocks on the point
estimate alone blocks good models by chance. The comparison here resamples the examples with
replacement (the same draw for both models: paired), recomputes both metrics on each resample and
reports the interval of the difference; the gate blocks only when the whole interval says worse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecom_tasks.publish.evaluation import Metric

RESAMPLES = 1000
LEVEL = 0.95


@dataclass(frozen=True)
class Comparison:
    """The candidate's gain over another model (positive: the candidate is better).

    Attributes:
        gain: the gain on all test examples (the metric's direction applied).
        low / high: the ``level`` interval of the gain over the bootstrap resamples.
        examples: how many test examples were resampled; ``resamples``: how many draws.
    """

    gain: float
    low: float
    high: float
    examples: int
    resamples: int
    level: float = LEVEL

    def describe(self, unit: str = "examples") -> str:
        pct = f"{self.level:.0%}"
        return (
            f"gain {self.gain:+.4f} ({pct} interval {self.low:+.4f} to {self.high:+.4f}, paired bootstrap of "
            f"{self.examples} {unit}, {self.resamples} resamples)"
        )


def paired_bootstrap(
    candidate: Metric,
    other: Metric,
    n_examples: int,
    *,
    lower_is_better: bool,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Comparison:
    """The candidate's gain over ``other`` on the same ``n_examples``, with its bootstrap interval.

    Args:
        candidate / other: the metric of each model on a vector of example indices.
        lower_is_better: the metric's direction (the gain is ``other - candidate`` then).
        seed: the resampling is seeded, so the same data always gives the same decision.
    """
    sign = -1.0 if lower_is_better else 1.0
    everything = np.arange(n_examples)
    gain = sign * (candidate(everything) - other(everything))
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        idx = rng.integers(0, n_examples, n_examples)
        draws.append(sign * (candidate(idx) - other(idx)))
    values = np.asarray(draws, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return Comparison(float(gain), float("nan"), float("nan"), n_examples, resamples, level)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return Comparison(float(gain), float(low), float(high), n_examples, resamples, level)
