"""The forecast monitor on a table the forecast stage really published (tests/forecast's shop)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import catalog, storage
from ecom_tasks.forecast.stage import train_forecast
from ecom_tasks.monitoring import stage
from ecom_tasks.monitoring.config import MonitorConfig
from ecom_tasks.monitoring.monitors import MONITORS
from ecom_tasks.publish import outputs
from ecom_tasks.publish.specs import ModelSpec
from tests.forecast import shop
from tests.forecast.conftest import CONFIG, DS, N_DAYS, write_shop

FORECAST = next(m for m in MONITORS if m.model == catalog.FORECAST)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two days more than the forecast reads (the ones judged); the forecast of DS published."""
    root = str(tmp_path_factory.mktemp("forecast_monitor") / "data")
    write_shop(root, N_DAYS + 2)
    train_forecast(root, DS, CONFIG)  # reads up to the end of DS only
    spec = ModelSpec(catalog.FORECAST, output_tables=(catalog.DEMAND_FORECAST,))
    outputs.move_pointer(root, spec, "1", DS, require_outputs=True)
    return root


@pytest.mark.parametrize("ahead", [1, 2])
def test_the_published_forecast_is_judged_on_the_units_sold(published: str, ahead: int) -> None:
    day = dt.date.fromisoformat(DS) + dt.timedelta(days=ahead)
    row = stage.judge_forecasts(published, day, FORECAST, MonitorConfig(min_examples=1))
    table = storage.read_partition(outputs.output_uri(published, catalog.DEMAND_FORECAST, DS))
    rows = table[pd.to_datetime(table["day"]).dt.date == day].set_index("item_id")
    units = shop.poisson_units(25, N_DAYS + 2)  # what write_shop sold, per item and day
    sold = np.array([units[str(i)][N_DAYS - 1 + ahead] for i in rows.index])
    assert row["published_ds"] == DS and row["forecasts_judged"] == 1 and row["item_days"] == 25
    assert row["actual_units"] == sold.sum() and row["unforecast_units"] == 0
    assert row["wape"] == pytest.approx(np.abs(rows["p50"].to_numpy() - sold).sum() / sold.sum())
    assert row["wape_days_1_7"] == pytest.approx(row["wape"]) and np.isnan(row["wape_days_8_14"])
    inside = (sold >= rows["p10"].to_numpy()) & (sold <= rows["p90"].to_numpy())
    assert row["coverage_80"] == pytest.approx(inside.mean())


def test_a_day_before_the_publication_is_not_judged(published: str) -> None:
    with pytest.raises(stage.UnjudgedError, match="no demand_forecast was current"):
        stage.judge_forecasts(published, dt.date.fromisoformat(DS), FORECAST, MonitorConfig())
