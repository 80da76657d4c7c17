"""Shared fixtures of the assistant's tests: the public support data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

SUPPORT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "customer-service"


@pytest.fixture(scope="session")
def support_folder() -> Path:
    if not (SUPPORT / "bitext_customer_support_train.csv").exists():
        pytest.skip(f"support data not found at {SUPPORT} (../shared/data/customer-service)")
    return SUPPORT
