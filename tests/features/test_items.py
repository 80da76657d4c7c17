"""Item features: title tokens, missing titles, zero prices, popularity windows, repeat rate."""

from __future__ import annotations

import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.items import item_features, title_tokens
from tests.features.conftest import events, items

CFG = FeatureConfig(popularity_windows=(1, 7))
CATALOGUE = items(
    [
        ("i1", "  Red  Mug, 12oz (Set/2) ", "kitchen", 5.0, "2023-12-01T00:00Z"),
        ("i2", None, None, 0.0, "2024-01-09T00:00Z"),
        ("i3", "", "home", 9.0, "2023-12-01T00:00Z"),
    ]
)
EVENTS = events(
    [
        ("e1", "2024-01-01T10:00Z", "u1", "s1", "i1", "purchase", 2, 4.0, "o1", None),
        ("e2", "2024-01-09T10:00Z", "u1", "s2", "i1", "purchase", 1, 6.0, "o2", None),
        ("e3", "2024-01-10T10:00Z", "u2", "s3", "i1", "purchase", 1, 0.0, "o3", None),
        ("e4", "2024-01-10T11:00Z", "u2", "s3", "i1", "view", 1, 5.0, None, None),
        ("e5", "2024-01-10T11:00Z", None, "s4", "i2", "purchase", 1, 0.0, "o4", None),
        ("e6", "2024-01-10T12:00Z", "u2", "s3", "i1", "return", -1, 6.0, "c3", None),
        ("e7", "2024-01-10T12:00Z", "u3", "s5", "i4", "add_to_cart", 1, 2.0, None, None),
    ]
)


@pytest.fixture(scope="module")
def feats() -> pd.DataFrame:
    return item_features(summarise(EVENTS, "2024-01-10", CFG), CATALOGUE, CFG).set_index(contract.ITEM_ID)


def test_title_tokens_are_normalised_and_truncated() -> None:
    titles = pd.Series(["  Red  Mug, 12oz (Set/2) ", None, "Crème_brûlée DISH", "a b c d"], dtype="string")
    assert title_tokens(titles, 16).tolist() == ["red mug 12oz set 2", "", "crème brûlée dish", "a b c d"]
    assert title_tokens(titles, 2).tolist()[3] == "a b"


def test_price_statistics_skip_zero_prices(feats: pd.DataFrame) -> None:
    i1 = feats.loc["i1"]
    assert i1[fc.HAS_PRICE_HISTORY] == 1 and i1[fc.N_ZERO_PRICE_LINES] == 1
    assert i1[fc.PRICE_MEAN] == 5.0 and i1[fc.PRICE_MIN] == 4.0 and i1[fc.PRICE_MAX] == 6.0
    assert i1[fc.PRICE_STD] == pytest.approx(1.0)


def test_item_without_title_or_price_history(feats: pd.DataFrame) -> None:
    i2 = feats.loc["i2"]
    assert i2[fc.HAS_TITLE] == 0 and i2[fc.TITLE_TOKENS] == "" and i2[contract.TITLE] == ""
    assert i2[fc.ZERO_PRICE] == 1 and i2[fc.HAS_PRICE_HISTORY] == 0 and i2[fc.PRICE_MEAN] == 0.0
    assert i2[contract.CATEGORY] == fc.UNKNOWN and i2[fc.N_BUYERS] == 0  # bought anonymously
    assert i2[fc.AGE_DAYS] == pytest.approx(2.0)
    i3 = feats.loc["i3"]
    assert i3[fc.HAS_TITLE] == 0 and i3[fc.PRICE_MEAN] == 9.0 and i3[fc.PRICE_STD] == 0.0


def test_item_seen_only_in_events(feats: pd.DataFrame) -> None:
    i4 = feats.loc["i4"]
    assert i4[contract.CATEGORY] == fc.UNKNOWN and i4[contract.PRICE] == 0.0 and i4[fc.N_CARTS] == 1
    assert i4[fc.AGE_DAYS] == pytest.approx(0.5)  # first seen = first event


def test_popularity_windows_and_repeat_rate(feats: pd.DataFrame) -> None:
    i1 = feats.loc["i1"]
    assert i1["purchases_1d"] == 1 and i1["purchases_7d"] == 2 and i1["views_1d"] == 1
    assert i1[fc.N_PURCHASE_LINES] == 3 and i1[fc.UNITS] == 4 and i1[fc.REVENUE] == pytest.approx(14.0)
    assert i1[fc.N_BUYERS] == 2 and i1[fc.N_REPEAT_BUYERS] == 1 and i1[fc.REPEAT_PURCHASE_RATE] == 0.5
    assert i1[fc.RETURN_RATE] == pytest.approx(0.25)


def test_no_nan_anywhere(feats: pd.DataFrame) -> None:
    assert not feats.isna().any().any()
    assert list(feats.index) == sorted(feats.index)
