"""The pure gate: every check listed, with value, threshold and outcome."""

from __future__ import annotations

import dataclasses

import pytest

from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.gate import (
    FAIL,
    FORCED,
    PASS,
    Blessing,
    GateConfig,
    ModelGate,
    Threshold,
    evaluate_gate,
    split_metrics,
)

CONFIG = GateConfig()
GOOD = {"churn_roc_auc": 0.80, "churn_ece": 0.03}
BASELINES = {"rfm_logreg": {"churn_roc_auc": 0.73}, "gbdt": {"churn_roc_auc": 0.75}}


def gate(candidate=GOOD, champion=None, baselines=BASELINES, *, ds="2024-03-02", champion_ds=None, **kw):
    return evaluate_gate(
        "churn", candidate, champion, baselines, CONFIG, ds=ds, champion_ds=champion_ds, **kw
    )


def outcome(blessing: Blessing, name: str) -> str:
    return next(c.outcome for c in blessing.checks if c.name == name)


def test_good_first_candidate_is_blessed_with_every_check_listed() -> None:
    b = gate()
    assert b.blessed and b.failing == []
    names = [c.name for c in b.checks]
    assert names == [
        "threshold:churn_roc_auc",
        "threshold:churn_ece",
        "no_regression:churn_roc_auc",
        "beats_baselines:churn_roc_auc",
        "backfill",
    ]
    regression = next(c for c in b.checks if c.name.startswith("no_regression"))
    assert regression.outcome == PASS and regression.detail == "no champion yet"
    best = next(c for c in b.checks if c.name.startswith("beats_baselines"))
    assert best.threshold == 0.75 and "gbdt" in best.detail and best.value == 0.80


def test_degraded_challenger_fails_no_regression() -> None:
    b = gate({"churn_roc_auc": 0.70, "churn_ece": 0.03}, {"churn_roc_auc": 0.80}, champion_ds="2024-03-01")
    assert not b.blessed
    assert "no_regression:churn_roc_auc" in b.failing
    check = next(c for c in b.checks if c.name == "no_regression:churn_roc_auc")
    assert check.threshold == pytest.approx(0.80 * 0.98)


def test_small_drop_within_tolerance_passes() -> None:
    b = gate({"churn_roc_auc": 0.79, "churn_ece": 0.03}, {"churn_roc_auc": 0.80}, champion_ds="2024-03-01")
    assert b.blessed


def test_absolute_thresholds_both_directions() -> None:
    b = gate({"churn_roc_auc": 0.55, "churn_ece": 0.2}, baselines={"gbdt": {"churn_roc_auc": 0.5}})
    assert set(b.failing) == {"threshold:churn_roc_auc", "threshold:churn_ece"}


def test_missing_metric_fails_and_says_so() -> None:
    b = gate({"churn_ece": 0.03})
    check = next(c for c in b.checks if c.name == "threshold:churn_roc_auc")
    assert check.outcome == FAIL and "missing" in check.detail


def test_must_beat_the_best_baseline() -> None:
    b = gate({"churn_roc_auc": 0.74, "churn_ece": 0.03})
    assert b.failing == ["beats_baselines:churn_roc_auc"]
    assert gate(baselines={}).failing == ["beats_baselines:churn_roc_auc"]


def test_a_gate_without_baselines_has_no_baseline_check() -> None:
    churn = dataclasses.replace(CONFIG.for_model("churn"), baselines=())
    config = GateConfig(models=(churn,))
    candidate = {"churn_roc_auc": 0.74, "churn_ece": 0.03}  # below the best baseline (0.75)
    b = evaluate_gate("churn", candidate, None, BASELINES, config, ds="2024-03-02", champion_ds=None)
    assert b.blessed and not any(c.name.startswith("beats_baselines") for c in b.checks)


def test_champion_not_evaluated_fails_unless_not_required() -> None:
    b = gate(champion_ds="2024-03-01", champion_version="3")
    assert b.failing == ["no_regression:churn_roc_auc"]
    lax = GateConfig(require_champion_eval=False)
    assert evaluate_gate(
        "churn", GOOD, None, BASELINES, lax, ds="2024-03-02", champion_ds="2024-03-01"
    ).blessed


def test_backfill_refused_unless_forced() -> None:
    champ = {"churn_roc_auc": 0.80}
    b = gate(champion=champ, ds="2024-02-01", champion_ds="2024-03-01")
    assert b.failing == ["backfill"] and not b.forced
    forced = gate(champion=champ, ds="2024-02-01", champion_ds="2024-03-01", force=True)
    assert forced.blessed and forced.forced and outcome(forced, "backfill") == FORCED


def test_blessing_round_trips_through_a_dict() -> None:
    b = gate({"churn_roc_auc": 0.5, "churn_ece": 0.03})
    raw = b.to_dict()
    assert raw["failing"] == b.failing
    assert Blessing.from_dict(raw) == b


def test_split_metrics_by_baseline_prefix() -> None:
    raw = {"recall_at_10": 0.2, "popularity_recall_at_10": 0.1, "itemknn_recall_at_10": 0.15, "note": "x"}
    candidate, baselines = split_metrics(raw, ("popularity_", "itemknn_"))
    assert candidate == {"recall_at_10": 0.2}
    assert baselines == {"popularity": {"recall_at_10": 0.1}, "itemknn": {"recall_at_10": 0.15}}


@pytest.mark.parametrize("direction", ["lower", "higher"])
def test_a_metric_compares_the_way_its_model_declares(direction: str) -> None:
    # "wape" says nothing about its direction in its name: the declaration decides.
    gate = ModelGate("m", (), ("wape",), ("b_",), metrics={"wape": direction})
    cfg = GateConfig(models=(gate,))

    def failing(value: float) -> set[str]:
        return set(evaluate_gate("m", {"wape": value}, {"wape": 0.4}, {"b": {"wape": 0.5}}, cfg,
                                 ds="2024-01-02", champion_ds="2024-01-01").failing)  # fmt: skip

    worse_both, better_both = (0.6, 0.3) if direction == "lower" else (0.3, 0.6)
    assert failing(better_both) == set()
    assert failing(worse_both) == {"no_regression:wape", "beats_baselines:wape"}


def test_a_gate_on_a_metric_without_a_direction_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"ModelGate\(m\)\.compare: unknown metric 'wape'"):
        ModelGate("m", compare=("wape",))
    with pytest.raises(ConfigError, match=r"thresholds: unknown metric 'auc'"):
        ModelGate("m", thresholds=(Threshold("auc", minimum=0.5),), metrics={"wape": "lower"})
    with pytest.raises(ConfigError, match="direction 'down'"):
        ModelGate("m", metrics={"wape": "down"})


def test_config_errors_name_the_parameter() -> None:
    with pytest.raises(ConfigError, match="no gate configured for 'nope'"):
        CONFIG.for_model("nope")
    with pytest.raises(ConfigError, match="regression_tolerance"):
        ModelGate("m", regression_tolerance=1.5)
