"""Fixtures of the UI plugin tests: the plugins folder on ``sys.path`` (as Airflow puts it), a
published shop built once per session, and in-process clients of the plugin's app."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecom_tasks.publish import tracking
from tests.conftest import PROJECT_ROOT
from tests.publish import conftest as publish_fixtures

sys.path.insert(0, str(PROJECT_ROOT / "plugins"))

# The migrated MLflow SQLite template and the in-memory temp folder of the publish tests.
mlflow_template = publish_fixtures.mlflow_template
fast_tmp = publish_fixtures.fast_tmp


@pytest.fixture(scope="session")
def ui_root(fast_tmp: Path, mlflow_template: Path) -> str:
    """A data root with a published shop (see tests/plugins/shop.py); read-only for the tests."""
    from tests.plugins.shop import build_published_shop

    root = Path(tempfile.mkdtemp(prefix="ui-", dir=fast_tmp))
    (root / "mlflow").mkdir()
    shutil.copy(mlflow_template, root / "mlflow" / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.TRACKING_URI_ENV, raising=False)
        mp.setenv("ECOM_DATA_ROOT", str(root))
        build_published_shop(str(root))
    return str(root)


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry of the root under test, not the one a developer's environment names."""
    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)


@pytest.fixture(scope="session")
def ui_app(ui_root: str):
    from ecom_ui.app import create_app

    return create_app(ui_root, auth=False)


@pytest.fixture
def client(ui_app) -> Iterator:
    from fastapi.testclient import TestClient

    with TestClient(ui_app, raise_server_exceptions=False) as c:
        yield c
