"""The models section: each model's champion (version, data window, key metrics against the
baselines and the previous champion), the history of gate decisions, and the registry's versions.

Champions come from the outputs pointer and the MLflow registry; gate decisions from the
``blessing.json`` files the gate writes beside each candidate (``{root}/models/<model>/ds=D``).
The registry listing is the slow part (MLflow start-up and queries), so it is reused for
``registry_ttl_s`` seconds.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from ecom_tasks import catalog, stages
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish import blessing as blessings
from ecom_tasks.publish import outputs
from ecom_tasks.publish.config import ModelSpec, PublishConfig
from ecom_tasks.publish.gate import Blessing, measured_prefixes, split_metrics
from ecom_tasks.publish.specs import ModelGate
from ecom_tasks.ui import labels
from ecom_tasks.ui.cache import TableCache
from ecom_tasks.ui.config import DEFAULT_UI, UIConfig
from ecom_tasks.ui.files import data_file, days_with_file

log = logging.getLogger(__name__)


def key_metrics(spec: ModelSpec, publish: PublishConfig) -> list[str]:
    """The metrics the gate compares, then those with thresholds (the model's key metrics)."""
    try:
        gate = publish.gate.for_model(spec.name)
    except ConfigError:
        return []
    return list(dict.fromkeys([*gate.compare, *(t.metric for t in gate.thresholds)]))


def gate_history(root: str, spec: ModelSpec, limit: int) -> list[Blessing]:
    """The model's blessings, newest first (at most ``limit``)."""
    days = days_with_file(root, spec.stage, spec.table, catalog.BLESSING_FILE)[::-1][:limit]
    found = []
    for day in days:
        try:
            b = blessings.read_blessing(root, spec.name, day.isoformat(), spec.stage, spec.table)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("%s ds=%s: unreadable blessing (%s)", spec.name, day, exc)
            continue
        if b is not None:
            found.append(b)
    return found


def _best_baseline(b: Blessing, metric: str, lower: bool) -> tuple[str | None, float | None]:
    # A published baseline is the champion itself: the best of the others is the comparison.
    values = [(name, m[metric]) for name, m in b.baselines.items() if metric in m and name != b.selected]
    if not values:
        return None, None
    pick = min if lower else max
    return pick(values, key=lambda nv: nv[1])


def _decision(b: Blessing, metrics: list[str]) -> dict[str, Any]:
    failing = [c for c in b.checks if not c.passed]
    return {
        "ds": b.ds,
        "blessed": b.blessed,
        "forced": b.forced,
        "failing": [c.name for c in failing],
        "failing_detail": [c.detail or c.name for c in failing],
        "checks": len(b.checks),
        "metrics": {m: b.metrics.get(m) for m in metrics},
        "champion_version": b.champion_version,
    }


def _measured(b: Blessing, gate: ModelGate) -> Blessing:
    """The blessing with its baselines split out of its metrics by the registered prefixes: a
    blessing written while a gate file turned the baseline check off holds them as metrics."""
    if b.baselines:
        return b
    metrics, baselines = split_metrics(b.metrics, measured_prefixes(gate))
    return dataclasses.replace(b, metrics=metrics, baselines=baselines)


def selection(root: str, spec: ModelSpec, b: Blessing) -> dict[str, Any]:
    """Which model the stage published and why (``selected``/``selection``), from the blessing or,
    for one written before it recorded them, the candidate's ``metrics.json``."""
    from ecom_tasks import storage

    selected, reason = b.selected, b.selection
    if selected is None:
        uri = f"{storage.partition_uri(root, spec.stage, spec.table, b.ds)}/{catalog.METRICS_FILE}"
        try:
            raw = storage.read_json(uri)
        except (OSError, ValueError):
            raw = {}
        selected = raw.get("selected") if isinstance(raw.get("selected"), str) else None
        reason = raw.get("selection") if isinstance(raw.get("selection"), str) else None
    return {
        "selected": selected,
        "selected_label": labels.model_name(selected) if selected else None,
        "selection": reason,
        "baseline_published": labels.is_baseline(selected, list(b.baselines)),
    }


def _comparison(b: Blessing, metrics: list[str], gate: ModelGate) -> list[dict[str, Any]]:
    rows = []
    for metric in metrics:  # the gate's key metrics: each has a declared direction
        lower = gate.lower_is_better(metric)
        name, value = _best_baseline(b, metric, lower)
        rows.append({
            "metric": metric,
            "label": labels.metric_label(metric),
            "best_baseline_label": labels.model_name(name) if name else None,
            "champion": b.metrics.get(metric),
            "previous_champion": (b.champion_metrics or {}).get(metric),
            "best_baseline": value,
            "best_baseline_name": name,
            "lower_is_better": lower,
        })  # fmt: skip
    return rows


def registry_versions(
    root: str, cache: TableCache, config: UIConfig = DEFAULT_UI, publish: PublishConfig | None = None
) -> dict[str, Any]:
    """``{"versions": [...], "error": None}`` from the MLflow registry (``rollback.list_models``);
    ``error`` says why when the registry cannot be read (the rest of the page still shows)."""

    def load() -> dict[str, Any]:
        from ecom_tasks.publish import rollback, tracking

        uri = tracking.tracking_uri(root)
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
            # Nothing was ever registered; opening the store would create it, and a GET writes nothing.
            return {"versions": [], "error": None}

        try:
            return {"versions": rollback.list_models(root, config=publish), "error": None}
        except Exception as exc:  # the registry is optional for this page; say why it is missing
            log.warning("MLflow registry unavailable: %s", exc)
            return {"versions": [], "error": f"{type(exc).__name__}: {exc}"}

    return cache.ttl(("registry", root), config.registry_ttl_s, load)


def latest_skip(root: str, spec: ModelSpec, history: list[Blessing]) -> dict[str, Any] | None:
    """The model's newest ``skipped.json`` (not enough data: the reason), unless a newer gate ran."""
    from ecom_tasks import storage

    days = days_with_file(root, spec.stage, spec.table, catalog.SKIPPED_FILE)
    if not days or (history and history[0].ds > days[-1].isoformat()):
        return None
    try:
        return storage.read_json(
            f"{storage.partition_uri(root, spec.stage, spec.table, days[-1])}/{catalog.SKIPPED_FILE}"
        )
    except (OSError, ValueError) as exc:
        log.warning("%s ds=%s: unreadable %s (%s)", spec.name, days[-1], catalog.SKIPPED_FILE, exc)
        return None


def models_overview(
    root: str,
    cache: TableCache,
    config: UIConfig = DEFAULT_UI,
    publish: PublishConfig | None = None,
    registry: bool = True,
) -> list[dict[str, Any]]:
    """One entry per configured model.

    Each: ``{"model", "registered_name", "champion": {"version", "ds", "data_window", "card"} | None,
    "comparison": [{"metric", "champion", "previous_champion", "best_baseline", ...}],
    "decisions": [{"ds", "blessed", "failing", "metrics", ...}] (newest first),
    "skipped": {"ds", "step", "reason"} | None (the newest run stepped aside: not enough data),
    "versions": [registry rows], "registry_error"}``.
    """
    publish = publish or PublishConfig()
    pointer = outputs.read_pointer(root)
    listing = registry_versions(root, cache, config, publish) if registry else {"versions": [], "error": None}
    result = []
    titles = {stage.name: stage.title for stage in stages.registered()}  # each model's UI section
    for spec in publish.models:
        metrics = key_metrics(spec, publish)
        history = gate_history(root, spec, config.gate_history)
        entry = pointer["models"].get(spec.name)
        versions = [v for v in listing["versions"] if v.get("model") == spec.name]
        if entry is None:  # a registry champion without a pointer entry (e.g. a model with no tables)
            champs = [{"version": v["version"], "ds": v["ds"]} for v in versions if v.get("champion")]
            entry = champs[0] if champs else None
        champion = None
        if entry is not None:
            ds = entry.get("ds")
            b = next((h for h in history if h.ds == ds), None)
            if b is None and ds:
                b = blessings.read_blessing(root, spec.name, ds, spec.stage, spec.table)
            card = f"models/{spec.name}/{ds}/card" if ds and card_path(root, spec, ds) else None
            gate = publish.gate.for_model(spec.name)
            b = _measured(b, gate) if b else None
            chosen = selection(root, spec, b) if b else {}
            if b is not None and b.selected is None and chosen.get("selected"):
                b = dataclasses.replace(b, selected=chosen["selected"])
            window = (b.lineage.get("data_window") if b else None) or {}
            champion = {
                "version": entry.get("version"),
                "ds": ds,
                "data_window": window,
                "training_data": labels.data_window(window) if window else None,
                "card": card,
                "comparison": _comparison(b, metrics, gate) if b and metrics else [],
                **chosen,
            }
        result.append({
            "model": spec.name,
            "title": titles.get(spec.name, spec.name),
            "registered_name": spec.registered_name,
            "key_metrics": metrics,
            "champion": champion,
            "decisions": [_decision(b, metrics) for b in history],
            "skipped": latest_skip(root, spec, history),
            "versions": versions,
            "registry_error": listing["error"],
        })  # fmt: skip
    return result


def card_path(root: str, spec: ModelSpec, ds: str) -> Path | None:
    """The model card HTML of ``spec`` for ``ds``, or None."""
    return data_file(root, catalog.CARD_HTML, spec.stage, spec.table, f"ds={ds}")
