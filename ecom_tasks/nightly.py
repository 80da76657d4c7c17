"""The task functions of ``ecom_nightly``: each turns a run's parameters into one stage call.

The DAG file only wires these; everything a run decides lives here, where it is unit-tested:

- which day a run processes (its logical day, or the ``end_date`` a manual run asks for),
- refusing a bad manual trigger before any task writes anything (:func:`check_run`),
- the training configuration a run's ``epochs`` / ``embedding_size`` select,
- warm start and champion scoring from the registry's current champion,
- reuse of a training output that is already right: a rerun (or a backfill with
  ``--reprocess-behavior completed``) of a day whose inputs, configuration and code are unchanged
  returns the recorded result instead of training again, so it neither changes a model nor
  registers a duplicate version.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecom_tasks import storage
from ecom_tasks.errors import ConfigError
from ecom_tasks.ingest import IngestConfig
from ecom_tasks.params import RunParams
from ecom_tasks.publish.config import DEFAULT_MODELS

log = logging.getLogger(__name__)

MODELS_STAGE = "models"
RUN_RECORD = "_run.json"  # the training task's fingerprint and result, written last
RETRIEVAL = "retrieval"
MODELS = tuple(spec.name for spec in DEFAULT_MODELS)
HEADS = tuple(m for m in MODELS if m != RETRIEVAL)  # fine-tuned from the retrieval towers, in parallel


def run_day(params: Mapping[str, Any] | None, scheduled: dt.date | str) -> str:
    """The day (``YYYY-MM-DD``) a run processes: ``end_date`` when set, else ``scheduled``."""
    return RunParams.from_mapping(params).run_date(scheduled).isoformat()


def retrieval_config(run: RunParams):  # -> RetrievalConfig (imported lazily: it pulls in pandas)
    """The nightly retrieval configuration with the run's ``epochs``, ``embedding_size`` and ``seed``."""
    from ecom_tasks.retrieval.config import RetrievalConfig

    base = RetrievalConfig()
    changes: dict[str, Any] = {"seed": run.seed}
    if run.epochs:
        changes["max_epochs"] = run.epochs
    if run.embedding_size:
        if run.embedding_size % base.num_heads:
            raise ConfigError(
                f"embedding_size: {run.embedding_size} is not a multiple of the retrieval model's "
                f"{base.num_heads} attention heads"
            )
        changes["embedding_dim"] = run.embedding_size
    return dataclasses.replace(base, **changes)


def head_config(model: str, run: RunParams):  # -> HeadConfig | RankingConfig (imported lazily)
    """The fine-tuning configuration of ``model`` with the run's ``epochs`` (a cap on each phase) and seed."""
    if model == "ranking":
        from ecom_tasks.ranking.config import RankingConfig

        base = RankingConfig()
        schedule = base.schedule
        if run.epochs:
            schedule = dataclasses.replace(
                schedule,
                frozen_epochs=min(schedule.frozen_epochs, run.epochs),
                unfrozen_epochs=min(schedule.unfrozen_epochs, run.epochs),
            )
        return dataclasses.replace(base, schedule=schedule, seed=run.seed)
    if model not in HEADS:
        raise ConfigError(f"model: {model!r} is not one of the fine-tuned heads {list(HEADS)}")
    from ecom_tasks.heads.config import HeadConfig

    base = HeadConfig()
    changes: dict[str, Any] = {"seed": run.seed}
    if run.epochs:
        changes["frozen_epochs"] = min(base.frozen_epochs, run.epochs)
        changes["tuned_epochs"] = min(base.tuned_epochs, run.epochs)
    return dataclasses.replace(base, **changes)


def check_run(params: Mapping[str, Any] | None, scheduled: dt.date | str) -> dict[str, Any]:
    """Refuse a run whose parameters are wrong, naming the parameter, before anything is written.

    The trigger form's JSON schema already refuses wrong types; this checks what a schema cannot:
    paths exist, the window is ordered and complete, the training configuration is consistent.
    """
    run = RunParams.from_mapping(params)
    day = run.run_date(scheduled)
    IngestConfig.from_params(params)
    if not run.skip_training:
        retrieval_config(run)
        for model in HEADS:
            head_config(model, run)
        publish_config()  # a broken $ECOM_GATE_CONFIG is refused before anything is written
    plan = {
        "ds": day.isoformat(),
        "source": run.source,
        "source_path": run.source_path,
        "start_date": run.start_date,
        "train": not run.skip_training,
        "force_publish": run.force_publish,
    }
    if run.force_publish:
        log.warning("force_publish is set: a model for an older day may replace a newer champion")
    log.info("run plan: %s", plan)
    return plan


def should_train(params: Mapping[str, Any] | None) -> bool:
    """False when the run only rebuilds data, features and reports (``skip_training``)."""
    train = not RunParams.from_mapping(params).skip_training
    if not train:
        log.info("skip_training is set: training, gates and publication are skipped")
    return train


def model_folder(root: str, model: str, ds: str) -> str:
    return storage.partition_uri(root, MODELS_STAGE, model, ds)


