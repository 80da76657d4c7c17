"""A tiny synthetic shop with a planted signal, run through the real stages once per session.

Customers view random items, but buy only "premium" (expensive) ones. The retrieval model learns
from every interaction, views included, and has no price; the ranking head sees each candidate's
price, so it should move the premium items to the top of the lists. Validated partitions are
written directly (the validation stage has its own tests); features, training data and the
backbone come from the real stage functions.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.contract import EVENTS, ITEMS, USERS
from ecom_tasks.features.config import FeatureConfig, TrainingDataConfig
from ecom_tasks.features.stage import build_features, build_training_data
from ecom_tasks.ranking.config import FreezeSchedule, RankingConfig
from tests.retrieval.conftest import tiny_config
from tests.validated_shop import write_validated

START = dt.date(2024, 1, 1)
N_DAYS = 30
DS = (START + dt.timedelta(days=N_DAYS - 1)).isoformat()  # 2024-01-30
N_PREMIUM = 6  # items i0..i5 are the only ones ever bought, and the only expensive ones
HOLDOUT_DAYS = 6  # the backbone's held-out days: 3 label the training lists, 3 evaluate
TRAINING = TrainingDataConfig(
    churn_horizon_days=7,
    repurchase_days=7,
    next_items_days=7,
    interaction_days=None,
    features=FeatureConfig(write_report=False, trend_days=7),
)


def shop(n_users: int = 120, n_items: int = 24, seed: int = 5) -> tuple[pd.DataFrame, ...]:
    """Canonical events, items and users: random views, purchases of premium items only."""
    rng = np.random.default_rng(seed)
    rows, k = [], 0

    def add(ts: pd.Timestamp, user: str, item: str, et: str, order: str | None) -> None:
        nonlocal k
        rows.append((f"e{k}", ts, user, f"s{user}-{ts.day}", item, et, 1, 4.0, order, "GB"))
        k += 1

    for u in range(n_users):
        user = f"u{u:03d}"
        for day in range(u % 12, N_DAYS):  # customers join over the first 12 days
            if rng.random() > 0.5:
                continue
            t = pd.Timestamp(START + dt.timedelta(days=day), tz="UTC") + pd.Timedelta(
                hours=int(rng.integers(8, 20))
            )
            for item in rng.choice(n_items, 5, replace=False):
                add(t, user, f"i{item}", contract.VIEW, None)
                t += pd.Timedelta(minutes=2)
            item = f"i{rng.integers(N_PREMIUM)}"
            add(t, user, item, contract.VIEW, None)
            add(t + pd.Timedelta(minutes=1), user, item, contract.PURCHASE, f"o{u}-{day}")
    ev = contract.conform(pd.DataFrame(rows, columns=contract.columns(EVENTS)), EVENTS)
    it = pd.DataFrame(
        {
            contract.ITEM_ID: [f"i{i}" for i in range(n_items)],
            contract.TITLE: [f"Item {i} colour {i % 4}" for i in range(n_items)],
            contract.CATEGORY: [f"cat{i % 3}" for i in range(n_items)],
            contract.PRICE: [30.0 if i < N_PREMIUM else 3.0 for i in range(n_items)],
            contract.FIRST_SEEN: ["2023-12-01T00:00Z"] * n_items,
        }
    )
    us = pd.DataFrame(
        {
            contract.USER_ID: [f"u{u:03d}" for u in range(n_users)],
            contract.FIRST_SEEN: [
                pd.Timestamp(START, tz="UTC") + pd.Timedelta(days=u % 12) for u in range(n_users)
            ],
            contract.COUNTRY: ["GB"] * n_users,
        }
    )
    return ev, contract.conform(it, ITEMS), contract.conform(us, USERS)


def ranking_config(**overrides: object) -> RankingConfig:
    """A small, fast configuration for the tests."""
    base = dict(
        candidates=16,
        top_k=5,
        eval_days=3,
        max_seen_negatives=5,
        hidden_units=(16,),
        batch_users=8,
        validation_fraction=0.2,
        schedule=FreezeSchedule(frozen_epochs=5, frozen_learning_rate=1e-2, unfrozen_epochs=1),
    )
    base.update(overrides)
    return RankingConfig(**base)


@pytest.fixture(scope="session")
def shop_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A data root with the features, training data and pretrained backbone of ``DS``."""
    from ecom_tasks.retrieval.stage import pretrain_retrieval

    root = str(tmp_path_factory.mktemp("ranking") / "data")
    write_validated(root, START, N_DAYS, *shop())
    cutoff_day = (START + dt.timedelta(days=N_DAYS - HOLDOUT_DAYS - 1)).isoformat()
    for day in (cutoff_day, DS):  # profiles as of the backbone's last training day, and of ds
        build_features(root, day, TRAINING.features)
    build_training_data(root, DS, TRAINING)
    pretrain_retrieval(root, DS, tiny_config(max_epochs=2, num_sampled=16, holdout_days=HOLDOUT_DAYS))
    return root
