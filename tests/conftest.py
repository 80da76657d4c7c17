"""Shared fixtures: a throw-away data root and the real data in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ECOM_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh data root for one test, also exported as ``ECOM_DATA_ROOT``."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("ECOM_DATA_ROOT", str(root))
    return str(root)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need real data skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (set ECOM_SHARED_DATA to point at it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def online_retail_ii(shared_data: Path) -> Path:
    path = shared_data / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def beauty_sequences(shared_data: Path) -> Path:
    path = shared_data / "amazon-beauty-5core" / "Beauty.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path
