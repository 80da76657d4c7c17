"""The elasticity model recovers a known elasticity from a synthetic series."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.forecast import elasticity


def _synthetic(beta: float, n_items: int = 20, n_days: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=n_days, freq="D")
    base = rng.uniform(2, 8, n_items)[:, None]
    level = rng.uniform(3, 30, n_items)[:, None]  # item fixed effects: the model must absorb them
    steps = rng.choice([0.8, 0.9, 1.0, 1.1, 1.25], size=(n_items, n_days // 10)).repeat(10, axis=1)
    price = base * steps
    dow = np.array([1.0, 1.0, 1.0, 1.0, 1.2, 1.5, 1.3])[np.asarray(days.day_of_week)][None, :]
    mean = level * dow * (price / base) ** beta
    units = rng.poisson(mean).astype(float)
    price = np.where(units > 0, price, np.nan)
    return units, price, np.array(["c"] * n_items), days


def test_a_known_elasticity_is_recovered_within_its_interval() -> None:
    units, price, category, days = _synthetic(-1.5)
    table = elasticity.estimate(units, price, category, days, min_changes=5)
    row = table.iloc[0]
    assert row[elasticity.LOW] <= -1.5 <= row[elasticity.HIGH]
    assert row[elasticity.HIGH] - row[elasticity.LOW] < 0.5
    assert bool(row[elasticity.NOT_ZERO]) and row[elasticity.CHANGES] > 100


def test_no_price_changes_give_no_estimate_and_a_flag() -> None:
    units = np.ones((3, 30))
    table = elasticity.estimate(units, np.full((3, 30), 5.0), np.array(["c"] * 3), pd.date_range(
        "2024-01-01", periods=30), min_changes=5)  # fmt: skip
    assert np.isnan(table.iloc[0][elasticity.ELASTICITY]) and not table.iloc[0][elasticity.NOT_ZERO]


def test_the_check_compares_predicted_and_observed_volume_changes() -> None:
    table = pd.DataFrame(
        {"level": ["category"], "category": ["c"], "item_id": [None], elasticity.ELASTICITY: [-2.0]}
    )
    before_units, after_units = np.array([[10.0], [10.0]]), np.array([[5.0], [10.0]])
    before_price, after_price = np.array([[1.0], [1.0]]), np.array([[np.exp(0.3)], [1.0]])
    out = elasticity.check(
        table,
        np.array(["a", "b"]),
        np.array(["c", "c"]),
        before_units,
        after_units,
        before_price,
        after_price,
    )
    # one item moved its price (+0.3 log): predicted -0.6, observed log(0.5) = -0.693.
    assert out["elasticity_items"] == 1 and out["elasticity_sign_accuracy"] == 1.0
    assert np.isclose(out["elasticity_log_mae"], abs(-0.6 - np.log(0.5)))
    assert np.isclose(out["noelasticity_log_mae"], abs(np.log(0.5)))


def test_an_item_with_its_own_price_changes_gets_its_own_row_and_is_preferred() -> None:
    units, price, category, days = _synthetic(-1.5, n_items=4)
    items = np.array(["a", "b", "c", "d"])
    table = elasticity.estimate(units, price, category, days, min_changes=5, items=items, min_item_changes=10)
    assert table["level"].tolist() == ["category", "item", "item", "item", "item"]
    own = table[table["level"] == "item"]
    assert ((own[elasticity.LOW] <= -1.5) & (own[elasticity.HIGH] >= -1.5)).mean() >= 0.75  # 90 % intervals
    looked_up = elasticity.lookup(table, np.array(["a", "zz"]), np.array(["c", "c"]))
    assert looked_up[0] == own.iloc[0][elasticity.ELASTICITY]
    assert looked_up[1] == table.iloc[0][elasticity.ELASTICITY]  # no own row: the category's


def test_the_fast_per_item_fit_is_the_statsmodels_fit() -> None:
    units, price, _, days = _synthetic(-1.2, n_items=3, seed=4)
    r, c = np.nonzero((units > 0) & np.isfinite(price))
    args = (np.log(units[r, c]), np.log(price[r, c]), r, np.asarray(days.day_of_week)[c])
    assert np.allclose(elasticity._fit(*args), elasticity._fit_fast(*args))
