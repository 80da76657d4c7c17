"""Task functions of the gate and publication stage (one per DAG task).

- :func:`gate_model` reads the candidate's ``metrics.json`` and ``champion_metrics.json``, asks the
  registry for the champion's ``ds``, runs the gate, logs an MLflow run (params, metrics, data
  window, input hashes, code version, blessing, model card) and writes ``blessing.json``.
- :func:`publish_model` refuses without a positive blessing, registers the candidate (idempotent),
  serve-checks it from the registry (keeping the query it answered as ``serving_request.json``, a
  body for ``mlflow models serve``) and only then moves ``champion`` and the outputs pointer.

Each returns a small dict for XCom and the task log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from ecom_tasks import remote, storage
from ecom_tasks.errors import ConfigError, NotEnoughDataError
from ecom_tasks.publish import blessing as blessings
from ecom_tasks.publish import card, evaluation, outputs, registry, serving, tracking
from ecom_tasks.publish.config import (
    CHAMPION_METRICS_FILE,
    HISTORY_FILE,
    METRICS_FILE,
    ModelSpec,
    PublishConfig,
)
from ecom_tasks.publish.gate import Blessing, NoiseConfig, evaluate_gate, measured_prefixes, split_metrics

log = logging.getLogger(__name__)

CHAMPION_PREFIX = "champion_"


def _folder(root: str, spec: ModelSpec, ds: str) -> str:
    return storage.partition_uri(root, spec.stage, spec.table, ds)


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        raw = storage.read_json(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no {what}; the training stage writes it before the gate") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: {what} must be a JSON object, got {type(raw).__name__}")
    return raw


def read_metrics(path: str, what: str = "metrics") -> tuple[dict[str, Any], dict[str, Any]]:
    """Numeric entries of a metrics file (top level and under ``metrics``) and its other entries."""
    raw = _read_json(path, what)
    nested = raw.get("metrics") if isinstance(raw.get("metrics"), dict) else {}
    merged = {**raw, **nested}
    numeric = {k: v for k, v in merged.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return numeric, {k: v for k, v in raw.items() if k not in numeric and k != "metrics"}


def _training_record(folder: str) -> dict[str, Any]:
    """What the training stage's ``history.json`` says about the window and config, if present."""
    try:
        raw = storage.read_json(f"{folder}/{HISTORY_FILE}")
    except FileNotFoundError:
        return {}
    out: dict[str, Any] = {}
    if isinstance(raw.get("config"), dict):
        out["config"] = raw["config"]
    if raw.get("cutoff"):
        out["data_window"] = {"holdout_start": raw["cutoff"]}
    return out


def noise_config(model_name: str) -> NoiseConfig:
    """How the gate of ``model_name`` measures noise: its stage's test unit and minimum test size."""
    from ecom_tasks import stages

    try:
        stage = stages.get(model_name)
    except ConfigError:  # a model configured for publication only (tests, tools)
        return NoiseConfig()
    return NoiseConfig(unit=stage.test_unit, min_examples=stage.min_test_examples)


def check_examples(model_name: str, ds: str, examples: Any, noise: NoiseConfig) -> None:
    """Raise :class:`NotEnoughDataError` when the candidate has fewer held-out examples than the
    gate needs to decide anything (``noise.min_examples``): its figures would be noise either way.

    The examples are the candidate's per-example results (``evaluation.parquet``). A candidate that
    recorded none (a stage without per-example results) says nothing of its test size: it is gated
    on its point metrics, as without a floor.
    """
    if examples is None:
        if noise.min_examples:
            log.info("%s ds=%s: no per-example results, the test-size floor cannot apply", model_name, ds)
        return
    have = len(examples)
    if have < noise.min_examples:
        raise NotEnoughDataError(
            f"{model_name} trained on ds={ds} but not gated: {have} {noise.unit} in its test window, "
            f"the gate needs at least {noise.min_examples} to decide; not published"
        )


