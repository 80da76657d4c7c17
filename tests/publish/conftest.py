"""Data roots with their own SQLite MLflow store, fast enough for many registry round trips.

- Creating an MLflow SQLite database runs every schema migration (about 15 s here), so one
  migrated template is made per session (kept in pytest's cache between sessions) and copied.
- Roots live in ``/dev/shm`` where there is one: SQLite commits every registry write, and a
  memory-backed folder makes those commits cheap.
- ``champion_root`` starts from a root where ``churn`` for ``CHAMPION_DS`` is already gated and
  published (version 1, champion): it is built once and copied. The copy's store still names
  the original's artifact folder, which lives until the session ends, so runs logged in a copy put
  their artifacts there (under their own unique ids).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecom_tasks.publish import stage, tracking
from tests.publish.candidates import CHURN, CONFIG, churn_candidate

CHAMPION_DS = "2024-03-02"


@pytest.fixture(scope="session")
def mlflow_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fast_tmp: Path
) -> Path:
    version = importlib.metadata.version("mlflow")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = cache.mkdir(f"mlflow-sqlite-template-{version}") if cache else tmp_path_factory.mktemp("cache")
    cached = folder / "mlflow.db"
    if not cached.exists():
        from mlflow import MlflowClient

        tracking.quiet_mlflow()
        tmp = fast_tmp / "template.db"  # in memory where possible: a migration commits many times
        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()  # runs the migrations
        shutil.copy(tmp, cached)
    return cached


@pytest.fixture(scope="session")
def fast_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A session folder in ``/dev/shm`` when writable, else pytest's temp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="ecom-publish-tests-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("publish")


def _new_root(fast_tmp: Path, template: Path) -> str:
    root = Path(tempfile.mkdtemp(prefix="root-", dir=fast_tmp))
    (root / "mlflow").mkdir()
    shutil.copy(template, root / "mlflow" / "mlflow.db")
    return str(root)


@pytest.fixture
def pub_root(fast_tmp: Path, mlflow_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh data root (also ``$ECOM_DATA_ROOT``) with an empty, migrated MLflow store."""
    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)
    root = _new_root(fast_tmp, mlflow_template)
    monkeypatch.setenv("ECOM_DATA_ROOT", root)
    return root


@pytest.fixture(scope="session")
def _champion_base(fast_tmp: Path, mlflow_template: Path) -> str:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.TRACKING_URI_ENV, raising=False)
        root = _new_root(fast_tmp, mlflow_template)
        churn_candidate(root, CHAMPION_DS)
        assert stage.gate_model(root, CHAMPION_DS, CHURN, CONFIG)["blessed"]
        assert stage.publish_model(root, CHAMPION_DS, CHURN, CONFIG)["promoted"]
    return root


@pytest.fixture
def champion_root(_champion_base: str, fast_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A copy of a root whose ``churn`` champion is version 1, trained on ``CHAMPION_DS``."""
    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)
    root = Path(tempfile.mkdtemp(prefix="champion-", dir=fast_tmp))
    shutil.copytree(_champion_base, root, dirs_exist_ok=True)
    monkeypatch.setenv("ECOM_DATA_ROOT", str(root))
    return str(root)
