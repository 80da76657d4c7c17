"""The evaluation gate: a pure function from metrics to a :class:`Blessing` listing every check.

A challenger is blessed only when every check passes (TFX Evaluator style):

- ``threshold:<metric>``: absolute floors/ceilings from :class:`GateConfig`;
- ``no_regression:<metric>``: no worse than the current champion evaluated on the same held-out
  data in the same run, within a relative tolerance (passes as "no champion yet" on the first run);
- ``beats_baselines:<metric>``: at least as good as the best baseline scored in the same run;
- ``backfill``: a candidate for an older ``ds`` than the champion's training ``ds`` is refused
  unless ``force`` is set, and then the check says ``forced``.

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


def _regression_check(
    metric: str, value: float | None, champion: Mapping[str, Any] | None, gate: ModelGate,
    champion_exists: bool, require_eval: bool,
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
    bound = base + abs(base) * gate.regression_tolerance * (1 if lower else -1)
    if value is None:
        return Check(name, metric, None, comparator, bound, FAIL, "metric missing in the candidate's metrics")
    ok = value <= bound if lower else value >= bound
    detail = f"champion {base:.4f}, tolerance {gate.regression_tolerance:.0%}"
    return Check(name, metric, value, comparator, bound, PASS if ok else FAIL, detail)


def _baseline_check(
    metric: str, value: float | None, baselines: Mapping[str, Mapping[str, Any]], gate: ModelGate
) -> Check:
    name, lower = f"beats_baselines:{metric}", gate.lower_is_better(metric)
    comparator = "<=" if lower else ">="
    scored = {b: v for b, m in baselines.items() if (v := _number(m, metric)) is not None}
    if not scored:
        detail = f"no baseline reported {metric} (expected prefixes {list(gate.baselines)})"
        return Check(name, metric, value, comparator, None, FAIL, detail)
    best_name = (min if lower else max)(scored, key=scored.__getitem__)
    best = scored[best_name]
    bound = best + abs(best) * gate.baseline_margin * (-1 if lower else 1)
    if value is None:
        return Check(name, metric, None, comparator, bound, FAIL, "metric missing in the candidate's metrics")
    ok = value <= bound if lower else value >= bound
    return Check(name, metric, value, comparator, bound, PASS if ok else FAIL, f"best baseline: {best_name}")


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
) -> Blessing:
    """Run every check of ``model_name``'s gate and return the :class:`Blessing`.

    Args:
        candidate_metrics: the challenger's metrics on the held-out data.
        champion_metrics: the current champion's metrics on the same data, or None.
        baseline_metrics: ``{baseline: {metric: value}}`` scored in the same run.
        ds: the candidate's logical date; ``champion_ds``: the champion's (None: no champion).
        champion_version: the registry version of the champion, recorded for lineage.
        force: let an older ``ds`` replace a newer champion (recorded as ``forced``).
    """
    gate = config.for_model(model_name)
    exists = champion_ds is not None or champion_version is not None
    checks = _threshold_checks(gate, candidate_metrics)
    for metric in gate.compare:
        value = _number(candidate_metrics, metric)
        checks.append(
            _regression_check(metric, value, champion_metrics, gate, exists, config.require_champion_eval)
        )
        if gate.baselines:
            checks.append(_baseline_check(metric, value, baseline_metrics, gate))
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
    )
