"""The task functions of ``ecom_nightly``: each turns a run's parameters into one stage call.

The DAG file only wires these; everything a run decides lives here, where it is unit-tested:

- which day a run processes (its logical day, or the ``end_date`` a manual run asks for),
- refusing a bad manual trigger before any task writes anything (:func:`check_run`),
- the training configuration a run's ``epochs`` / ``embedding_size`` select,
- warm start and champion scoring from the registry's current champion,
- reuse of a training output that is already right: a rerun (or a backfill with
  ``--reprocess-behavior completed``) of a day whose inputs, configuration and code (the commit and
  the source files, uncommitted edits included: :mod:`ecom_tasks.codehash`) are unchanged returns
  the recorded result instead of training again, so it neither changes a model nor registers a
  duplicate version,
- stepping aside: a model the shop's data cannot train or judge honestly yet (too young, small or
  sparse: :class:`~ecom_tasks.errors.NotEnoughDataError`) is skipped with the reason, recorded in
  ``models/<model>/ds=D/skipped.json``; its champion, if any, stays published.
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
from typing import Any

from ecom_tasks import aside, catalog, codehash, remote, stages, storage
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.ingest import IngestConfig
from ecom_tasks.params import RunParams

log = logging.getLogger(__name__)


def run_day(params: Mapping[str, Any] | None, scheduled: dt.date | str) -> str:
    """The day (``YYYY-MM-DD``) a run processes: ``end_date`` when set, else ``scheduled``."""
    return RunParams.from_mapping(params).run_date(scheduled).isoformat()


def stage_config(model: str, params: Mapping[str, Any] | RunParams | None) -> Any:
    """The typed configuration of ``model``'s stage for a run's parameters (from the registry)."""
    run = params if isinstance(params, RunParams) else RunParams.from_mapping(params)
    return stages.get(model).make_config(run)


def check_run(params: Mapping[str, Any] | None, scheduled: dt.date | str) -> dict[str, Any]:
    """Refuse a run whose parameters are wrong, naming the parameter, before anything is written.

    The trigger form's JSON schema already refuses wrong types; this checks what a schema cannot:
    paths exist, the window is ordered and complete, the training configuration is consistent.
    """
    run = RunParams.from_mapping(params)
    day = run.run_date(scheduled)
    IngestConfig.from_params(params)
    models: list[str] = []
    if not run.skip_training:
        for stage in stages.registered():
            stage.make_config(run)
            models.append(stage.name)
        publish_config()  # a broken $ECOM_GATE_CONFIG is refused before anything is written
        from ecom_tasks.publish import tracking

        tracking.tracking_uri(storage.data_root(None))  # an object-store root needs $MLFLOW_TRACKING_URI
    plan = {
        "ds": day.isoformat(),
        "source": run.source,
        "source_path": run.source_path,
        "start_date": run.start_date,
        "train": not run.skip_training,
        "models": models,
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
    return storage.partition_uri(root, catalog.MODELS, model, ds)


def _fingerprint(
    root: str, ds: str, config: Any, upstream: tuple[str, ...], code: tuple[str, ...] = ()
) -> str:
    from ecom_tasks.publish import tracking

    record = {
        "inputs": tracking.input_hashes(root, ds, (catalog.FEATURES,)),
        "upstream": {m: _recorded(model_folder(root, m, ds)).get("fingerprint") for m in upstream},
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else repr(config),
        "code": tracking.code_version(),
        # The commit does not see uncommitted edits: the source files themselves are hashed too.
        "source": codehash.source_hash(code),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _recorded(folder: str) -> dict[str, Any]:
    try:
        return storage.read_json(f"{folder}/{catalog.RUN_RECORD}")
    except FileNotFoundError:
        return {}


def reuse_or_train(
    root: str,
    ds: str,
    model: str,
    config: Any,
    train: Callable[[str | None], dict[str, Any]],
    *,
    upstream: tuple[str, ...] = (),
    code: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run ``train(champion_folder)`` unless ``model``'s output for ``ds`` is already right.

    Right means the same input partitions, upstream outputs, configuration and code: the package
    version, the git commit and a hash of the source files (``ecom_tasks`` and the packages of the
    ``"module:name"`` paths in ``code``, the stage's train function and config), so an uncommitted
    edit retrains.

    ``champion_folder`` is the current champion's training output (a private copy when the champion
    is this very day's output, which training is about to replace), or None without a champion.
    """
    from ecom_tasks.publish.stage import champion_info

    folder = model_folder(root, model, ds)
    fingerprint = _fingerprint(root, ds, config, upstream, code)
    previous = _recorded(folder)
    champion = champion_info(root, model)
    if previous.get("fingerprint") == fingerprint:
        log.info("%s for %s is up to date (same inputs, configuration and code): reused", model, ds)
        if champion and champion["ds"] == ds:
            _score_self_as_champion(folder, model)
        return {**previous["result"], "reused": True}
    snapshot = None
    champion_folder = champion["folder"] if champion else None
    if champion_folder and not remote.uri_exists(champion_folder):
        log.warning(
            "the %s champion's folder %s is gone: no warm start or champion scoring", model, champion_folder
        )
        champion_folder = None
    elif champion_folder and (champion["ds"] == ds or not remote.is_local_uri(champion_folder)):
        # TensorFlow and pickle load local folders: a champion on an object store is downloaded.
        snapshot = tempfile.mkdtemp(prefix=f"champion-{model}-")
        champion_folder = remote.download(champion_folder, f"{snapshot}/model")
    try:
        result = train(champion_folder)
    finally:
        if snapshot:
            shutil.rmtree(snapshot, ignore_errors=True)
    result = {**result, "champion": champion, "reused": False}
    storage.write_json({"fingerprint": fingerprint, "result": result}, f"{folder}/{catalog.RUN_RECORD}")
    return result


