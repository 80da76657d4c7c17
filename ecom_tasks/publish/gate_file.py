"""Gate thresholds from a YAML (or JSON) file, so operators tune them without changing code.

``$ECOM_GATE_CONFIG`` names the file the nightly gates read; without it the defaults of
:mod:`the stage registry <ecom_tasks.stages>` apply. A file only lists what it changes::

    require_champion_eval: true          # a champion that exists must have been scored
    models:
      churn:
        thresholds:                      # replaces the model's absolute bounds
          churn_roc_auc: {min: 0.7}
          churn_ece: {max: 0.05}
        regression_tolerance: 0.01       # may be 1% worse than the champion
      retrieval:
        baselines: [popularity_]         # compare with popularity only
      repurchase:
        metrics: {repurchase_brier: lower}   # a direction for a metric the registry does not declare
        thresholds:
          repurchase_brier: {max: 0.2}

Per model the keys are ``thresholds``, ``compare``, ``baselines``, ``regression_tolerance``,
``baseline_margin`` and ``metrics`` (see :class:`~ecom_tasks.publish.specs.ModelGate`); a model not
listed keeps its defaults. ``metrics`` adds or changes metric directions (``higher`` or ``lower`` is
better) over the ones the model declares. An unknown model, key, bound, direction or metric (a
threshold or comparison on a metric with no declared direction) is refused with an error naming
the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.gate import GateConfig
from ecom_tasks.publish.specs import DIRECTIONS, ModelGate, Threshold

ENV = "ECOM_GATE_CONFIG"
_MODEL_KEYS = {"thresholds", "compare", "baselines", "regression_tolerance", "baseline_margin", "metrics"}
_BOUNDS = {"min": "minimum", "max": "maximum"}


def _thresholds(where: str, raw: Any) -> tuple[Threshold, ...]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping of metric -> {{min, max}}, got {raw!r}")
    out = []
    for metric, bounds in raw.items():
        if not isinstance(bounds, Mapping) or not bounds or set(bounds) - set(_BOUNDS):
            raise ConfigError(f"{where}.{metric}: expected {{min: x}} and/or {{max: y}}, got {bounds!r}")
        for key, value in bounds.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ConfigError(f"{where}.{metric}.{key}: must be a number, got {value!r}")
        out.append(Threshold(str(metric), **{_BOUNDS[k]: float(v) for k, v in bounds.items()}))
    return tuple(out)


def _model_gate(where: str, base: ModelGate, raw: Any) -> ModelGate:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(_MODEL_KEYS)}")
    changes: dict[str, Any] = {}
    if "thresholds" in raw:
        changes["thresholds"] = _thresholds(f"{where}.thresholds", raw["thresholds"])
    for key in ("compare", "baselines"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{key}: expected a list of names, got {value!r}")
            changes[key] = tuple(value)
    for key in ("regression_tolerance", "baseline_margin"):
        if key in raw:
            changes[key] = raw[key]
    if "metrics" in raw:
        value = raw["metrics"]
        if not isinstance(value, Mapping) or not all(v in DIRECTIONS for v in value.values()):
            raise ConfigError(
                f"{where}.metrics: expected a mapping of metric -> one of {list(DIRECTIONS)}, got {value!r}"
            )
        changes["metrics"] = {**base.metrics, **{str(k): v for k, v in value.items()}}
    try:
        return dataclasses.replace(base, **changes)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_gate_config(path: str | os.PathLike[str]) -> GateConfig:
    """The gate configuration in ``path``, over the defaults (see the module docstring)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"{ENV}: cannot read {file}: {exc.strerror or exc}") from None
    try:
        if file.suffix == ".json":
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except ValueError as exc:  # json.JSONDecodeError and yaml.YAMLError's parse errors
        raise ConfigError(f"{file}: not valid {file.suffix.lstrip('.') or 'YAML'}: {exc}") from None
    except Exception as exc:
        raise ConfigError(f"{file}: cannot be parsed: {exc}") from None
    raw = raw or {}
    if not isinstance(raw, Mapping) or set(raw) - {"models", "require_champion_eval"}:
        raise ConfigError(f"{file}: expected the keys 'models' and/or 'require_champion_eval' at the top")
    gates = {g.model: g for g in GateConfig().models}
    for model, settings in (raw.get("models") or {}).items():
        if model not in gates:
            raise ConfigError(f"{file}: models.{model}: unknown model; known: {sorted(gates)}")
        gates[model] = _model_gate(f"{file}: models.{model}", gates[model], settings)
    require = raw.get("require_champion_eval", True)
    if not isinstance(require, bool):
        raise ConfigError(f"{file}: require_champion_eval: must be true or false, got {require!r}")
    return GateConfig(models=tuple(gates.values()), require_champion_eval=require)


def gate_config_from_env() -> GateConfig:
    """``load_gate_config($ECOM_GATE_CONFIG)``, or the defaults when it is not set."""
    path = os.environ.get(ENV)
    return load_gate_config(path) if path else GateConfig()