def champion_info(root: str, model_name: str, config: PublishConfig | None = None) -> dict[str, str] | None:
    """The current champion of ``model_name``: ``{"version", "ds", "folder"}``, or None.

    ``folder`` is the champion's training output (``{root}/models/<model>/ds=<ds>``), e.g. the
    warm start of the next night's retrieval pretraining.
    """
    spec = (config or PublishConfig()).model(model_name)
    current = registry.champion(tracking.configure(root), spec.registered_name)
    if current is None or not current.tags.get(registry.TAG_DS):
        return None
    ds = current.tags[registry.TAG_DS]
    return {"version": str(current.version), "ds": ds, "folder": _folder(root, spec, ds)}


def locate_artifact(spec: ModelSpec, folder: str) -> Path:
    """The first of ``spec.artifacts`` present in ``folder``; FileNotFoundError naming them otherwise."""
    for name in spec.artifacts:
        path = Path(folder) / name
        if path.exists():
            return path
    raise FileNotFoundError(
        f"{folder}: no model artifact for {spec.name} (looked for {list(spec.artifacts)})"
    )


def _log_gate_run(
    client: Any, run_id: str, verdict: Blessing, folder: str, raw: dict, other: dict, force: bool, files: list
) -> None:
    """Log the gate's evaluation: metrics under metrics.json's names, the champion's prefixed."""
    lin = verdict.lineage
    params = {"model": verdict.model, "ds": verdict.ds, "force": force, "data_window": lin["data_window"]}
    params |= {k: v for k, v in other.items() if isinstance(v, dict) and k in ("config", "params")}
    metrics = dict(raw)
    metrics |= {CHAMPION_PREFIX + k: v for k, v in (verdict.champion_metrics or {}).items()}
    tags = {"ecom.blessed": verdict.blessed, "ecom.failing": ",".join(verdict.failing)}
    tags |= {"ecom.forced": verdict.forced, "code_version": lin["code_version"]}
    tags |= {"fingerprint": lin["fingerprint"], "artifact_hash": lin["artifact_hash"]}
    tags |= {f"input.{k}": v for k, v in lin["inputs"].items()}
    artifacts = [f"{folder}/{n}" for n in (METRICS_FILE, CHAMPION_METRICS_FILE, HISTORY_FILE)]
    artifacts += [*files, *(f"{folder}/{name}" for name in remote.glob_names(folder, "*.png"))]
    tracking.log_run(client, run_id, params=params, metrics=metrics, tags=tags, artifacts=artifacts)


