"""PSI and KS on known distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ecom_tasks.monitoring import drift


def test_psi_by_hand_on_two_bins() -> None:
    # Reference 0,0,1,1 -> median edge 0.5 splits it 50/50; current 0,1,1,1 -> 25/75.
    ref, cur = np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 1.0, 1.0])
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert drift.psi(ref, cur, bins=2) == pytest.approx(expected)


def test_psi_of_the_same_distribution_is_small_and_of_a_shift_large() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5000)
    assert drift.psi(ref, rng.normal(size=5000)) < 0.02
    assert drift.psi(ref, rng.normal(loc=1.0, size=5000)) > 0.25  # one standard deviation: major
    assert drift.psi(ref, ref) == pytest.approx(0.0, abs=1e-12)


def test_psi_merges_tied_edges_and_ignores_missing_values() -> None:
    ref = np.array([0.0] * 90 + [1.0] * 10)  # quantile edges 0, 0, ..., 1: two distinct bins
    assert drift.quantile_edges(ref, 10).tolist() == [0.0]
    assert drift.psi(ref, np.array([0.0] * 90 + [1.0] * 10 + [np.nan] * 5)) == pytest.approx(0.0)
    assert math.isnan(drift.psi(ref, np.array([np.nan])))


def test_ks_and_the_table_is_sorted_worst_first_with_a_flag_beyond_the_bound() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=2000)
    pairs = [
        ("feature", "stable", "2024-01-01", ref, rng.normal(size=2000)),
        ("feature", "shifted", "2024-01-01", ref, rng.normal(loc=2.0, size=2000)),
        ("score", "empty", "2024-01-01", ref, np.array([])),
    ]
    table = drift.drift_table(pairs, bins=10, bound=0.25)
    assert table["name"].tolist() == ["shifted", "stable", "empty"]
    assert table["drifted"].tolist() == [True, False, False]
    assert table.loc[0, "ks_pvalue"] < 1e-6 and table.loc[1, "ks_pvalue"] > 0.01
    assert table.loc[0, "ks_statistic"] > 0.5 and table.loc[2, "current_n"] == 0
    # A PSI beyond the bound is not drift unless the KS test agrees (small samples pass PSI bounds by chance).
    strict = drift.drift_table(pairs, bins=10, bound=0.0, alpha=0.05)
    assert strict.set_index("name")["drifted"].to_dict() == {"shifted": True, "stable": False, "empty": False}
