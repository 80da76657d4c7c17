"""The evaluation gate: a pure function from metrics to a :class:`Blessing` listing every check.

A challenger is blessed only when every check passes (TFX Evaluator style):

- ``threshold:<metric>``: absolute floors/ceilings from :class:`GateConfig`;
- ``no_regression:<metric>``: no worse than the current champion evaluated on the same held-out
  data in the same run, within a relative tolerance (passes as "no champion yet" on the first run);
- ``beats_baselines:<metric>``: at least as good as the best baseline scored in the same run;
  when the stage published a baseline (chosen on validation over the others, ``selected`` in
  ``metrics.json``), it is not blocked for the baselines it was chosen over;
- ``backfill``: a candidate for an older ``ds`` than the champion's training ``ds`` is refused
  unless ``force`` is set, and then the check says ``forced``.

Both comparisons know noise when the stage kept its per-example test results
(:mod:`~ecom_tasks.publish.evaluation`): a paired bootstrap over the same test examples gives the
interval of the candidate's gain, and the check blocks only when the whole interval is a loss
beyond the tolerance (or margin). The interval and the decision are in the check (``interval``,
``detail``). Without per-example results the point estimates are compared, and the detail says so.
Metric directions are the model's declarations, never guessed from a name.

No I/O here: :mod:`ecom_tasks.publish.stage` reads the metrics and writes the blessing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ecom_tasks import stages
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.specs import ModelGate, Threshold

__all__ = ["Blessing", "Check", "GateConfig", "ModelGate", "Threshold", "evaluate_gate", "split_metrics"]

PASS, FAIL, FORCED = "pass", "fail", "forced"
CHAMPION_PREFIX = "champion_"  # the champion's per-example columns (see publish.evaluation)


@dataclass(frozen=True)
class NoiseConfig:
    """How the gate measures noise: bootstrap resamples, interval level, seed, the examples' unit,
    and ``min_examples``: with fewer held-out examples the gate cannot decide at all (0: no floor)."""

    resamples: int = 1000
    level: float = 0.95
    seed: int = 0
    unit: str = "test examples"
    min_examples: int = 0


def _registered_gates() -> tuple[ModelGate, ...]:
    return tuple(stage.gate for stage in stages.registered())


@dataclass(frozen=True)
class GateConfig:
    """Gates of every model; ``require_champion_eval``: a champion that exists must have been scored."""

    models: tuple[ModelGate, ...] = field(default_factory=_registered_gates)
    require_champion_eval: bool = True

    def for_model(self, model: str) -> ModelGate:
        for gate in self.models:
            if gate.model == model:
                return gate
        raise ConfigError(f"model: no gate configured for {model!r}; known: {[g.model for g in self.models]}")


@dataclass(frozen=True)
class Check:
    """One line of the blessing: what was compared, against what, and the outcome."""

    name: str
    metric: str | None
    value: float | None
    comparator: str
    threshold: float | str | None
    outcome: str
    detail: str = ""
    interval: list[float] | None = None  # the gain's bootstrap interval (positive: candidate better)

    @property
    def passed(self) -> bool:
        return self.outcome in (PASS, FORCED)


@dataclass(frozen=True)
class Blessing:
    """The gate's verdict on one candidate, plus the lineage publication needs."""

    model: str
    ds: str
    blessed: bool
    checks: tuple[Check, ...]
    forced: bool = False
    champion_version: str | None = None
    champion_ds: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    lineage: dict[str, Any] = field(default_factory=dict)
    # The model the stage published when it chose among its own and its baselines (``selected``
    # in metrics.json) and why (``selection``); None when the stage does not choose.
    selected: str | None = None
    selection: str | None = None

    @property
    def failing(self) -> list[str]:
        """Names of the failed checks."""
        return [c.name for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failing"] = self.failing
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Blessing:
        checks = tuple(Check(**c) for c in raw.get("checks", ()))
        keep = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw and k != "checks"}
        return cls(checks=checks, **keep)


def _number(metrics: Mapping[str, Any] | None, metric: str) -> float | None:
    if not metrics or metric not in metrics:
        return None
    try:
        value = float(metrics[metric])
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _threshold_checks(gate: ModelGate, metrics: Mapping[str, Any]) -> list[Check]:
    checks = []
    for t in gate.thresholds:
        value = _number(metrics, t.metric)
        for comparator, bound in ((">=", t.minimum), ("<=", t.maximum)):
            if bound is None:
                continue
            if value is None:
                outcome, detail = FAIL, "metric missing (or not finite) in the candidate's metrics"
            else:
                ok = value >= bound if comparator == ">=" else value <= bound
                outcome, detail = (PASS, "") if ok else (FAIL, f"{value:.4f} is not {comparator} {bound:.4f}")
            checks.append(Check(f"threshold:{t.metric}", t.metric, value, comparator, bound, outcome, detail))
    return checks


