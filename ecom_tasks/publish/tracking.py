"""MLflow tracking: where runs go, and what every run records.

``$MLFLOW_TRACKING_URI`` selects a tracking server (the registry uses the same URI); without it the
embedded default is a SQLite store at ``{root}/mlflow/mlflow.db`` with artifacts under
``{root}/mlflow/artifacts``, so a laptop needs no service. An object-store data root needs
``$MLFLOW_TRACKING_URI`` (a tracking server, or a database such as a local SQLite file: SQLite
cannot live in a bucket); with a database store the artifacts still go to ``{root}/mlflow/artifacts``
in the bucket, so every worker reads the same models. A run records its parameters, metrics,
the data window, the content hashes of its input partitions (from their ``_manifest.json``), the
code version (package version, git commit when there is one, hash of the source files) and its artifacts.
MLflow's own chatter (INFO lines, progress bars) is turned down so task logs stay readable.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import os
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecom_tasks import __version__, catalog, codehash, fsio, remote, storage
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.flock import file_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

TRACKING_URI_ENV = "MLFLOW_TRACKING_URI"
TAG_MODEL, TAG_DS, TAG_STAGE = "ecom.model", "ecom.ds", "ecom.stage"
_EXPORTED: set[str] = set()  # default URIs this process chose (MLflow copies them into the env)
_PROJECT_DIR = Path(__file__).resolve().parents[2]
_QUIET = {"mlflow": logging.WARNING, "mlflow.pyfunc": logging.ERROR, "mlflow.models": logging.ERROR}
_SERVER_SCHEMES = ("http://", "https://", "databricks")
_QUIET |= {"alembic": logging.WARNING, "mlflow.store.db.utils": logging.WARNING}


def local_root(root: str) -> Path:
    root = storage.data_root(root)
    if "://" in root and not root.startswith("file://"):
        raise ConfigError(
            f"{TRACKING_URI_ENV}: must be set when the data root {root!r} is not a local folder "
            "(the embedded SQLite store needs a local file)"
        )
    return Path(root.removeprefix("file://")).resolve()


def _env_uri() -> str | None:
    """``$MLFLOW_TRACKING_URI`` as the operator set it (MLflow exports the URIs we set, too)."""
    env = os.environ.get(TRACKING_URI_ENV)
    return env if env and env not in _EXPORTED else None


def tracking_uri(root: str) -> str:
    """``$MLFLOW_TRACKING_URI``, or the embedded SQLite store under ``{root}/mlflow``."""
    env = _env_uri()
    if env:
        return env
    return f"sqlite:///{local_root(root) / catalog.MLFLOW / 'mlflow.db'}"


def artifact_location(root: str) -> str | None:
    """Where new experiments keep their artifacts: ``{root}/mlflow/artifacts``; None when a
    tracking server decides (``$MLFLOW_TRACKING_URI`` is ``http(s)://`` or ``databricks``).

    With a database store (SQLite, PostgreSQL ...) MLflow would otherwise put them in ``./mlruns``
    under the working directory. On an object-store root they go to the same bucket (MLflow's S3
    client takes its endpoint from ``MLFLOW_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL``).
    """
    env = _env_uri()
    if env and env.startswith(_SERVER_SCHEMES):
        return None
    data = storage.data_root(root)
    if "://" in data and not data.startswith("file://"):
        return f"{data}/{catalog.MLFLOW}/artifacts"
    return (local_root(root) / catalog.MLFLOW / "artifacts").as_uri()


def quiet_mlflow() -> None:
    """Turn MLflow's INFO lines and progress bars down to warnings and errors."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name, level in _QUIET.items():
        logging.getLogger(name).setLevel(level)


def configure(root: str) -> MlflowClient:
    """Point MLflow (tracking and registry) at this root's store and return a client."""
    quiet_mlflow()
    import mlflow

    uri = tracking_uri(root)
    db = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if db is not None and not db.exists():
        # Parallel tasks of a first run must not migrate one new database together, nor use it
        # half-migrated: build it aside, under a lock, and move it into place when complete.
        with file_lock(db.with_name(".init.lock"), timeout_s=600):
            if not db.exists():
                fresh = db.with_name(f".{db.name}.init-{uuid.uuid4().hex}")
                mlflow.MlflowClient(tracking_uri=f"sqlite:///{fresh}").search_experiments(max_results=1)
                os.replace(fresh, db)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    if uri != _env_uri():
        _EXPORTED.add(uri)  # set_tracking_uri exports it to the environment for subprocesses
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return client


def experiment_id(client: MlflowClient, name: str, root: str) -> str:
    """The id of experiment ``name``, created (with this root's artifact location) if missing."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(root))
    except MlflowException:  # another process created it first
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


@functools.cache
def code_version() -> str:
    """``ecom_tasks.__version__``, plus ``+g<commit>`` when the project is a git checkout, plus
    ``.src<hash>`` of the package's source files, so an uncommitted edit shows in the lineage."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(_PROJECT_DIR), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = ""
    source = f"src{codehash.source_hash()[:12]}"
    return f"{__version__}+g{commit}.{source}" if commit else f"{__version__}+{source}"


def input_hashes(root: str, ds: str, stages: Iterable[str]) -> dict[str, str]:
    """``{"stage/table": content_hash}`` of every committed partition of ``stages`` for ``ds``."""
    day = storage.as_date(ds).isoformat()
    out: dict[str, str] = {}
    base = storage.data_root(root)
    for stage in stages:
        # Through fsio, not a local glob: the root may be an object store (s3://, memory://).
        fs, path = fsio.resolve(f"{base}/{stage}")
        tables = fsio.list_names(fs, path) if fsio.exists(fs, path) else []
        for table in sorted(t for t in tables if not t.startswith(".")):
            manifest = storage.read_manifest(f"{base}/{stage}/{table}/ds={day}")
            if manifest is not None:
                out[f"{stage}/{table}"] = manifest.content_hash
    return out


def data_window(ds: str, declared: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The run's data interval ``[ds, ds+1)`` in UTC, plus whatever the training stage declared."""
    day = storage.as_date(ds)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    window = {
        "ds": day.isoformat(),
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
    }
    window.update({str(k): str(v) for k, v in (declared or {}).items()})
    return window


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = json.dumps(value, default=str) if isinstance(value, list | tuple) else str(value)


def start_run(client: MlflowClient, experiment: str, root: str, *, model: str, ds: str, stage: str) -> str:
    """Create a run named ``<model> ds=<ds>`` tagged with model, ds and stage; return its id."""
    exp = experiment_id(client, experiment, root)
    tags = {TAG_MODEL: model, TAG_DS: ds, TAG_STAGE: stage, "mlflow.runName": f"{model} ds={ds}"}
    return client.create_run(exp, tags=tags, run_name=f"{model} ds={ds}").info.run_id


def log_run(
    client: MlflowClient,
    run_id: str,
    *,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, Any] | None = None,
    artifacts: Iterable[str | Path] = (),
    artifact_dir: str | None = None,
) -> None:
    """Log params (nested mappings flattened with dots), finite metrics, tags and files to a run."""
    from mlflow.entities import Metric, Param, RunTag

    flat: dict[str, str] = {}
    _flat("", dict(params or {}), flat)
    plist = [Param(k, v[:6000]) for k, v in flat.items()]
    stamp = int(time.time() * 1000)  # metadata only, never an input to a computation
    mlist = [Metric(k, float(v), stamp, 0) for k, v in (metrics or {}).items() if math.isfinite(v)]
    tlist = [RunTag(k, str(v)[:5000]) for k, v in (tags or {}).items()]
    for i in range(0, max(len(plist), len(mlist), len(tlist)), 100):  # MLflow's batch limits
        client.log_batch(
            run_id, metrics=mlist[i : i + 100], params=plist[i : i + 100], tags=tlist[i : i + 100]
        )
    for path in artifacts:
        if not remote.uri_exists(str(path)):
            continue
        with remote.local_copy(str(path)) as local:  # MLflow uploads from local files only
            client.log_artifact(run_id, local, artifact_dir)
