"""Fixtures: the publish tests' migrated MLflow store, and a two-night published shop (built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecom_tasks.publish import tracking
from tests.monitoring.shop import build_two_nights
from tests.publish.conftest import _new_root, fast_tmp, mlflow_template  # noqa: F401 (fixtures)


@pytest.fixture(scope="session")
def nights(fast_tmp: Path, mlflow_template: Path) -> tuple[str, dict]:  # noqa: F811
    """``(root, {"b": monitor of night B, "c": monitor of night C})``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.TRACKING_URI_ENV, raising=False)
        mp.delenv("ECOM_GATE_CONFIG", raising=False)
        root = _new_root(fast_tmp, mlflow_template)
        mp.setenv("ECOM_DATA_ROOT", root)
        return root, build_two_nights(root)
