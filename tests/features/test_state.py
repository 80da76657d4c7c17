"""Running state: the day-by-day fold equals a full recompute; merge guards its inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import contract
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import FeatureConfig
from ecom_tasks.features.encode import dense_codes, group_reduce, string_codes
from ecom_tasks.features.state import STATE_TABLES, empty_state, merge
from tests.features.conftest import START, events, random_shop

CFG = FeatureConfig(trend_days=3, popularity_windows=(2, 5), basket_days=4)  # short windows: the fold trims


def fold(ev: pd.DataFrame, days: list[dt.date], config: FeatureConfig):
    state = empty_state(days[0] - dt.timedelta(days=1))
    day_of = ev[contract.TS].dt.date
    for d in days:
        state = merge(state, summarise(ev[day_of == d], d, config), config)
    return state


def assert_states_equal(a, b) -> None:
    assert a.through == b.through
    for table in STATE_TABLES:
        pd.testing.assert_frame_equal(
            getattr(a, table), getattr(b, table), check_exact=False, rtol=1e-9, obj=table
        )


@pytest.mark.parametrize("seed", [1, 7, 23])
def test_incremental_fold_equals_full_recompute(seed: int) -> None:
    ev, _, _ = random_shop(n_days=12, seed=seed)
    days = [START + dt.timedelta(days=d) for d in range(12)]
    incremental = fold(ev, days, CFG)
    full = summarise(ev, days[-1], CFG)
    assert_states_equal(incremental, full)
    # The bounded windows really are bounded.
    assert full.customer_daily[fc.DAY].min() >= pd.Timestamp(days[-1] - dt.timedelta(days=5), tz="UTC")
    assert full.item_daily[fc.DAY].min() >= pd.Timestamp(days[-1] - dt.timedelta(days=4), tz="UTC")
    assert full.basket_lines[fc.DAY].min() >= pd.Timestamp(days[-1] - dt.timedelta(days=3), tz="UTC")
    assert len(full.basket_lines) > 0


def test_summary_ignores_events_after_the_day() -> None:
    ev, _, _ = random_shop(n_days=12)
    cut = START + dt.timedelta(days=5)
    early = ev[ev[contract.TS] < pd.Timestamp(cut + dt.timedelta(days=1), tz="UTC")]
    assert_states_equal(summarise(ev, cut, CFG), summarise(early, cut, CFG))


def test_gaps_between_orders_cross_day_boundaries() -> None:
    ev = events(
        [
            ("e1", "2024-01-01T10:00Z", "u1", "s1", "i1", "purchase", 1, 2.0, "o1", None),
            ("e2", "2024-01-01T10:00Z", "u1", "s1", "i2", "purchase", 1, 2.0, "o1", None),
            ("e3", "2024-01-02T10:00Z", "u1", "s2", "i1", "purchase", 1, 2.0, "o2", None),
            ("e4", "2024-01-04T22:00Z", "u1", "s3", "i1", "purchase", 1, 2.0, "o3", None),
        ]
    )
    days = [START + dt.timedelta(days=d) for d in range(4)]
    for state in (fold(ev, days, CFG), summarise(ev, days[-1], CFG)):
        row = state.customers.iloc[0]
        assert row[fc.N_ORDERS] == 3
        assert row[fc.GAP_SUM] == pytest.approx(86_400 + 3 * 86_400 - 12 * 3600)
        assert row[fc.GAP_MIN] == pytest.approx(86_400)
        assert row[fc.GAP_MAX] == pytest.approx(2.5 * 86_400)


def test_merge_refuses_a_gap_between_state_and_day() -> None:
    state = empty_state(START)
    later = summarise(events([]), START + dt.timedelta(days=2), CFG)
    with pytest.raises(ValueError, match="does not follow"):
        merge(state, later, CFG)


def test_empty_day_leaves_state_unchanged_but_moves_on() -> None:
    ev, _, _ = random_shop(n_days=3)
    days = [START + dt.timedelta(days=d) for d in range(3)]
    state = fold(ev, days, CFG)
    nxt = merge(state, summarise(events([]), days[-1] + dt.timedelta(days=1), CFG), CFG)
    assert nxt.through == days[-1] + dt.timedelta(days=1)
    pd.testing.assert_frame_equal(nxt.customers, state.customers)
    pd.testing.assert_frame_equal(nxt.daily, state.daily)


def test_string_codes_are_sorted_and_nulls_are_minus_one() -> None:
    codes, uniques = string_codes(pd.Series(["b", None, "a", "b"], dtype="string"))
    assert list(uniques) == ["a", "b"]
    assert codes.tolist() == [1, -1, 0, 1]


def test_dense_codes_fall_back_to_factorize_on_overflow() -> None:
    big = np.array([2**40, 0, 2**40], dtype=np.int64)
    codes, n = dense_codes([big, np.array([2**30, 1, 2**30])])
    assert n == 2 and codes.tolist() == [1, 0, 1]


def test_group_reduce_sums_mins_and_maxes() -> None:
    frame = pd.DataFrame(
        {
            "k": pd.array(["b", "a", "b"], dtype="string"),
            "n": np.array([1, 2, 3], dtype=np.int64),
            "lo": [np.nan, 2.0, 1.0],
            "t": pd.to_datetime(["2024-01-02", None, "2024-01-01"], utc=True).astype(contract.TS_DTYPE),
        }
    )
    out = group_reduce(frame, ["k"], sums=["n"], mins=["lo", "t"])
    assert out["k"].tolist() == ["a", "b"]
    assert out["n"].tolist() == [2, 4] and out["n"].dtype == np.int64
    assert out["lo"].tolist() == [2.0, 1.0]
    assert out["t"].isna().tolist() == [True, False]
    assert out["t"].iloc[1] == pd.Timestamp("2024-01-01", tz="UTC")


def test_rfm_core_matches_the_customers_state() -> None:
    from ecom_tasks.features.aggregate import rfm_aggregate

    ev, _, _ = random_shop(n_days=12)
    rfm = rfm_aggregate(ev)
    cust = summarise(ev, START + dt.timedelta(days=11), CFG).customers
    cust = cust[cust[fc.N_ORDERS] > 0].reset_index(drop=True)
    assert rfm[contract.USER_ID].tolist() == cust[contract.USER_ID].tolist()
    assert rfm[fc.N_ORDERS].tolist() == cust[fc.N_ORDERS].tolist()
    assert np.allclose(rfm[fc.GROSS_VALUE], cust[fc.GROSS_VALUE])
    assert rfm[fc.LAST_PURCHASE_TS].tolist() == cust[fc.LAST_PURCHASE_TS].tolist()


def test_distinct_per_day_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    from ecom_tasks.features import summaries

    rng = np.random.default_rng(3)
    ids = rng.integers(0, 40, 500)
    offset = np.where(rng.random(500) < 0.1, rng.integers(0, 6, 500), ids % 6)  # some ids span days
    et = rng.integers(0, 4, 500)
    table = summaries._groups_per_day(ids, 40, et, offset, 6, (0, 1, 2))
    monkeypatch.setattr(summaries, "_PRESENCE_CELLS", 0)
    grouped = summaries._groups_per_day(ids, 40, et, offset, 6, (0, 1, 2))
    for t in (None, 0, 1, 2):
        assert table[t].tolist() == grouped[t].tolist()
    assert table[None].sum() == len({(i, o) for i, o in zip(ids, offset, strict=True)})
