"""Features on the real UCI Online Retail II history (skipped where ../shared/data is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import rfm_aggregate, summarise
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.items import item_features
from ecom_tasks.features.profiles import customer_profiles

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def test_profiles_and_item_features_on_online_retail_ii(online_retail_ii: Path) -> None:
    online_retail = pytest.importorskip("ecom_tasks.sources.online_retail")
    shop = online_retail.read_online_retail(online_retail_ii)
    ev = shop.events
    ds = ev[contract.TS].max().date()
    state = summarise(ev, ds, FeatureConfig())
    prof, _ = customer_profiles(state, shop.users, shop.items)
    feats = item_features(state, shop.items)
    assert len(prof) == shop.users[contract.USER_ID].nunique()
    assert len(feats) == shop.items[contract.ITEM_ID].nunique()
    for frame in (prof, feats):
        numeric = frame.select_dtypes("number")
        assert not numeric.isna().any().any() and np.isfinite(numeric.to_numpy(float)).all()
    buyers = prof[prof[fc.HAS_PURCHASE] == 1]
    assert (buyers[fc.R_SCORE].between(1, 5)).all() and (buyers[fc.SEGMENT] != "no_purchase").all()
    # Customers' purchase value adds up to the value of the known customers' purchase lines.
    bought = ev[(ev[contract.EVENT_TYPE] == contract.PURCHASE) & ev[contract.USER_ID].notna()]
    total = (bought[contract.QUANTITY] * bought[contract.UNIT_PRICE]).sum()
    assert prof[fc.GROSS_VALUE].sum() == pytest.approx(total, rel=1e-9)
    rfm = rfm_aggregate(ev).set_index(contract.USER_ID)
    assert rfm[fc.N_ORDERS].sum() == buyers[fc.FREQUENCY].sum()
    assert feats[fc.TITLE_TOKENS].str.len().gt(0).mean() > 0.95
