"""Profile features of the retrieval model on a first run: as of the last training day, never later.

The feature stage writes ``customer_profiles`` only for the days it ran; on a first nightly run,
after a gap or in a backfill there is none for the last training day, and the model used to
train without profile features. ``build_training_data`` now writes them for ``ds``.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from ecom_tasks import storage
from ecom_tasks.features.config import FeatureConfig, TrainingDataConfig
from ecom_tasks.features.stage import PROFILES, TRAINING_PROFILES, build_features, build_training_data
from ecom_tasks.retrieval import data, inputs
from ecom_tasks.retrieval.config import VOCABULARIES_FILE, RetrievalConfig
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.features.conftest import random_shop, shop_days, write_shop
from tests.retrieval.conftest import tiny_config

DAYS = shop_days(12)
DS = DAYS[-1]
HOLDOUT = 2
LAST_TRAIN_DAY = DS - dt.timedelta(days=HOLDOUT)
TRAINING = TrainingDataConfig(
    churn_horizon_days=4,
    repurchase_days=2,
    next_items_days=2,
    interaction_days=None,
    retrieval_holdout_days=HOLDOUT,
    features=FeatureConfig(trend_days=2, popularity_windows=(2, 4), min_pair_orders=1, write_report=False),
)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """The first nightly run of a shop with 12 days of history: features of ``DS`` only."""
    root = str(tmp_path_factory.mktemp("first_run") / "data")
    write_shop(root, *random_shop(n_days=12), DAYS)
    build_features(root, DS.isoformat(), TRAINING.features)
    build_training_data(root, DS.isoformat(), TRAINING)
    config = tiny_config(holdout_days=HOLDOUT, max_epochs=1, num_sampled=8)
    return root, pretrain_retrieval(root, DS.isoformat(), config)


def test_a_first_run_trains_with_profile_features_as_of_the_last_training_day(first_run) -> None:
    root, run = first_run
    assert storage.read_manifest(storage.partition_uri(root, "features", PROFILES, LAST_TRAIN_DAY)) is None
    uri = storage.partition_uri(root, "features", TRAINING_PROFILES, DS)
    assert run["profiles_uri"] == uri and run["user_features"] > 0
    names = storage.read_json(f"{run['model_uri']}/{VOCABULARIES_FILE}")["user_feature_names"]
    assert names == data.stable_feature_names(storage.read_partition(uri))
    assert storage.read_json(f"{run['model_uri']}/history.json")["user_feature_names"] == names


def test_profiles_of_another_day_are_never_used(first_run, tmp_path) -> None:
    root = str(shutil.copytree(first_run[0], tmp_path / "data"))
    # A holdout other than the features stage's: its training_profiles are as of another day, and
    # the profiles of ds (a later day than the last training day) are not a substitute.
    other_day = DS - dt.timedelta(days=1)
    assert inputs.read_profiles(root, DS, other_day) == (None, None)
    build_features(root, other_day.isoformat(), TRAINING.features)
    frame, uri = inputs.read_profiles(root, DS, other_day)
    assert uri == storage.partition_uri(root, "features", PROFILES, other_day) and len(frame)


def test_the_retrieval_holdout_defaults_to_the_feature_stage_one() -> None:
    assert RetrievalConfig().holdout_days == TrainingDataConfig().retrieval_holdout_days
