"""Tiny synthetic shops for the retrieval tests: users walk the catalogue item by item.

Every user's next item is the current item + 1 (mod the catalogue), a pattern the query tower
can only learn from history, so recall well above chance proves the towers read it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.contract import CATEGORY, ITEM_ID, TITLE, TS, USER_ID
from ecom_tasks.retrieval.config import WEIGHT, RetrievalConfig

START = pd.Timestamp("2024-03-01", tz="UTC")


def walks(
    n_users: int = 48, n_items: int = 12, length: int = 8, seed: int = 0, prefix: str = "u"
) -> pd.DataFrame:
    """Interactions: user u starts at a random item and steps +1 every hour."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(length):
            ts = START + pd.Timedelta(hours=t * 12 + u % 5)
            rows.append((f"{prefix}{u}", f"i{(start + t) % n_items}", ts, 1.0 + (t % 2)))
    frame = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TS, WEIGHT])
    frame[TS] = frame[TS].astype("datetime64[us, UTC]")
    return frame


def catalogue(n_items: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {
            ITEM_ID: [f"i{i}" for i in range(n_items)],
            CATEGORY: [f"c{i % 3}" for i in range(n_items)],
            TITLE: [f"Item {i}, shade w{i % 4}!" for i in range(n_items)],
        }
    )


def tiny_config(**overrides: object) -> RetrievalConfig:
    base = dict(
        embedding_dim=16,
        max_history=6,
        num_blocks=1,
        num_heads=1,
        dropout=0.0,
        title_length=4,
        tokens_per_batch=48,
        learning_rate=0.02,
        temperature=0.1,
        max_epochs=3,
        patience=5,
        val_k=2,
        holdout_days=1,
        export_k=5,
        target="next_item",  # the walks' pattern is the next step
    )
    base.update(overrides)
    return RetrievalConfig(**base)


@pytest.fixture(scope="session")
def toy() -> tuple[pd.DataFrame, pd.DataFrame]:
    return walks(), catalogue()
