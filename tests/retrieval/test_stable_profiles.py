"""The query tower reads only the profile columns that mean the same thing every day.

The backbone trains on the profiles of the last training day and is served and evaluated with
other days' profiles (champion scoring, ranking, heads). Profiles here are the feature stage's own
(``customer_profiles``) with one affinity category, so the ``cat_share_*`` column of day A is gone
on day B once another category leads.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract, storage
from ecom_tasks.contract import CATEGORY, FIRST_SEEN, ITEM_ID, TS, USER_ID
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.profiles import customer_profiles
from ecom_tasks.retrieval import backbone as bb
from ecom_tasks.retrieval import champion, data
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    INTERACTIONS_TABLE,
    ITEM_FEATURES_TABLE,
    SERVING_FEATURES,
    USER_FEATURES_TABLE,
    VOCABULARIES_FILE,
)
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.retrieval.conftest import catalogue, tiny_config, walks

DS = "2024-03-04"
DAY_A, DAY_B = "2024-03-03", "2024-03-05"  # the last training day, and a later serving day
AS_OF_B = pd.Timestamp("2024-03-06", tz="UTC")
CFG = FeatureConfig(top_categories=1)
UNSTABLE = (fc.R_SCORE, fc.F_SCORE, fc.M_SCORE, fc.RFM_CELL, fc.PREFERRED_HOUR, fc.PREFERRED_WEEKDAY)


def _events(interactions: pd.DataFrame) -> pd.DataFrame:
    """Each interaction as a one-line purchase order (canonical events)."""
    n = len(interactions)
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            TS: interactions[TS].to_numpy(),
            USER_ID: interactions[USER_ID].to_numpy(),
            "session_id": [f"s{i}" for i in range(n)],
            ITEM_ID: interactions[ITEM_ID].to_numpy(),
            "event_type": "purchase",
            "quantity": 1,
            "unit_price": 2.0,
            "order_id": [f"o{i}" for i in range(n)],
            "country": "GB",
        }
    )
    return contract.conform(frame, contract.EVENTS)


def _catalogue() -> pd.DataFrame:
    items = catalogue()
    items["price"] = 2.0
    items[FIRST_SEEN] = pd.Timestamp("2024-01-01", tz="UTC")
    return contract.conform(items, contract.ITEMS)


def _users(interactions: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(interactions[USER_ID].unique())
    frame = pd.DataFrame({USER_ID: ids, FIRST_SEEN: pd.Timestamp("2024-02-01", tz="UTC"), "country": "GB"})
    return contract.conform(frame, contract.USERS)


def _share_columns(profiles: pd.DataFrame) -> set[str]:
    return {c for c in profiles.columns if c.startswith(fc.CAT_SHARE_PREFIX) and c != fc.CAT_SHARE_OTHER}


@pytest.fixture(scope="module")
def days() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Interactions, and the profiles of day A and of day B (whose top category differs)."""
    interactions = walks()
    items, users = _catalogue(), _users(interactions)
    profiles_a, (top_a,) = customer_profiles(summarise(_events(interactions), DAY_A, CFG), users, items, CFG)
    # On day B everyone buys twice from another category, which becomes the top one.
    other = items.loc[items[CATEGORY] != top_a, ITEM_ID].iloc[0]
    extra = pd.DataFrame(
        {
            USER_ID: np.repeat(users[USER_ID].to_numpy(), 2),
            ITEM_ID: other,
            TS: pd.Timestamp(f"{DAY_B}T10:00", tz="UTC"),
        }
    )
    both = pd.concat([interactions[[USER_ID, ITEM_ID, TS]], extra], ignore_index=True)
    profiles_b, (top_b,) = customer_profiles(summarise(_events(both), DAY_B, CFG), users, items, CFG)
    assert top_a != top_b and _share_columns(profiles_a).isdisjoint(_share_columns(profiles_b))
    return interactions, profiles_a, profiles_b


@pytest.fixture(scope="module")
def trained_on_day_a(days, tmp_path_factory) -> tuple[str, dict]:
    """``pretrain_retrieval`` for DS, reading day A's customer profiles (the last training day)."""
    interactions, profiles_a, _ = days
    root = str(tmp_path_factory.mktemp("stable") / "data")
    for table, frame, day in (
        (INTERACTIONS_TABLE, interactions, DS),
        (ITEM_FEATURES_TABLE, catalogue(), DS),
        (USER_FEATURES_TABLE, profiles_a, DAY_A),
    ):
        storage.write_partition(frame, storage.partition_uri(root, FEATURES_STAGE, table, day), source="test")
    return root, pretrain_retrieval(root, DS, tiny_config(num_sampled=16, max_epochs=1))


