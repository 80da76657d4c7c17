"""Training data and bad inputs: zeros, returns, free lines, missing days, short series."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.forecast import backtest, data, models
from ecom_tasks.forecast import config as fcfg
from ecom_tasks.forecast.config import ForecastConfig
from tests.forecast import shop
from tests.validated_shop import write_validated

DS = shop.START + dt.timedelta(days=9)


def test_every_day_of_an_items_life_is_present_with_zeros_and_returns_apart() -> None:
    ev = shop.events({"a": [0, 2, 0, 0, 1, 0, 0, 0, 0, 0], "b": [0, 0, 0, 0, 0, 0, 0, 0, 0, 5]})
    ret = ev.iloc[[0]].copy()
    ret[contract.EVENT_TYPE], ret[contract.QUANTITY], ret[contract.EVENT_ID] = contract.RETURN, -1, "r"
    free = ev.iloc[[1]].copy()
    free[contract.UNIT_PRICE], free[contract.EVENT_ID] = 0.0, "free"
    later = shop.events({"a": [0] * 10 + [99]})  # after ds: never read
    demand = data.from_events(pd.concat([ev, ret, free, later]), shop.items(["a", "b"]), DS)
    assert list(demand.items) == ["a", "b"] and len(demand.days) == 9  # first sale (day 1) .. ds
    assert demand.units[0].tolist() == [2, 0, 0, 1 + 1, 0, 0, 0, 0, 0]  # the free line is demand
    assert demand.returns[0].sum() == 1.0  # kept apart, as a positive count
    assert demand.price[0, 3] == 2.0  # the free line is not a price: mean of the priced units only
    assert demand.first.tolist() == [0, 8]  # b is brand new: its life starts on its first sale
    assert demand.category.tolist() == ["mugs", "mugs"]


def test_a_day_without_a_partition_is_a_day_of_zero_demand(data_root: str) -> None:
    units = shop.poisson_units(2, 10)
    ev = shop.events(units)
    write_validated(data_root, shop.START, 10, ev, shop.items(list(units)), shop.users())
    import shutil

    from ecom_tasks import storage

    shutil.rmtree(storage.partition_uri(data_root, "validated", "events", shop.START + dt.timedelta(days=4)))
    demand = data.load(data_root, DS)
    assert demand.days_without_data == 1
    assert demand.units[:, 4 - demand.first.min()].sum() == 0


def test_no_purchase_at_all_is_not_enough_data() -> None:
    with pytest.raises(data.ForecastDataError, match="no purchases"):
        data.from_events(shop.events({"a": [0, 0]}), None, DS)


def test_caps_come_from_the_history_they_are_given() -> None:
    units = np.array([[1.0, 2.0, 1.0, 2.0, 100.0], [0.0, 0.0, 0.0, 0.0, 3.0]])
    alive = np.ones_like(units, dtype=bool)
    caps = data.caps(units, alive, 3.0)
    assert caps[0] == pytest.approx(3.0 * np.quantile([1, 2, 1, 2, 100], 0.9))
    assert caps[1] == np.inf  # one sale says nothing about what is unusual
    assert np.all(data.caps(units, alive, None) == np.inf)


def _demand(rows: dict[str, list[float]], first: list[int]) -> data.Demand:
    n = len(next(iter(rows.values())))
    return data.Demand(
        items=np.array(list(rows)),
        days=pd.date_range("2024-01-01", periods=n),
        units=np.array(list(rows.values()), dtype=float),
        returns=np.zeros((len(rows), n)),
        price=np.full((len(rows), n), np.nan),
        first=np.array(first),
        category=np.array(["c"] * len(rows)),
    )


@pytest.mark.parametrize("name", (*fcfg.STATS_MODELS, fcfg.GLOBAL_NOEMB))
def test_one_sale_only_zeros_and_brand_new_items_get_defined_forecasts(name: str) -> None:
    rng = np.random.default_rng(1)
    n = 60
    rows = {f"r{i}": rng.poisson(2, n).astype(float).tolist() for i in range(25)}
    rows["one_sale"] = [0.0] * 20 + [4.0] + [0.0] * 39
    rows["zeros_lately"] = [1.0] + [0.0] * 59  # alive, but only zeros since its first day
    rows["brand_new"] = [0.0] * 57 + [3.0, 0.0, 1.0]  # first sale three days before the cutoff
    rows["unborn"] = [0.0] * 60
    first = [0] * 25 + [20, 0, 57, 60]
    demand = _demand(rows, first)
    fit = models.prepare(demand, n, ForecastConfig())
    f = models.forecast(name, demand, fit, 7, ForecastConfig())
    assert f.shape == (29, 7) and np.all(np.isfinite(f)) and np.all(f >= 0)
    assert np.all(f[-1] == 0)  # not born before the cutoff: zero
    if name in fcfg.STATS_MODELS:
        assert f[-2] == pytest.approx([4.0 / 3] * 7)  # under two weeks of life: the mean of its days


def test_too_short_a_history_is_not_enough_data() -> None:
    with pytest.raises(data.ForecastDataError, match="forecast_horizon_days=28: the backtest needs 84 days"):
        backtest.windows(50, ForecastConfig())


def test_a_window_with_too_few_items_sold_is_not_enough_data() -> None:
    rows = {f"r{i}": [1.0] * 80 + [0.0] * 20 for i in range(25)}  # nobody buys in the last 20 days
    demand = _demand(rows, [0] * 25)
    config = ForecastConfig(horizon_days=14)
    with pytest.raises(data.ForecastDataError, match="0 items sold in the test window"):
        backtest.run(demand, config, None, candidates=("snaive",))
