"""Training data cores: interactions, churn/repurchase labels, next items."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import FeatureConfig, TrainingDataConfig
from ecom_tasks.features.profiles import customer_profiles
from ecom_tasks.features.stage import training_cutoff
from ecom_tasks.features.training import interactions, label_examples, next_items
from tests.features.conftest import events, items, users

CUTOFF = dt.date(2024, 1, 10)
CFG = TrainingDataConfig(churn_horizon_days=20, repurchase_days=5, next_items_days=5)
PAST = events(
    [
        ("e1", "2024-01-02T10:00Z", "u1", "s1", "i1", "purchase", 1, 5.0, "o1", None),
        ("e2", "2024-01-03T10:00Z", "u2", "s2", "i2", "purchase", 1, 3.0, "o2", None),
        ("e3", "2024-01-04T10:00Z", "u3", "s3", "i2", "purchase", 1, 3.0, "o3", None),
        ("e4", "2024-01-05T10:00Z", "u4", "s4", "i2", "view", 1, 3.0, None, None),
    ]
)
FUTURE = events(
    [
        ("f1", "2024-01-11T09:00Z", "u1", "s5", "i2", "purchase", 2, 3.0, "o4", None),
        ("f2", "2024-01-11T09:00Z", "u1", "s5", "i1", "purchase", 1, 5.0, "o4", None),
        ("f3", "2024-01-13T09:00Z", "u1", "s6", "i2", "purchase", 1, 3.0, "o5", None),
        ("f4", "2024-01-25T09:00Z", "u2", "s7", "i1", "purchase", 1, 5.0, "o6", None),
        ("f5", "2024-01-12T09:00Z", "u5", "s8", "i1", "purchase", 1, 5.0, "o7", None),
        ("f6", "2024-02-15T09:00Z", "u3", "s9", "i1", "purchase", 1, 5.0, "o8", None),
    ]
)


def profiles_at_cutoff() -> pd.DataFrame:
    cat = items([("i1", "A", "x", 5.0, "2023-01-01T00:00Z"), ("i2", "B", "y", 3.0, "2023-01-01T00:00Z")])
    prof, _ = customer_profiles(summarise(PAST, CUTOFF, FeatureConfig()), users([]), cat)
    return prof


def test_labels_look_only_after_the_cutoff() -> None:
    ex = label_examples(profiles_at_cutoff(), FUTURE, CUTOFF, CFG).set_index(contract.USER_ID)
    assert sorted(ex.index) == ["u1", "u2", "u3"]  # buyers before the cutoff; u4 never bought
    assert ex.loc["u1", fc.LABEL_CHURN] == 0 and ex.loc["u1", fc.LABEL_REPURCHASE] == 1
    assert ex.loc["u1", fc.LABEL_ORDERS] == 2 and ex.loc["u1", fc.LABEL_SPEND] == pytest.approx(14.0)
    assert ex.loc["u2", fc.LABEL_CHURN] == 0 and ex.loc["u2", fc.LABEL_REPURCHASE] == 0  # day 15 of 20
    assert ex.loc["u3", fc.LABEL_CHURN] == 1 and ex.loc["u3", fc.LABEL_ORDERS] == 0  # after the horizon
    assert (ex[fc.CUTOFF] == pd.Timestamp("2024-01-11", tz="UTC")).all()
    assert not ex.isna().any().any()


def test_next_items_bought_within_the_horizon() -> None:
    nxt = next_items(FUTURE, profiles_at_cutoff(), CUTOFF, CFG)
    assert nxt[[contract.USER_ID, contract.ITEM_ID, fc.N_ORDERS, fc.UNITS]].values.tolist() == [
        ["u1", "i1", 1, 1],
        ["u1", "i2", 2, 3],
    ]
    assert nxt[fc.FIRST_TS].iloc[1] == pd.Timestamp("2024-01-11T09:00Z")


def test_no_future_purchases_means_everyone_churned() -> None:
    ex = label_examples(profiles_at_cutoff(), FUTURE.iloc[:0], CUTOFF, CFG)
    assert ex[fc.LABEL_CHURN].tolist() == [1, 1, 1] and ex[fc.LABEL_SPEND].sum() == 0.0
    assert next_items(FUTURE.iloc[:0], profiles_at_cutoff(), CUTOFF, CFG).empty


def test_interactions_weight_by_event_type() -> None:
    ev = pd.concat([PAST, FUTURE], ignore_index=True)
    ev.loc[0, contract.USER_ID] = None
    out = interactions(ev, TrainingDataConfig(view_weight=0.5))
    assert len(out) == len(ev) - 1  # the anonymous event
    assert out[fc.WEIGHT].tolist()[:3] == [4.0, 4.0, 0.5]
    assert out[contract.TS].is_monotonic_increasing
    assert out[contract.TS].dtype == contract.TS_DTYPE


def test_training_cutoff_defaults_to_ds_minus_horizon_and_checks_overrides() -> None:
    ds = dt.date(2024, 6, 30)
    assert training_cutoff(ds, TrainingDataConfig()) == dt.date(2024, 4, 1)
    assert training_cutoff(ds, TrainingDataConfig(cutoff="2024-03-01")) == dt.date(2024, 3, 1)
    with pytest.raises(ConfigError, match="cutoff"):
        training_cutoff(ds, TrainingDataConfig(cutoff="2024-06-01"))


def test_configs_name_the_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="trend_days"):
        FeatureConfig(trend_days=0)
    with pytest.raises(ConfigError, match="popularity_windows"):
        FeatureConfig(popularity_windows=(7, 7))
    with pytest.raises(ConfigError, match="view_weight"):
        TrainingDataConfig(view_weight=-1)
