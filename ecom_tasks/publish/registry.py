"""The MLflow Model Registry side of publication: register, serve-check, promote.

- Registration is idempotent: a version carries the tag ``fingerprint`` (model, ds, input hashes,
  code version); publishing the same candidate again finds that version instead of adding one.
- The serving check loads ``models:/<name>/<version>`` with ``mlflow.pyfunc.load_model``, as a
  consumer would, and sends it a smoke query; only a version that answers may become champion.
- Promotion moves the alias ``champion`` in one call, under a file lock
  (``{root}/mlflow/.alias.lock``), re-reading the champion under the lock so two racing publishes
  cannot let an older ``ds`` overwrite a newer one, and moving the outputs pointer with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ecom_tasks import remote
from ecom_tasks.errors import ConfigError, EcomError
from ecom_tasks.publish.config import CHAMPION, SMOKE_INPUT_FILE, ModelSpec
from ecom_tasks.publish.lock import alias_lock

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

WRAPPER = str(Path(__file__).with_name("pyfunc_model.py"))
TAG_DS, TAG_FINGERPRINT, TAG_ARTIFACT_HASH = "ds", "fingerprint", "artifact_hash"
TAG_SERVING, TAG_FORCED, TAG_ROLLBACK = "serving_check", "forced", "rollback"
_FLAVOR_PACKAGES = {"tensorflow": ["tensorflow", "tf-keras"], "pickle": ["scikit-learn"], "callable": []}


class ServingCheckError(EcomError):
    """A registered version could not be loaded back or did not answer its smoke query."""


def artifact_hash(path: str | Path) -> str:
    """SHA-256 over the relative names and bytes of every file of an artifact (file or folder)."""
    path = Path(path)
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(str(f.relative_to(path) if f != path else f.name).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def fingerprint(model: str, ds: str, inputs: Mapping[str, str], code_version: str, artifact: str) -> str:
    """What makes two publishes "the same": model, ds, input hashes and code version.

    The artifact's own hash counts only when no input hashes are known, because a retrained
    SavedModel's bytes need not repeat exactly even with the same data, code and seeds.
    """
    key = {"model": model, "ds": ds, "inputs": dict(sorted(inputs.items())), "code": code_version}
    if not inputs:
        key["artifact"] = artifact
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def resolve_flavor(spec: ModelSpec, artifact: Path) -> str:
    """The spec's flavor, or for ``auto`` the one the artifact's files reveal."""
    if spec.flavor != "auto":
        return spec.flavor
    if artifact.is_dir() and (artifact / "saved_model.pb").exists():
        return "tensorflow"
    if artifact.suffix in (".pkl", ".pickle", ".joblib") or (artifact / "model.pkl").exists():
        return "pickle"
    raise ConfigError(
        f"ModelSpec({spec.name}).flavor: cannot tell how to open {artifact}; set flavor (and loader)"
    )


def _requirements(flavor: str) -> list[str]:
    out = []
    for package in ["mlflow", "pandas", "numpy", *_FLAVOR_PACKAGES.get(flavor, [])]:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out.append(f"{package}=={importlib.metadata.version(package)}")
    return out


def log_candidate(run_id: str, artifact: Path, spec: ModelSpec, flavor: str) -> tuple[str, str]:
    """Log ``artifact`` wrapped in the pyfunc wrapper to run ``run_id``; return (model_uri, model_id)."""
    import mlflow

    config = {"flavor": flavor, "signature": spec.signature, "loader": spec.loader, "model": spec.name}
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=WRAPPER,
            artifacts={"model": str(artifact)},
            model_config={k: v for k, v in config.items() if v is not None},
            pip_requirements=_requirements(flavor),  # explicit: inferring them would load the model
        )
    return info.model_uri, info.model_id


def find_version(client: MlflowClient, name: str, fingerprint_: str) -> ModelVersion | None:
    """The oldest version of ``name`` tagged with ``fingerprint_`` that did not fail its serving check.

    A version that failed (a corrupt artifact) is not reused: fixing the artifact and publishing
    again registers a new version.
    """
    found = client.search_model_versions(f"name='{name}' and tags.{TAG_FINGERPRINT}='{fingerprint_}'")
    usable = [v for v in found if not str(v.tags.get(TAG_SERVING, "")).startswith("failed")]
    return min(usable, key=lambda v: int(v.version)) if usable else None


def register_version(
    client: MlflowClient, root: str, name: str, source: str, *, run_id: str, model_id: str | None,
    tags: Mapping[str, Any], timeout_s: float = 300.0,
) -> tuple[ModelVersion, bool]:  # fmt: skip
    """Register ``source`` as a version of ``name`` unless one with the same fingerprint exists.

    Returns ``(version, created)``. Runs under the alias lock so racing publishes of the same
    candidate register it once.
    """
    from mlflow.exceptions import MlflowException

    with alias_lock(root, timeout_s):
        existing = find_version(client, name, str(tags[TAG_FINGERPRINT]))
        if existing is not None:
            return existing, False
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name, tags={"ecom.managed": "true"})
        clean = {k: str(v)[:5000] for k, v in tags.items()}
        return client.create_model_version(name, source, run_id=run_id, tags=clean, model_id=model_id), True


def _describe_answer(answer: Any) -> str:
    """A short description of a usable answer; ValueError when it is empty or not finite."""
    if answer is None:
        raise ValueError("the model answered None")
    if isinstance(answer, Mapping):
        if not answer:
            raise ValueError("the model answered an empty mapping")
        return ", ".join(f"{k}: {_describe_answer(v)}" for k, v in answer.items())
    array = answer.to_numpy() if isinstance(answer, pd.DataFrame | pd.Series) else np.asarray(answer)
    if array.size == 0:
        raise ValueError(f"the model answered an empty result of shape {array.shape}")
    if np.issubdtype(array.dtype, np.number) and not np.isfinite(array).all():
        raise ValueError("the model answered non-finite numbers")
    return f"shape {array.shape}"


def read_smoke_input(folder: str | Path) -> Any:
    """The explicit smoke query ``smoke_input.json`` of a candidate folder, or None.

    A JSON list is read as DataFrame records; an object is passed as is (named inputs).
    """
    body = remote.read_uri(f"{folder}/{SMOKE_INPUT_FILE}")  # the folder may be on an object store
    if body is None:
        return None
    raw = json.loads(body)
    return pd.DataFrame(raw) if isinstance(raw, list) else raw


def serving_check(client: MlflowClient, name: str, version: str, smoke_input: Any = None) -> dict[str, Any]:
    """Load ``models:/<name>/<version>`` like a consumer and send it a smoke query.

    Args:
        smoke_input: the query; by default the one the wrapper derives from the model itself.

    Returns ``{"uri", "answer", "seconds", "query"}`` (``query``: what it sent); raises
    :class:`ServingCheckError` naming the version and the cause, after tagging the version
    ``serving_check=failed``.
    """
    import mlflow

    uri = f"models:/{name}/{version}"
    started = time.perf_counter()
    try:
        loaded = mlflow.pyfunc.load_model(uri)
        query = smoke_input
        if query is None:
            query = loaded.unwrap_python_model().smoke_input()
        if query is None:
            raise ValueError("no smoke query: the model does not describe its inputs; write smoke_input.json")
        answer = _describe_answer(loaded.predict(query))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        client.set_model_version_tag(name, version, TAG_SERVING, f"failed: {reason}"[:5000])
        raise ServingCheckError(f"{uri} failed the serving check, not promoted: {reason}") from exc
    client.set_model_version_tag(name, version, TAG_SERVING, "passed")
    seconds = time.perf_counter() - started
    log.info("%s answered its smoke query (%s) in %.2fs", uri, answer, seconds)
    return {"uri": uri, "answer": answer, "seconds": round(seconds, 3), "query": query}


def champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The version holding the ``champion`` alias, or None (no such model or alias).

    Consumers load it as ``models:/<name>@champion``.
    """
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def promote(
    client: MlflowClient, root: str, name: str, version: ModelVersion, *, force: bool,
    on_move: Callable[[], Any], timeout_s: float = 300.0, rollback: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Move ``champion`` to ``version`` unless the champion, re-read under the lock, is newer.

    ``on_move`` (writing the outputs pointer) runs under the same lock right after the alias
    moves; if it fails, the alias goes back to the previous champion. ``rollback`` moves it
    whatever the dates (a deliberate manual step) and tags the version ``rollback``.
    Returns ``{"promoted", "previous_version", "previous_ds", "reason"}``.
    """
    force = force or rollback
    ds = version.tags.get(TAG_DS, "")
    with alias_lock(root, timeout_s):
        current = champion(client, name)
        prev_v, prev_ds = (str(current.version), current.tags.get(TAG_DS)) if current else (None, None)
        out = {"promoted": False, "previous_version": prev_v, "previous_ds": prev_ds}
        if prev_v is not None and str(prev_v) == str(version.version):
            on_move()  # idempotent: make sure the pointer agrees
            return out | {"reason": "already the champion"}
        if prev_ds and prev_ds > ds and not force:
            reason = f"champion version {prev_v} was trained on newer data (ds {prev_ds} > {ds}); kept it"
            log.warning("%s: %s", name, reason)
            return out | {"reason": reason}
        client.set_registered_model_alias(name, CHAMPION, version.version)
        try:
            on_move()
        except Exception:
            if prev_v is not None:
                client.set_registered_model_alias(name, CHAMPION, prev_v)
            else:
                client.delete_registered_model_alias(name, CHAMPION)
            raise
        if rollback:
            client.set_model_version_tag(
                name, version.version, TAG_ROLLBACK, f"rolled back from version {prev_v}"
            )
            return out | {"promoted": True, "reason": f"rollback from version {prev_v}"}
        if force and prev_ds and prev_ds > ds:
            client.set_model_version_tag(
                name, version.version, TAG_FORCED, f"replaced version {prev_v} ds={prev_ds}"
            )
            return out | {"promoted": True, "reason": "forced over a newer champion"}
        return out | {"promoted": True, "reason": "blessed"}


def version_summary(client: MlflowClient, mv: ModelVersion, metrics: tuple[str, ...] = ()) -> dict[str, Any]:
    """A version's number, ds, aliases, tags of interest and its run's metrics (all, or ``metrics``)."""
    run_metrics: dict[str, float] = {}
    if mv.run_id:
        with contextlib.suppress(Exception):
            run_metrics = dict(client.get_run(mv.run_id).data.metrics)
    if metrics:
        run_metrics = {k: v for k, v in run_metrics.items() if k in metrics}
    return {
        "version": str(mv.version),
        "ds": mv.tags.get(TAG_DS),
        "aliases": list(getattr(mv, "aliases", []) or []),
        "run_id": mv.run_id,
        "serving_check": mv.tags.get(TAG_SERVING),
        "forced": mv.tags.get(TAG_FORCED),
        "metrics": {k: v for k, v in sorted(run_metrics.items()) if math.isfinite(v)},
    }


def list_versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    """Every version of ``name``, oldest first (empty when the model is not registered)."""
    return sorted(client.search_model_versions(f"name='{name}'"), key=lambda v: int(v.version))
