"""A small built-in shop (with its configured dirt) as validated partitions, and one stage run on it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ecom_tasks import catalog, contract, storage
from ecom_tasks.anomalies.config import AnomalyConfig
from ecom_tasks.sources.synthetic import SyntheticShopConfig
from ecom_tasks.sources.synthetic.generate import generate

START = dt.date(2024, 1, 1)
N_DAYS = 84
DS = (START + dt.timedelta(days=N_DAYS - 1)).isoformat()
# The shop's own dirt, five times its default rates so that a three-week test window holds some.
SHOP = SyntheticShopConfig(
    seed=7,
    start_date=START.isoformat(),
    n_users=500,
    n_items=100,
    zero_price_rate=0.01,
    missing_user_rate=0.01,
)
CONFIG = AnomalyConfig(test_days=21, valid_days=14, min_train_orders=100)


def write_shop(root: str, config: SyntheticShopConfig = SHOP, n_days: int = N_DAYS) -> None:
    """The shop's days as validated partitions: what validation keeps (duplicate event ids and
    unknown items quarantined; zero prices and purchases without a customer kept)."""
    last = START + dt.timedelta(days=n_days - 1)
    for day, tables in generate(config, START, last):
        items = tables.items
        ev = tables.events.drop_duplicates(contract.EVENT_ID)
        ev = ev[ev[contract.ITEM_ID].isin(items[contract.ITEM_ID])].reset_index(drop=True)
        for table, frame in ((contract.EVENTS, ev), (contract.ITEMS, items), (contract.USERS, tables.users)):
            uri = storage.partition_uri(root, catalog.VALIDATED, table, day)
            storage.write_partition(frame.reset_index(drop=True), uri, source="test")


@pytest.fixture(scope="session")
def shop_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = str(tmp_path_factory.mktemp("anomaly_shop"))
    write_shop(root)
    return root


@pytest.fixture(scope="session")
def stage_run(shop_root: str) -> dict:
    from ecom_tasks.anomalies.stage import train_anomalies

    return train_anomalies(shop_root, DS, CONFIG, None)


def day_frame(*rows: tuple) -> pd.DataFrame:
    """Purchase lines (ts, user, item, quantity, unit price, order, country) as the stage reads them."""
    from ecom_tasks.anomalies.data import purchase_lines

    cols = [contract.TS, contract.USER_ID, contract.ITEM_ID, contract.QUANTITY, contract.UNIT_PRICE]
    frame = pd.DataFrame(rows, columns=[*cols, contract.ORDER_ID, contract.COUNTRY])
    frame[contract.TS] = pd.to_datetime(frame[contract.TS], utc=True)
    frame[contract.EVENT_TYPE] = contract.PURCHASE
    for c in (contract.USER_ID, contract.ITEM_ID, contract.ORDER_ID, contract.COUNTRY, contract.EVENT_TYPE):
        frame[c] = frame[c].astype("string")
    return purchase_lines(frame)
