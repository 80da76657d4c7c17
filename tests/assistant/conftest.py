"""Shared fixtures of the assistant's tests: the public support data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

SUPPORT = SHARED_DATA / "customer-service"


@pytest.fixture(scope="session")
def support_folder() -> Path:
    if not (SUPPORT / "bitext_customer_support_train.csv").exists():
        pytest.skip(f"support data not found at {SUPPORT} (set ECOM_SHARED_DATA to point at ../shared/data)")
    return SUPPORT