def _compare(examples: Any, metric: str, other_prefix: str, lower: bool, noise: NoiseConfig) -> Any:
    """The paired bootstrap of the candidate against ``other_prefix`` on ``metric``, or None."""
    if examples is None:
        return None
    from ecom_tasks.publish import evaluation
    from ecom_tasks.publish.noise import paired_bootstrap

    mine, theirs = evaluation.sampler(examples, metric), evaluation.sampler(examples, metric, other_prefix)
    if mine is None or theirs is None or not len(examples):
        return None
    return paired_bootstrap(
        mine, theirs, len(examples), lower_is_better=lower, resamples=noise.resamples, level=noise.level,
        seed=noise.seed,
    )  # fmt: skip


def _judge(
    name: str, metric: str, value: float | None, bound: float, allowed: float, lower: bool,
    comparison: Any, against: str, unit: str,
) -> Check:  # fmt: skip
    """Pass unless the candidate is worse than ``bound``: beyond noise when a comparison is given.

    ``allowed`` is the loss the check tolerates (tolerance or margin, >= 0 is a gain required).
    """
    comparator = "<=" if lower else ">="
    if value is None:
        return Check(name, metric, None, comparator, bound, FAIL, "metric missing in the candidate's metrics")
    point_ok = value <= bound if lower else value >= bound
    if comparison is None or not math.isfinite(comparison.high):
        detail = f"{against}; point estimates (no per-example test results to measure noise)"
        return Check(name, metric, value, comparator, bound, PASS if point_ok else FAIL, detail)
    ok = comparison.high >= allowed  # blocked only when even the interval's best end is too low
    if ok and not point_ok:
        verdict = "worse on this test split, but within noise"
    else:
        verdict = "not worse beyond noise" if ok else "worse beyond noise"
    detail = f"{against}; {comparison.describe(unit)}: {verdict}"
    interval = [round(comparison.low, 6), round(comparison.high, 6)]
    return Check(name, metric, value, comparator, bound, PASS if ok else FAIL, detail, interval)


def _regression_check(
    metric: str, value: float | None, champion: Mapping[str, Any] | None, gate: ModelGate,
    champion_exists: bool, require_eval: bool, examples: Any = None, noise: NoiseConfig | None = None,
) -> Check:  # fmt: skip
    name, lower = f"no_regression:{metric}", gate.lower_is_better(metric)
    comparator = "<=" if lower else ">="
    if champion is None:
        if champion_exists and require_eval:
            detail = "a champion exists but was not evaluated on this run's held-out data"
            return Check(name, metric, value, comparator, None, FAIL, detail)
        detail = "no champion yet" if not champion_exists else "champion not evaluated (not required)"
        return Check(name, metric, value, comparator, None, PASS, detail)
    base = _number(champion, metric)
    if base is None:
        return Check(name, metric, value, comparator, None, FAIL, "metric missing in the champion's metrics")
    slack = abs(base) * gate.regression_tolerance
    bound = base + slack * (1 if lower else -1)
    noise = noise or NoiseConfig()
    comparison = _compare(examples, metric, CHAMPION_PREFIX, lower, noise)
    against = f"champion {base:.4f}, tolerance {gate.regression_tolerance:.0%}"
    return _judge(name, metric, value, bound, -slack, lower, comparison, against, noise.unit)


def _baseline_check(
    metric: str, value: float | None, baselines: Mapping[str, Mapping[str, Any]], gate: ModelGate,
    examples: Any = None, noise: NoiseConfig | None = None, selected: str | None = None,
) -> Check:  # fmt: skip
    name, lower = f"beats_baselines:{metric}", gate.lower_is_better(metric)
    comparator = "<=" if lower else ">="
    scored = {b: v for b, m in baselines.items() if (v := _number(m, metric)) is not None}
    if not scored:
        detail = f"no baseline reported {metric} (expected prefixes {list(gate.baselines)})"
        return Check(name, metric, value, comparator, None, FAIL, detail)
    best_name = (min if lower else max)(scored, key=scored.__getitem__)
    best = scored[best_name]
    margin = abs(best) * gate.baseline_margin
    bound = best + margin * (-1 if lower else 1)
    if selected in baselines and value is not None:
        others = sorted(set(scored) - {selected})
        detail = (
            f"the published model is the baseline {selected}, chosen on the validation split over "
            f"{', '.join(others) or 'the other candidates'}: a baseline is not blocked for the baselines "
            f"it was chosen over (best on test: {best_name} {best:.4f})"
        )
        return Check(name, metric, value, comparator, bound, PASS, detail)
    noise = noise or NoiseConfig()
    comparison = _compare(examples, metric, f"{best_name}_", lower, noise)
    against = f"best baseline: {best_name} {best:.4f}"
    return _judge(name, metric, value, bound, margin, lower, comparison, against, noise.unit)