def gate_model(
    root: str,
    ds: str,
    model_name: str,
    config: PublishConfig | None = None,
    *,
    force: bool = False,
    fail_on_block: bool = False,
) -> dict:
    """Gate ``model_name``'s candidate for ``ds``; write ``blessing.json`` and the model card.

    Args:
        force: let a candidate for an older ``ds`` than the champion's replace it (recorded).
        fail_on_block: raise :class:`~.blessing.GateBlockedError` naming the failing checks
            after writing the blessing and logging the run, so the task itself shows red.

    Returns ``{"model", "ds", "blessed", "failing", "forced", "blessing_uri", "card", "run_id",
    "champion_version", "checks"}``. A failed gate is logged at ERROR naming the failing checks;
    unless ``fail_on_block``, it does not raise (publication refuses to run on it).
    """
    cfg = config or PublishConfig()
    spec, gate = cfg.model(model_name), cfg.gate.for_model(model_name)
    day = storage.as_date(ds).isoformat()
    folder = _folder(root, spec, day)
    noise = noise_config(model_name)
    examples = evaluation.read(folder)  # per-example test results: comparisons that know noise
    check_examples(model_name, day, examples, noise)
    raw, other = read_metrics(f"{folder}/{METRICS_FILE}")
    other = {**_training_record(folder), **other}
    candidate, measured = split_metrics(raw, measured_prefixes(gate))
    checked = tuple(p.rstrip("_") for p in gate.baselines)
    baselines = {name: m for name, m in measured.items() if name in checked}
    champion_metrics = None
    if remote.uri_exists(f"{folder}/{CHAMPION_METRICS_FILE}"):
        champ_raw, _ = read_metrics(f"{folder}/{CHAMPION_METRICS_FILE}", "champion metrics")
        champ_raw = {k.removeprefix(CHAMPION_PREFIX): v for k, v in champ_raw.items()}
        champion_metrics = split_metrics(champ_raw, measured_prefixes(gate))[0]
    with remote.local_copy(folder) as local:  # the folder may be on an object store
        artifact = locate_artifact(spec, local)
        digest = registry.artifact_hash(artifact)

    client = tracking.configure(root)
    current = registry.champion(client, spec.registered_name)
    champion_ds = current.tags.get(registry.TAG_DS) if current is not None else None
    selected = other.get("selected") if isinstance(other.get("selected"), str) else None
    verdict = evaluate_gate(
        model_name, candidate, champion_metrics, baselines, cfg.gate, ds=day, champion_ds=champion_ds,
        champion_version=None if current is None else str(current.version), force=force,
        examples=examples, selected=selected, noise=noise,
    )  # fmt: skip

    inputs = tracking.input_hashes(root, day, spec.input_stages)
    code = tracking.code_version()
    declared = other.get("data_window") if isinstance(other.get("data_window"), dict) else None
    run_id = tracking.start_run(client, cfg.experiment, root, model=model_name, ds=day, stage="gate")
    lineage = {
        "run_id": run_id, "code_version": code, "data_window": tracking.data_window(day, declared),
        "inputs": inputs, "artifact": artifact.name, "artifact_hash": digest,
        "fingerprint": registry.fingerprint(model_name, day, inputs, code, digest),
    }  # fmt: skip
    selection = other.get("selection") if isinstance(other.get("selection"), str) else None
    # The record shows every measured baseline, also those the gate was told not to check.
    verdict = dataclasses.replace(verdict, lineage=lineage, baselines=measured, selection=selection)
    uri = blessings.write_blessing(root, verdict, spec.stage, spec.table)
    md, page = card.write_card(root, verdict, folder)

    _log_gate_run(client, run_id, verdict, folder, raw, other, force, [uri, md, page])
    client.set_terminated(run_id, "FINISHED")
    log.info("gate checks of %s ds=%s:\n%s", model_name, day, blessings.describe_checks(verdict))
    if verdict.blessed:
        log.info("GATE PASSED: %s ds=%s (%d checks%s)", model_name, day, len(verdict.checks),
                 ", forced" if verdict.forced else "")  # fmt: skip
    else:
        why = blessings.describe_failures(verdict)
        log.error("GATE FAILED: %s ds=%s: %s", model_name, day, why)
        if fail_on_block:
            raise blessings.GateBlockedError(
                f"{model_name} ds={day} blocked by the gate: {why} (see {uri})", verdict
            )
    return {
        "model": model_name, "ds": day, "blessed": verdict.blessed, "failing": verdict.failing,
        "forced": verdict.forced, "blessing_uri": uri, "card": md, "run_id": run_id,
        "champion_version": verdict.champion_version, "checks": len(verdict.checks),
    }  # fmt: skip