def test_the_feature_list_is_the_stable_profile_columns(days) -> None:
    _, profiles, _ = days
    assert set(fc.STABLE_PROFILE_FEATURES) <= set(profiles.columns)  # the list names real columns
    vocabs = data.build_vocabularies(walks(), None, profiles, tiny_config())
    assert vocabs.user_feature_names == list(fc.STABLE_PROFILE_FEATURES)
    assert not any(c.startswith(fc.CAT_SHARE_PREFIX) for c in vocabs.user_feature_names)
    assert not set(UNSTABLE) & set(vocabs.user_feature_names)
    # Present ones only, in the contract's order whatever the frame's.
    some = profiles[[USER_ID, fc.FREQUENCY, fc.CAT_SHARE_OTHER, fc.R_SCORE, fc.RECENCY_DAYS]]
    assert data.build_vocabularies(walks(), None, some, tiny_config()).user_feature_names == [
        fc.RECENCY_DAYS,
        fc.FREQUENCY,
    ]


def test_a_backbone_of_day_a_serves_day_b_profiles(days, trained_on_day_a) -> None:
    interactions, profiles_a, profiles_b = days
    _, run = trained_on_day_a
    backbone = bb.load_backbone(run["model_uri"])
    users = ["u3", "u7", "stranger"]
    inputs = backbone.query_inputs(interactions, profiles_b, users, AS_OF_B)  # a crash before
    assert backbone.feature_columns == list(fc.STABLE_PROFILE_FEATURES)
    assert run["user_features"] == len(fc.STABLE_PROFILE_FEATURES)
    expected = profiles_b.set_index(USER_ID).loc[["u3", "u7"], backbone.feature_columns].to_numpy(np.float32)
    np.testing.assert_allclose(inputs[SERVING_FEATURES][:2], expected)
    assert np.isnan(inputs[SERVING_FEATURES][2]).all()
    assert np.isfinite(backbone.query_vectors(inputs)).all()
    # Day B's features differ from day A's (the customers bought again): the frame was read.
    assert not np.allclose(
        inputs[SERVING_FEATURES][:2],
        profiles_a.set_index(USER_ID).loc[["u3", "u7"], backbone.feature_columns].to_numpy(np.float32),
    )
    history = interactions[interactions[TS] < AS_OF_B]
    metrics = champion.champion_metrics(
        backbone, history, profiles_b, ["u1", "u2"], [["i1"], ["i2"]], AS_OF_B
    )
    assert set(metrics) and all(np.isfinite(v) for v in metrics.values())


def _older_champion(run: dict, folder: str, columns: list[str]) -> str:
    """The model re-labelled as one trained on the old column set: its last columns renamed."""
    shutil.copytree(run["model_uri"], folder)
    vocabs = storage.read_json(f"{folder}/{VOCABULARIES_FILE}")
    names = vocabs["user_feature_names"]
    vocabs["user_feature_names"] = names[: len(names) - len(columns)] + columns
    with open(f"{folder}/{VOCABULARIES_FILE}", "w") as fh:
        json.dump(vocabs, fh)
    return folder


def test_an_older_champion_reads_its_own_columns_and_a_missing_one_is_unknown(
    days, trained_on_day_a, tmp_path
) -> None:
    interactions, profiles_a, profiles_b = days
    root, run = trained_on_day_a
    # A champion trained on the old column set of a day whose top category was day B's.
    (share_b,) = _share_columns(profiles_b)
    old = _older_champion(run, str(tmp_path / "old"), [fc.R_SCORE, share_b])
    backbone = bb.load_backbone(old)
    assert backbone.feature_columns[-2:] == [fc.R_SCORE, share_b]
    users = ["u3", "u7"]
    inputs = backbone.query_inputs(interactions, profiles_a, users, AS_OF_B)
    got = inputs[SERVING_FEATURES]
    assert np.isnan(got[:, -1]).all()  # day A has no column for day B's top category
    np.testing.assert_allclose(got[:, -2], profiles_a.set_index(USER_ID).loc[users, fc.R_SCORE])
    # Missing means unknown: the same query as the column given explicitly as NaN.
    explicit = backbone.query_inputs(interactions, profiles_a.assign(**{share_b: np.nan}), users, AS_OF_B)
    np.testing.assert_array_equal(backbone.query_vectors(inputs), backbone.query_vectors(explicit))
    # Tonight's pretraining (day A's profiles, without that column) scores it as the champion.
    tonight = pretrain_retrieval(root, DS, tiny_config(num_sampled=16, max_epochs=1), champion_uri=old)
    scored = storage.read_json(tonight["champion_metrics_uri"])
    assert scored["recall_at_20"] is not None and 0.0 <= scored["recall_at_20"] <= 1.0
