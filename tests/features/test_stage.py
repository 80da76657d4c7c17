"""The task functions on a small shop in a data root: incremental = rebuild, point-in-time
correctness, backfills, stale state, bad input and the report."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract, storage
from ecom_tasks.catalog import ANALYTICS_TABLES
from ecom_tasks.features import columns as fc
from ecom_tasks.features.config import FeatureConfig, TrainingDataConfig
from ecom_tasks.features.stage import (
    EXAMPLES,
    INTERACTIONS,
    ITEM_FEATURES,
    NEXT_ITEMS,
    PROFILES,
    TRAINING_PROFILES,
    build_features,
    build_training_data,
)
from ecom_tasks.features.state import STATE_TABLES
from tests.features.conftest import random_shop, shop_days, write_shop

CFG = FeatureConfig(
    trend_days=2, popularity_windows=(2, 4), basket_days=3, min_pair_orders=1, write_report=False
)
OUTPUTS = (PROFILES, ITEM_FEATURES, *ANALYTICS_TABLES, *(f"state_{t}" for t in STATE_TABLES))


def outputs(root: str, ds: dt.date) -> dict[str, pd.DataFrame]:
    return {t: storage.read_partition(storage.partition_uri(root, "features", t, ds)) for t in OUTPUTS}


def assert_same_outputs(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for table in OUTPUTS:
        pd.testing.assert_frame_equal(a[table], b[table], check_exact=False, rtol=1e-9, obj=table)


def test_incremental_run_equals_rebuild_and_backfill_computes_as_of_its_date(
    data_root: str, tmp_path: Path
) -> None:
    ev, it, us = random_shop(n_days=8)
    days = shop_days(8)
    write_shop(data_root, ev, it, us, days)
    modes = [build_features(data_root, d.isoformat(), CFG)["state"] for d in days]
    assert modes == ["rebuilt"] + ["incremental"] * 7  # day 5 is empty and day 7 has no purchases
    other = str(tmp_path / "other")
    write_shop(other, ev, it, us, days)
    rebuilt = build_features(other, days[-1].isoformat(), CFG)
    assert rebuilt["state"] == "rebuilt" and rebuilt["partitions_read"] == 8
    assert_same_outputs(outputs(data_root, days[-1]), outputs(other, days[-1]))
    # A backfill of an old date with no state before it computes as of that date.
    assert build_features(other, days[2].isoformat(), CFG)["partitions_read"] == 3
    assert_same_outputs(outputs(data_root, days[2]), outputs(other, days[2]))
    funnel = outputs(other, days[-1])["funnel_daily"].set_index(fc.DAY)
    assert funnel.loc[pd.Timestamp(days[4], tz="UTC"), fc.N_EVENTS] == 0
    assert funnel.loc[pd.Timestamp(days[6], tz="UTC"), fc.N_ORDERS] == 0


def test_later_data_never_changes_features(data_root: str, tmp_path: Path) -> None:
    ev, it, us = random_shop(n_days=8)
    days = shop_days(8)
    write_shop(data_root, ev, it, us, days)
    for d in days[:5]:
        build_features(data_root, d.isoformat(), CFG)
    before = outputs(data_root, days[4])
    # Change everything after day 5: prices, quantities, new buyers, new users and items.
    later = ev[contract.TS] >= pd.Timestamp(days[5], tz="UTC")
    changed = ev.copy()
    changed.loc[later, contract.UNIT_PRICE] = 99.0
    changed.loc[later, contract.EVENT_TYPE] = "purchase"
    changed.loc[later, contract.ORDER_ID] = "late-order"
    changed.loc[later, contract.USER_ID] = "u00"
    it2 = pd.concat([it, it.iloc[[0]].assign(item_id="new", first_seen=pd.Timestamp(days[6], tz="UTC"))])
    other = str(tmp_path / "other")
    write_shop(other, changed, it2, us, days)
    assert build_features(other, days[4].isoformat(), CFG)["state"] == "rebuilt"
    assert_same_outputs(before, outputs(other, days[4]))


def test_revalidated_day_invalidates_the_running_state(data_root: str, tmp_path: Path) -> None:
    ev, it, us = random_shop(n_days=6)
    days = shop_days(6)
    write_shop(data_root, ev, it, us, days)
    for d in days[:5]:
        build_features(data_root, d.isoformat(), CFG)
    first_day = ev[contract.TS].dt.date == days[0]
    fixed = ev[~first_day | (ev[contract.EVENT_TYPE] != "purchase")].reset_index(drop=True)
    write_shop(data_root, fixed, it, us, days[:1])  # validation re-ran day 1 and dropped its purchases
    assert build_features(data_root, days[5].isoformat(), CFG)["state"] == "rebuilt"
    other = str(tmp_path / "other")
    write_shop(other, fixed, it, us, days)
    build_features(other, days[5].isoformat(), CFG)
    assert_same_outputs(outputs(data_root, days[5]), outputs(other, days[5]))


def test_missing_validated_partition_is_named(data_root: str) -> None:
    with pytest.raises(FileNotFoundError, match=r"validated/events/ds=2024-01-01"):
        build_features(data_root, "2024-01-01", CFG)


def test_report_stands_alone(data_root: str) -> None:
    ev, it, us = random_shop(n_days=4)
    days = shop_days(4)
    write_shop(data_root, ev, it, us, days)
    result = build_features(data_root, days[-1].isoformat(), FeatureConfig(min_pair_orders=1))
    uri = result["uris"]["report"]
    assert uri.endswith("reports/behaviour/ds=2024-01-04/report.html")
    page = Path(uri).read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 5
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from elsewhere
    assert "Bought together" in page and "2024-01-04" in page
    assert "amounts in currency units" in page and "href='../'" in page  # no known currency; a way back


def test_report_currency_comes_from_the_source(tmp_path: Path) -> None:
    from ecom_tasks import contract, storage
    from ecom_tasks.features.report import shop_currency

    day = shop_days(1)[0]
    uri = storage.partition_uri(str(tmp_path), "raw", contract.EVENTS, day)
    assert shop_currency(str(tmp_path), day) is None  # nothing landed: unknown
    storage.write_partition(contract.empty_frame(contract.EVENTS), uri, source="online_retail")
    assert shop_currency(str(tmp_path), day) == "GBP"


def test_training_data_is_point_in_time(data_root: str, tmp_path: Path) -> None:
    ev, it, us = random_shop(n_days=12)
    days = shop_days(12)
    config = TrainingDataConfig(churn_horizon_days=6, repurchase_days=3, next_items_days=3, features=CFG)
    write_shop(data_root, ev, it, us, days)
    result = build_training_data(data_root, days[-1].isoformat(), config)
    assert result["cutoff"] == days[5].isoformat() and result["examples"] > 0 and result["interactions"] > 0
    read = lambda root, t: storage.read_partition(storage.partition_uri(root, "features", t, days[-1]))  # noqa: E731
    examples = read(data_root, EXAMPLES)
    assert set(read(data_root, INTERACTIONS)[fc.WEIGHT]) <= {1.0, 2.0, 4.0}
    assert not examples.isna().any().any()
    # Change every event after the cutoff: the features stay, the labels follow the new data.
    later = ev[contract.TS] >= pd.Timestamp(days[6], tz="UTC")
    changed = ev.copy()
    changed.loc[later, contract.EVENT_TYPE] = "view"
    changed.loc[later, contract.UNIT_PRICE] = 1234.0
    other = str(tmp_path / "other")
    write_shop(other, changed, it, us, days)
    build_training_data(other, days[-1].isoformat(), config)
    again = read(other, EXAMPLES)
    labels = [fc.LABEL_CHURN, fc.LABEL_REPURCHASE, fc.LABEL_ORDERS, fc.LABEL_SPEND]
    pd.testing.assert_frame_equal(examples.drop(columns=labels), again.drop(columns=labels))
    assert again[fc.LABEL_CHURN].all() and not examples[fc.LABEL_CHURN].all()
    assert read(other, NEXT_ITEMS).empty and not read(data_root, NEXT_ITEMS).empty


def test_training_reuses_the_stored_state_of_the_cutoff(data_root: str) -> None:
    ev, it, us = random_shop(n_days=9)
    days = shop_days(9)
    write_shop(data_root, ev, it, us, days)
    config = TrainingDataConfig(churn_horizon_days=4, repurchase_days=2, next_items_days=2, features=CFG)
    build_features(data_root, days[4].isoformat(), CFG)  # the nightly run of the cutoff day
    first = build_training_data(data_root, days[-1].isoformat(), config)
    assert first["cutoff"] == days[4].isoformat() and first["state"] == "stored"
    # A cutoff on a day without snapshots falls back to the last earlier snapshot.
    for table in ("users", "items"):
        shutil.rmtree(Path(storage.partition_uri(data_root, "validated", table, days[4])))
    again = build_training_data(data_root, days[-1].isoformat(), config)
    assert again["examples"] == first["examples"]


def test_training_profiles_are_as_of_the_retrieval_cutoff_even_on_a_first_run(
    data_root: str, tmp_path: Path
) -> None:
    ev, it, us = random_shop(n_days=12)
    days = shop_days(12)
    config = TrainingDataConfig(
        churn_horizon_days=6, repurchase_days=3, next_items_days=3, retrieval_holdout_days=3, features=CFG
    )
    write_shop(data_root, ev, it, us, days)
    # A first run (or a backfill): build_features never ran for the retrieval cutoff day.
    result = build_training_data(data_root, days[-1].isoformat(), config)
    as_of = days[-4]
    assert result["profiles_as_of"] == as_of.isoformat() and result["profiles"] > 0
    uri = storage.partition_uri(data_root, "features", TRAINING_PROFILES, days[-1])
    assert storage.read_manifest(uri).extra["as_of"] == as_of.isoformat()
    got = storage.read_partition(uri)
    # The profiles the nightly run of that day wrote, blind to every later event.
    later = ev[contract.TS] >= pd.Timestamp(days[-3], tz="UTC")
    changed = ev.copy()
    changed.loc[later, contract.UNIT_PRICE] = 99.0
    changed.loc[later, contract.EVENT_TYPE] = "purchase"
    changed.loc[later, contract.ORDER_ID] = "late-order"
    changed.loc[later, contract.USER_ID] = "u00"
    other = str(tmp_path / "other")
    write_shop(other, changed, it, us, days)
    build_features(other, as_of.isoformat(), CFG)
    read = lambda root, t, d: storage.read_partition(storage.partition_uri(root, "features", t, d))  # noqa: E731
    pd.testing.assert_frame_equal(got, read(other, PROFILES, as_of))
    build_training_data(other, days[-1].isoformat(), config)  # from the stored state this time
    pd.testing.assert_frame_equal(got, read(other, TRAINING_PROFILES, days[-1]))