def _register(
    client: Any, root: str, spec: ModelSpec, verdict: Blessing, artifact: Path, cfg: PublishConfig
) -> tuple:
    lin = verdict.lineage
    existing = registry.find_version(client, spec.registered_name, lin["fingerprint"])
    if existing is not None:
        log.info("%s ds=%s already registered as version %s", spec.name, verdict.ds, existing.version)
        return existing, False
    flavor = registry.resolve_flavor(spec, artifact)
    run_id = lin.get("run_id") or tracking.start_run(
        client, cfg.experiment, root, model=spec.name, ds=verdict.ds, stage="publish"
    )
    model_uri, model_id = registry.log_candidate(run_id, artifact, spec, flavor)
    tags = {
        registry.TAG_DS: verdict.ds,
        registry.TAG_FINGERPRINT: lin["fingerprint"],
        registry.TAG_ARTIFACT_HASH: lin["artifact_hash"],
        "code_version": lin["code_version"],
        "data_window": json.dumps(lin["data_window"]),
        "input_hashes": json.dumps(lin["inputs"], sort_keys=True),
        "flavor": flavor,
        "model": spec.name,
    }
    return registry.register_version(
        client, root, spec.registered_name, model_uri, run_id=run_id, model_id=model_id, tags=tags,
        timeout_s=cfg.lock_timeout_s,
    )  # fmt: skip


def publish_model(
    root: str, ds: str, model_name: str, config: PublishConfig | None = None, force: bool = False
) -> dict:
    """Publish ``model_name``'s blessed candidate for ``ds``.

    Steps: require a positive blessing (with ``force``, one failing only ``backfill``) whose
    artifact is unchanged; register it once (by fingerprint); load it back from the registry and
    answer a smoke query; then, under the alias lock, move ``champion`` and the outputs pointer
    unless the champion is newer (and not ``force``). Raises :class:`~.blessing.NotBlessedError`
    or :class:`~.registry.ServingCheckError` without touching the alias.

    Returns ``{"model", "ds", "registered_name", "version", "created", "promoted", "reason",
    "previous_version", "champion_version", "serving_check", "serving_check_seconds",
    "pointer_uri", "card", "run_id"}``.
    """
    cfg = config or PublishConfig()
    spec = cfg.model(model_name)
    day = storage.as_date(ds).isoformat()
    folder = _folder(root, spec, day)
    verdict = blessings.require_blessing(
        root, model_name, day, force=force, stage=spec.stage, table=spec.table
    )
    with remote.local_copy(folder) as local:  # hashing and MLflow read local files
        artifact = locate_artifact(spec, local)
        if verdict.lineage.get("artifact_hash") not in (None, registry.artifact_hash(artifact)):
            raise blessings.NotBlessedError(
                f"{folder}/{artifact.name}: the artifact changed after the gate blessed it; rerun the gate",
                verdict,
            )
        client = tracking.configure(root)
        mv, created = _register(client, root, spec, verdict, artifact, cfg)
    check = registry.serving_check(
        client, spec.registered_name, mv.version, registry.read_smoke_input(folder)
    )
    # A body MLflow's model server takes, for consumers: the query the version just answered.
    serving.write_request(folder, check["query"])

    def move() -> None:
        outputs.move_pointer(root, spec, str(mv.version), day, require_outputs=cfg.require_outputs)

    moved = registry.promote(
        client, root, spec.registered_name, mv, force=force, on_move=move, timeout_s=cfg.lock_timeout_s
    )
    current = registry.champion(client, spec.registered_name)
    result = {
        "model": model_name,
        "ds": day,
        "registered_name": spec.registered_name,
        "version": str(mv.version),
        "created": created,
        "promoted": moved["promoted"],
        "reason": moved["reason"],
        "previous_version": moved["previous_version"],
        "champion_version": str(current.version) if current else None,
        "serving_check": check["answer"],
        "serving_check_seconds": check["seconds"],
        "pointer_uri": outputs.pointer_uri(root),
        "run_id": mv.run_id,
    }
    publication = {
        k: result[k] for k in ("registered_name", "version", "promoted", "reason", "previous_version")
    }
    md, page = card.write_card(root, verdict, folder, publication)
    if mv.run_id:
        tracking.log_run(client, mv.run_id, tags={"ecom.published_version": mv.version}, artifacts=[md, page])
    log.info("PUBLISHED %s ds=%s as %s version %s: %s", model_name, day, spec.registered_name, mv.version,
             moved["reason"] if moved["promoted"] else f"not promoted ({moved['reason']})")  # fmt: skip
    return result | {"card": md}