def _fingerprint(root: str, ds: str, config: Any, upstream: tuple[str, ...]) -> str:
    from ecom_tasks.publish import tracking

    record = {
        "inputs": tracking.input_hashes(root, ds, ("features",)),
        "upstream": {m: _recorded(model_folder(root, m, ds)).get("fingerprint") for m in upstream},
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config),
        "code": tracking.code_version(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _recorded(folder: str) -> dict[str, Any]:
    path = Path(folder.removeprefix("file://")) / RUN_RECORD
    return json.loads(path.read_text()) if path.exists() else {}


def reuse_or_train(
    root: str,
    ds: str,
    model: str,
    config: Any,
    train: Callable[[str | None], dict[str, Any]],
    *,
    upstream: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run ``train(champion_folder)`` unless ``model``'s output for ``ds`` is already right.

    ``champion_folder`` is the current champion's training output (a private copy when the champion
    is this very day's output, which training is about to replace), or None without a champion.
    """
    from ecom_tasks.publish.stage import champion_info

    folder = model_folder(root, model, ds)
    fingerprint = _fingerprint(root, ds, config, upstream)
    previous = _recorded(folder)
    champion = champion_info(root, model)
    if previous.get("fingerprint") == fingerprint:
        log.info("%s for %s is up to date (same inputs, configuration and code): reused", model, ds)
        if champion and champion["ds"] == ds:
            _score_self_as_champion(folder, model)
        return {**previous["result"], "reused": True}
    snapshot = None
    champion_folder = champion["folder"] if champion else None
    if champion_folder and champion["ds"] == ds and Path(champion_folder).exists():
        snapshot = tempfile.mkdtemp(prefix=f"champion-{model}-")
        champion_folder = shutil.copytree(champion_folder, f"{snapshot}/model")
    elif champion_folder and not Path(champion_folder).exists():
        log.warning(
            "the %s champion's folder %s is gone: no warm start or champion scoring", model, champion_folder
        )
        champion_folder = None
    try:
        result = train(champion_folder)
    finally:
        if snapshot:
            shutil.rmtree(snapshot, ignore_errors=True)
    result = {**result, "champion": champion, "reused": False}
    storage.write_json({"fingerprint": fingerprint, "result": result}, f"{folder}/{RUN_RECORD}")
    return result


def _score_self_as_champion(folder: str, model: str) -> None:
    """The champion is this very output: its score on the held-out data is the candidate's own."""
    from ecom_tasks.publish.config import CHAMPION_METRICS_FILE, METRICS_FILE
    from ecom_tasks.publish.gate import GateConfig
    from ecom_tasks.publish.stage import read_metrics

    path = Path(folder.removeprefix("file://"))
    if (path / CHAMPION_METRICS_FILE).exists() or not (path / METRICS_FILE).exists():
        return
    baselines = GateConfig().for_model(model).baselines
    metrics, _ = read_metrics(str(path / METRICS_FILE))
    own = {k: v for k, v in metrics.items() if not k.startswith(baselines)}
    storage.write_json(own, str(path / CHAMPION_METRICS_FILE))


def pretrain(root: str, ds: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Pretrain the retrieval model for ``ds``, warm-started from the champion and scored against it."""
    from ecom_tasks.retrieval.stage import pretrain_retrieval

    root = storage.data_root(root)
    config = retrieval_config(RunParams.from_mapping(params))

    def train(champion: str | None) -> dict[str, Any]:
        return pretrain_retrieval(root, ds, config, warm_start_uri=champion, champion_uri=champion)

    return reuse_or_train(root, ds, RETRIEVAL, config, train)


def fine_tune(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fine-tune the task head ``model`` on this run's pretrained towers, scored against its champion."""
    root = storage.data_root(root)
    config = head_config(model, RunParams.from_mapping(params))
    if model == "ranking":
        from ecom_tasks.ranking.stage import fine_tune_ranking

        def train(champion: str | None) -> dict[str, Any]:
            return fine_tune_ranking(root, ds, config, champion_uri=champion)
    else:
        from ecom_tasks.heads.stage import fine_tune as fine_tune_head

        def train(champion: str | None) -> dict[str, Any]:
            return fine_tune_head(model, root, ds, config, champion_uri=champion)

    return reuse_or_train(root, ds, model, config, train, upstream=(RETRIEVAL,))


def publish_config():  # -> PublishConfig (imported lazily: it pulls in MLflow's config)
    """The publication configuration, with the gate thresholds of ``$ECOM_GATE_CONFIG`` when set."""
    from ecom_tasks.publish.config import PublishConfig
    from ecom_tasks.publish.gate_file import gate_config_from_env

    return PublishConfig(gate=gate_config_from_env())


def gate(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The evaluation gate of ``model`` for ``ds``; raises when blocked so the task shows red."""
    from ecom_tasks.publish.stage import gate_model

    force = RunParams.from_mapping(params).force_publish
    config = publish_config()
    return gate_model(storage.data_root(root), ds, model, config, force=force, fail_on_block=True)


def publish(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Register ``model``'s blessed candidate, check it serves, and move ``champion`` to it."""
    from ecom_tasks.publish.stage import publish_model

    force = RunParams.from_mapping(params).force_publish
    return publish_model(storage.data_root(root), ds, model, publish_config(), force=force)
