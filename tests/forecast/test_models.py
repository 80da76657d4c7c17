"""The local models' handling of sparse series: AutoETS only where a series has enough sales."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.forecast import models
from ecom_tasks.forecast.config import ForecastConfig
from ecom_tasks.forecast.data import Demand

N = 60


def _demand() -> Demand:
    units = np.zeros((2, N))
    units[0, [50, 55]] = 7.0  # "a": two sales in 60 days
    units[1, :] = 5.0 + (np.arange(N) % 7 == 5)  # "b": every day, one more on one weekday
    return Demand(
        items=np.array(["a", "b"]),
        days=pd.date_range("2024-01-01", periods=N, freq="D"),
        units=units,
        returns=np.zeros_like(units),
        price=np.full_like(units, 2.0),
        first=np.array([0, 0]),
        category=np.array(["c", "c"]),
    )


def test_a_sparse_item_gets_its_recent_mean_and_a_dense_one_autoets() -> None:
    demand, config = _demand(), ForecastConfig(horizon_days=7, ets_min_sale_days=30, ets_recent_days=14)
    fit = models.prepare(demand, N, config)
    out = models.local_forecast("ets", demand, fit, 7, config)
    # "a" sold on 2 days of its fit window (< 30): 14 units over its last 14 days, 1 a day
    assert out[0] == pytest.approx(np.ones(7))
    assert out[1].mean() == pytest.approx(5 + 1 / 7, rel=0.05)  # AutoETS: its level and weekly bump


def test_without_the_threshold_every_item_goes_to_autoets() -> None:
    demand = _demand()
    config = ForecastConfig(horizon_days=7, ets_min_sale_days=0)
    out = models.local_forecast("ets", demand, models.prepare(demand, N, config), 7, config)
    assert not np.allclose(out[0], 1.0)  # AutoETS's own level for "a", not the recent mean


def test_the_recent_mean_counts_only_the_days_of_an_items_life() -> None:
    demand = dataclasses.replace(_demand(), first=np.array([50, 0]))
    fit = models.prepare(demand, N, ForecastConfig(cap_multiplier=None))
    # "a" alive on days 50..59 (10 days) with 14 units: 1.4 a day, not 14 / 14
    assert models.recent_mean(fit, np.array([0]), 14, 3)[0] == pytest.approx([1.4, 1.4, 1.4])


def test_the_selection_is_written_in_plain_words_best_first() -> None:
    from ecom_tasks.forecast.backtest import selection_text

    text = selection_text(
        ["snaive", "ets", "global_noemb"],
        {"snaive": 1.3732, "ets": float("nan"), "global_noemb": 0.893},
        pd.Timestamp("2010-10-15"),
        pd.Timestamp("2010-11-11"),
    )
    assert text == (
        "lowest daily error per item (WAPE, absolute error / units sold) on the validation window "
        "2010-10-15 to 2010-11-11: LightGBM over all items, without embeddings 89.3%; "
        "seasonal naive (same weekday last week) 137.3%; AutoETS (exponential smoothing) -"
    )