def _backfill_check(ds: str, champion_ds: str | None, force: bool) -> Check:
    name = "backfill"
    if champion_ds is None:
        return Check(name, None, None, ">=", None, PASS, "no champion yet")
    if ds >= champion_ds:
        return Check(name, None, None, ">=", champion_ds, PASS, f"ds {ds} >= champion's ds {champion_ds}")
    detail = f"ds {ds} is older than the champion's training ds {champion_ds}"
    if force:
        return Check(name, None, None, ">=", champion_ds, FORCED, detail + "; forced by the run's force flag")
    return Check(name, None, None, ">=", champion_ds, FAIL, detail + "; set force to replace it")


def measured_prefixes(gate: ModelGate) -> tuple[str, ...]:
    """The baseline prefixes of ``gate`` and of the model's registered gate: a gate file may turn
    the ``beats_baselines`` check off (``baselines: []``), yet the baselines were measured and the
    card and the page still show them (and they are not the candidate's own metrics)."""
    try:
        registered = GateConfig().for_model(gate.model).baselines
    except ConfigError:
        registered = ()
    return tuple(dict.fromkeys([*gate.baselines, *registered]))


def split_metrics(
    metrics: Mapping[str, Any], baseline_prefixes: tuple[str, ...]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Split one ``metrics.json`` into the candidate's metrics and each baseline's (prefix removed).

    Returns ``(candidate, {baseline: {metric: value}})``; baseline names drop the trailing ``_``.
    """
    candidate: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {}
    for key, raw in metrics.items():
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            continue  # nested documents, strings, flags: not metrics
        prefix = next((p for p in baseline_prefixes if key.startswith(p)), None)
        if prefix is None:
            candidate[key] = float(raw)
        else:
            baselines.setdefault(prefix.rstrip("_"), {})[key[len(prefix) :]] = float(raw)
    return candidate, baselines


def evaluate_gate(
    model_name: str,
    candidate_metrics: Mapping[str, Any],
    champion_metrics: Mapping[str, Any] | None,
    baseline_metrics: Mapping[str, Mapping[str, Any]],
    config: GateConfig,
    *,
    ds: str,
    champion_ds: str | None,
    champion_version: str | None = None,
    force: bool = False,
    examples: Any = None,
    selected: str | None = None,
    noise: NoiseConfig | None = None,
) -> Blessing:
    """Run every check of ``model_name``'s gate and return the :class:`Blessing`.

    Args:
        candidate_metrics: the challenger's metrics on the held-out data.
        champion_metrics: the current champion's metrics on the same data, or None.
        baseline_metrics: ``{baseline: {metric: value}}`` scored in the same run.
        ds: the candidate's logical date; ``champion_ds``: the champion's (None: no champion).
        champion_version: the registry version of the champion, recorded for lineage.
        force: let an older ``ds`` replace a newer champion (recorded as ``forced``).
        examples: the per-example test results (a DataFrame, see
            :mod:`~ecom_tasks.publish.evaluation`); None: point estimates only.
        selected: the model the stage published when it chose among its candidate and baselines.
        noise: bootstrap settings.
    """
    gate = config.for_model(model_name)
    exists = champion_ds is not None or champion_version is not None
    checks = _threshold_checks(gate, candidate_metrics)
    for metric in gate.compare:
        value = _number(candidate_metrics, metric)
        checks.append(
            _regression_check(
                metric, value, champion_metrics, gate, exists, config.require_champion_eval, examples, noise
            )
        )
        if gate.baselines:
            checks.append(_baseline_check(metric, value, baseline_metrics, gate, examples, noise, selected))
    checks.append(_backfill_check(ds, champion_ds, force))
    return Blessing(
        model=model_name,
        ds=ds,
        blessed=all(c.passed for c in checks),
        checks=tuple(checks),
        forced=any(c.outcome == FORCED for c in checks),
        champion_version=champion_version,
        champion_ds=champion_ds,
        metrics={
            k: float(v) for k, v in candidate_metrics.items() if _number(candidate_metrics, k) is not None
        },
        baselines={b: dict(m) for b, m in baseline_metrics.items()},
        champion_metrics=None if champion_metrics is None else dict(champion_metrics),
        selected=selected,
    )