def _score_self_as_champion(folder: str, model: str) -> None:
    """The champion is this very output: its score on the held-out data is the candidate's own."""
    from ecom_tasks.publish.stage import read_metrics

    champion_file = f"{folder}/{catalog.CHAMPION_METRICS_FILE}"
    metrics_file = f"{folder}/{catalog.METRICS_FILE}"
    if remote.uri_exists(champion_file) or not remote.uri_exists(metrics_file):
        return
    # The configured gate's baseline prefixes (a gate file may name others than the defaults).
    baselines = publish_config().gate.for_model(model).baselines
    metrics, _ = read_metrics(metrics_file)
    own = {k: v for k, v in metrics.items() if not k.startswith(baselines)}
    storage.write_json(own, champion_file)


def history_days(root: str, ds: str) -> int:
    """The shop's history as of ``ds``: days from its first validated day to ``ds``, both included."""
    day = storage.as_date(ds)
    days = [d for d in storage.list_partitions(root, catalog.VALIDATED, catalog.EVENTS) if d <= day]
    return (day - days[0]).days + 1 if days else 0


def check_history(root: str, ds: str, stage: stages.ModelStage) -> None:
    """Raise :class:`NotEnoughDataError` when the shop is younger than ``stage.min_history_days``."""
    if not stage.min_history_days:
        return
    have = history_days(root, ds)
    if have < stage.min_history_days:
        needs = stage.needs_history or f"{stage.min_history_days} days of history"
        raise NotEnoughDataError(
            f"{stage.name} not trained on ds={ds}: needs {needs} ({stage.min_history_days} days in all), "
            f"the shop has {have}"
        )


def skipped_uri(root: str, model: str, ds: str) -> str:
    return f"{model_folder(root, model, ds)}/{catalog.SKIPPED_FILE}"


def record_skip(root: str, ds: str, model: str, step: str, reason: str) -> str:
    """Write ``models/<model>/ds=D/skipped.json`` (what the run summary and the UI show) and put the
    reason on the current champion's model card (it stays the champion)."""
    log.warning("%s %s skipped: %s", model, step, reason)
    record = {"model": model, "ds": ds, "step": step, "reason": reason}
    uri = storage.write_json(record, skipped_uri(root, model, ds))
    champion = _champion_ds(root, model)
    if champion:
        from ecom_tasks.publish import card

        card.note_not_trained(model_folder(root, model, champion), reason)
    return uri


def _champion_ds(root: str, model: str) -> str | None:
    """The day of ``model``'s current champion, from the outputs pointer (no registry round trip)."""
    from ecom_tasks.publish import outputs

    return outputs.read_pointer(root)["models"].get(model, {}).get("ds")


