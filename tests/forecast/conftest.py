"""The forecast tests' shared trained shop: one training run, copied into each test's data root."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.stage import train_forecast
from tests.forecast import shop
from tests.validated_shop import write_validated

N_DAYS = 70
DS = (shop.START + dt.timedelta(days=N_DAYS - 1)).isoformat()
CONFIG = ForecastConfig(horizon_days=14, min_train_days=28, lgbm_estimators=20, fit_days=60)


def write_shop(root: str, n_days: int, seed: int = 0) -> None:
    """25 items of weekly-seasonal Poisson demand as validated partitions."""
    units = shop.poisson_units(25, n_days, seed)
    write_validated(root, shop.START, n_days, shop.events(units), shop.items(list(units)), shop.users())


@pytest.fixture(scope="session")
def trained_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    root = str(tmp_path_factory.mktemp("forecast") / "data")
    write_shop(root, N_DAYS)
    return root, train_forecast(root, DS, CONFIG)


@pytest.fixture
def trained(trained_once: tuple[str, dict], data_root: str) -> dict:
    """A copy of the trained root as ``data_root`` (tests may write into it), and the run's result."""
    root, result = trained_once
    shutil.rmtree(data_root)
    shutil.copytree(root, data_root)
    return {k: v.replace(root, data_root) if isinstance(v, str) else v for k, v in result.items()}
