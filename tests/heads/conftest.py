"""A tiny synthetic shop run through the real stages once per session, for the head tests.

Customers have a favourite category and a purchase rhythm; "fading" customers stop buying on a
random day, so recency and the order trend carry a real churn signal. The shop has 40 days; the
training data uses 14-day (churn) and 7-day (repurchase) horizons so the labels fit in it.
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
from ecom_tasks.heads.config import HeadConfig
from tests.retrieval.conftest import tiny_config
from tests.validated_shop import write_validated

START = dt.date(2024, 1, 1)
N_DAYS = 40
DS = (START + dt.timedelta(days=N_DAYS - 1)).isoformat()  # 2024-02-09
TRAINING = TrainingDataConfig(
    churn_horizon_days=14,
    repurchase_days=7,
    next_items_days=7,
    interaction_days=None,
    features=FeatureConfig(write_report=False, trend_days=7),
)


def shop(n_users: int = 160, n_items: int = 24, seed: int = 3) -> tuple[pd.DataFrame, ...]:
    """Canonical events, items and users of the synthetic shop."""
    rng = np.random.default_rng(seed)
    rows, k = [], 0
    for u in range(n_users):
        kind = rng.choice(["loyal", "fading", "rare"], p=[0.35, 0.45, 0.2])
        every = {"loyal": 3, "fading": 3, "rare": 9}[kind]
        stop = int(rng.integers(6, N_DAYS + 10)) if kind == "fading" else N_DAYS
        favourite = int(rng.integers(3))
        day = int(rng.integers(0, every))
        while day < min(stop, N_DAYS):
            t = pd.Timestamp(START + dt.timedelta(days=day), tz="UTC") + pd.Timedelta(
                hours=int(rng.integers(8, 20))
            )
            order = f"o{u}-{day}"
            for _ in range(int(rng.integers(1, 3))):
                cat = favourite if rng.random() < 0.8 else int(rng.integers(3))
                item = f"i{cat + 3 * int(rng.integers(n_items // 3))}"
                for et in ("view", "purchase"):
                    oid = order if et == "purchase" else None
                    rows.append((f"e{k}", t, f"u{u:03d}", f"s{u}-{day}", item, et, 1, 5.0 + cat, oid, "GB"))
                    k += 1
                    t += pd.Timedelta(minutes=3)
            day += max(1, int(rng.poisson(every)))
    ev = contract.conform(pd.DataFrame(rows, columns=contract.columns(EVENTS)), EVENTS)
    it = pd.DataFrame(
        {
            contract.ITEM_ID: [f"i{i}" for i in range(n_items)],
            contract.TITLE: [f"Item {i} colour {i % 4}" for i in range(n_items)],
            contract.CATEGORY: [f"cat{i % 3}" for i in range(n_items)],
            contract.PRICE: [5.0 + i % 3 for i in range(n_items)],
            contract.FIRST_SEEN: ["2023-12-01T00:00Z"] * n_items,
        }
    )
    us = pd.DataFrame(
        {
            contract.USER_ID: [f"u{u:03d}" for u in range(n_users)],
            contract.FIRST_SEEN: ["2023-12-15T00:00Z"] * n_users,
            contract.COUNTRY: ["GB"] * n_users,
        }
    )
    return ev, contract.conform(it, ITEMS), contract.conform(us, USERS)


def head_config(**overrides: object) -> HeadConfig:
    """A small, fast head configuration for the tests."""
    base = dict(
        active_days=30,
        min_customers=30,
        hidden_units=(16,),
        batch_size=32,
        frozen_learning_rate=1e-2,
        frozen_epochs=6,
        tuned_epochs=1,
        patience=3,
        gbdt_max_iter=30,
    )
    base.update(overrides)
    return HeadConfig(**base)


@pytest.fixture(scope="session")
def shop_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A data root with the features, training data and pretrained backbone of ``DS``."""
    from ecom_tasks.retrieval.stage import pretrain_retrieval

    root = str(tmp_path_factory.mktemp("heads") / "data")
    write_validated(root, START, N_DAYS, *shop())
    last_train_day = (START + dt.timedelta(days=N_DAYS - 2)).isoformat()
    build_features(root, last_train_day, TRAINING.features)
    build_features(root, DS, TRAINING.features)
    build_training_data(root, DS, TRAINING)
    pretrain_retrieval(root, DS, tiny_config(max_epochs=1, num_sampled=16))
    return root