def _set_aside_earlier_run(root: str, ds: str, model: str, reason: str) -> None:
    """Move an earlier run's files for ``ds`` (a candidate, metrics, a blessing, a card) out of the model
    folder, to ``superseded/models/<model>/ds=D/<stamp>`` with a record, so that nothing there is taken
    for this run's; the folder of the current champion stays where the registry and warm starts find it."""
    folder = model_folder(root, model, ds)
    if not remote.glob_names(folder, "*"):
        return
    if _champion_ds(root, model) == ds:
        log.warning("%s ds=%s: the folder holds the current champion's files, kept as they are", model, ds)
        return
    moved = aside.move_aside(folder, catalog.SUPERSEDED, {"model": model, "ds": ds, "reason": reason})
    log.warning("%s ds=%s: an earlier run's files moved to %s (this run stepped aside)", model, ds, moved)


def read_skip(root: str, model: str, ds: str) -> dict[str, Any] | None:
    """The skip record of ``model`` for ``ds``, or None when it was not skipped."""
    try:
        return storage.read_json(skipped_uri(root, model, ds))
    except FileNotFoundError:
        return None


def _clear_skip(root: str, model: str, ds: str) -> None:
    """Forget an earlier skip of ``ds`` (this run decides again), and its note on the champion's card."""
    if read_skip(root, model, ds) is None:
        return
    remote.remove_uri(skipped_uri(root, model, ds))
    champion = _champion_ds(root, model)
    if champion:
        from ecom_tasks.publish import card

        card.note_not_trained(model_folder(root, model, champion), None, ds=ds)


def train(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Train ``model`` for ``ds`` with its registered train function, unless its output is already right.

    The champion's folder (when there is one) is passed as ``champion_uri``: the train function
    warm-starts from it where it can and scores it on the candidate's held-out data.

    Raises:
        NotEnoughDataError: the shop's history is shorter than the stage's ``min_history_days``
            (checked first, in seconds), or its train function found too little data; recorded
            in ``skipped.json`` (the DAG shows the task skipped with the reason).
    """
    stage = stages.get(model)
    root = storage.data_root(root)
    config = stage.make_config(RunParams.from_mapping(params))
    _clear_skip(root, model, ds)  # a rerun with more data (or a fix) replaces an earlier skip
    try:
        check_history(root, ds, stage)
        function = stage.train_function()

        def fit(champion: str | None) -> dict[str, Any]:
            return function(root, ds, config, champion)

        return reuse_or_train(
            root, ds, model, config, fit, upstream=stage.upstream, code=(stage.train, stage.config)
        )
    except NotEnoughDataError as exc:
        reason = str(exc)
        if not reason.startswith(f"{model} not trained"):
            reason = f"{model} not trained on ds={ds}: {reason}"
        _set_aside_earlier_run(root, ds, model, reason)
        record_skip(root, ds, model, "train", reason)
        raise NotEnoughDataError(reason) from exc


def publish_config():  # -> PublishConfig
    """The publication configuration, with the gate thresholds of ``$ECOM_GATE_CONFIG`` when set."""
    from ecom_tasks.publish.config import PublishConfig
    from ecom_tasks.publish.gate_file import gate_config_from_env

    return PublishConfig(gate=gate_config_from_env())


def gate(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The evaluation gate of ``model`` for ``ds``; raises when blocked so the task shows red."""
    from ecom_tasks.publish.stage import gate_model

    force = RunParams.from_mapping(params).force_publish
    root = storage.data_root(root)
    _clear_skip(root, model, ds)
    try:
        return gate_model(root, ds, model, publish_config(), force=force, fail_on_block=True)
    except NotEnoughDataError as exc:  # too few held-out examples: the gate cannot decide
        _drop_earlier_verdict(root, ds, model)
        record_skip(root, ds, model, "gate", str(exc))
        raise


def _drop_earlier_verdict(root: str, ds: str, model: str) -> None:
    """Remove an earlier gate run's blessing and card for ``ds``: this run's candidate has none (kept in
    the current champion's own folder, which they describe)."""
    if _champion_ds(root, model) == ds:
        return
    folder = model_folder(root, model, ds)
    for name in (catalog.BLESSING_FILE, catalog.CARD_MARKDOWN, catalog.CARD_HTML):
        remote.remove_uri(f"{folder}/{name}")


def publish(root: str, ds: str, model: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Register ``model``'s blessed candidate, check it serves, and move ``champion`` to it."""
    from ecom_tasks.publish.stage import publish_model

    force = RunParams.from_mapping(params).force_publish
    return publish_model(storage.data_root(root), ds, model, publish_config(), force=force)
