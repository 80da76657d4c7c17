"""The model-stage registry: declarations, their checks, and a model added from outside the package."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ecom_tasks import nightly, stages
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.config import PublishConfig
from ecom_tasks.publish.gate import GateConfig, evaluate_gate
from ecom_tasks.publish.gate_file import load_gate_config
from tests.toy_stage.entry import NAME as TOY
from tests.toy_stage.entry import STAGE as TOY_STAGE

DAGS = Path(__file__).resolve().parents[1] / "dags"
TOY_ENTRY = "tests.toy_stage.entry:STAGE"


@pytest.fixture
def with_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(stages.ENV, TOY_ENTRY)


def test_the_built_in_models_upstreams_first() -> None:
    registered = stages.registered()
    # Models that need only the training data come first (retrieval, anomalies, the assistant, the
    # forecast), then their dependants.
    assert [s.name for s in registered] == [
        "retrieval",
        "anomalies",
        "assistant",
        "forecast",
        "ranking",
        "churn",
        "repurchase",
    ]
    assert all(s.after in (None, "retrieval") for s in registered)
    # Every TensorFlow trainer is in the tensorflow pool; anomalies (PyOD) and the forecast
    # (LightGBM, statsforecast) are not.
    assert {s.name for s in registered if s.pool == stages.TF_POOL} == set(stages.names()) - {
        "anomalies",
        "forecast",
    }
    # The gate and publication read the same entries.
    assert tuple(g.model for g in GateConfig().models) == stages.names()
    assert tuple(m.name for m in PublishConfig().models) == stages.names()


def test_every_train_function_and_config_class_resolves() -> None:
    from ecom_tasks.params import RunParams

    for stage in stages.registered():
        assert callable(stage.train_function()), stage.name
        config = stage.make_config(RunParams(epochs=2, seed=3))
        assert dataclasses.is_dataclass(config) and config.seed == 3, stage.name


def test_a_model_registered_from_outside_joins_every_reader(with_toy: None) -> None:
    assert TOY in stages.names() and stages.get(TOY) == TOY_STAGE
    assert GateConfig().for_model(TOY) == TOY_STAGE.gate
    assert PublishConfig().model(TOY).output_tables == ("basket_value_predictions",)
    plan = nightly.check_run({}, "2024-03-31")  # the trigger-form check approves its config
    assert TOY in plan["models"]


def test_the_toy_gate_compares_its_lower_is_better_metric_the_right_way(with_toy: None) -> None:
    def verdict(mae: float, champion: float, baseline: float):
        return evaluate_gate(
            TOY, {"basket_value_mae": mae}, {"basket_value_mae": champion},
            {"mean": {"basket_value_mae": baseline}}, GateConfig(), ds="2024-01-02", champion_ds="2024-01-01",
        )  # fmt: skip

    assert verdict(10.0, 10.1, 20.0).blessed  # smaller error than the champion and the mean
    worse = verdict(30.0, 10.0, 20.0)
    assert set(worse.failing) == {"no_regression:basket_value_mae", "beats_baselines:basket_value_mae"}
    regression = next(c for c in worse.checks if c.name == "no_regression:basket_value_mae")
    assert regression.comparator == "<=" and regression.threshold == pytest.approx(10.0 * 1.02)


def test_the_dag_gets_a_task_group_for_it_in_the_right_place(with_toy: None) -> None:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "ecom_nightly.py")).dags["ecom_nightly"]
    group = dag.task_group_dict[TOY]
    assert {t.task_id for t in group.children.values()} == {f"train_{TOY}", f"gate_{TOY}", f"publish_{TOY}"}
    train = dag.get_task(f"train_{TOY}")
    assert train.upstream_task_ids == {"train_enabled"}
    assert train.pool != stages.TF_POOL  # no TensorFlow: not in the tensorflow pool
    assert dag.get_task(f"gate_{TOY}").upstream_task_ids == {f"train_{TOY}"}
    assert dag.get_task(f"publish_{TOY}").upstream_task_ids == {f"gate_{TOY}"}
    assert {a.name for a in dag.get_task(f"publish_{TOY}").outlets} == {
        f"ecom_model_{TOY}",
        "ecom_output_basket_value_predictions",
    }


def test_a_gate_file_sets_directions_and_refuses_unknown_metrics(tmp_path: Path, with_toy: None) -> None:
    good = tmp_path / "gates.yaml"
    good.write_text(f"models:\n  {TOY}:\n    metrics: {{basket_value_mape: lower}}\n"
                    "    thresholds: {basket_value_mape: {max: 0.5}}\n")  # fmt: skip
    gate = load_gate_config(good).for_model(TOY)
    assert gate.lower_is_better("basket_value_mape") and gate.lower_is_better("basket_value_mae")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  churn:\n    compare: [churn_wape]\n")
    with pytest.raises(ConfigError, match=rf"{bad}: models\.churn.*compare: unknown metric 'churn_wape'"):
        load_gate_config(bad)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("models:\n  churn:\n    metrics: {churn_roc_auc: up}\n")
    with pytest.raises(ConfigError, match=rf"{wrong}: models\.churn\.metrics"):
        load_gate_config(wrong)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"after": "nope"}, "after='nope' is not a registered model"),
        ({"name": "churn"}, "its gate and publication must be declared"),
        ({"train": "no_colon"}, "train: expected 'module:name'"),
    ],
)
def test_a_wrong_entry_is_refused_naming_it(change: dict, message: str, monkeypatch) -> None:
    with pytest.raises(ConfigError, match=message):
        bad = dataclasses.replace(TOY_STAGE, **change)
        monkeypatch.setattr(stages, "STAGES", (*stages.STAGES, bad))
        stages.registered()


def test_duplicates_and_cycles_are_refused(monkeypatch) -> None:
    builtin = stages.STAGES
    monkeypatch.setattr(stages, "STAGES", (*builtin, TOY_STAGE, TOY_STAGE))
    with pytest.raises(ConfigError, match="registered twice"):
        stages.registered()
    a = dataclasses.replace(TOY_STAGE, after="toy_b")
    b = dataclasses.replace(
        TOY_STAGE, name="toy_b", task_id="train_toy_b", after=TOY,
        gate=dataclasses.replace(TOY_STAGE.gate, model="toy_b"),
        publication=dataclasses.replace(TOY_STAGE.publication, name="toy_b", registered_name="", table=""),
    )  # fmt: skip
    monkeypatch.setattr(stages, "STAGES", (*builtin, a, b))
    with pytest.raises(ConfigError, match="form a cycle"):
        stages.registered()


def test_an_entry_that_is_not_a_stage_is_refused(monkeypatch) -> None:
    monkeypatch.setenv(stages.ENV, "tests.toy_stage.entry:NAME")
    with pytest.raises(
        ConfigError, match=r"ECOM_MODEL_STAGES: 'tests.toy_stage.entry:NAME' is not a ModelStage"
    ):
        stages.registered()


def test_each_stage_states_what_it_needs() -> None:
    # The heads need more than their 90-day label horizon of history; every built-in gate 20 test examples.
    assert stages.get("churn").min_history_days == stages.get("repurchase").min_history_days == 91
    assert "90 days of history" in stages.get("churn").needs_history
    assert stages.get("retrieval").min_history_days == stages.get("ranking").min_history_days == 0
    for name in ("retrieval", "ranking", "churn", "repurchase"):
        assert stages.get(name).min_test_examples == 20, name
    with pytest.raises(ConfigError, match="min_history_days and min_test_examples must be >= 0"):
        dataclasses.replace(stages.get("churn"), min_history_days=-1)


def test_the_registrys_copies_of_stage_constants_match_their_sources() -> None:
    """stages.py stays light, so it repeats two figures of heavy config modules: keep them equal."""
    from ecom_tasks.features.config import TrainingDataConfig
    from ecom_tasks.retrieval.config import METRIC_KS

    assert stages._RETRIEVAL_KS == METRIC_KS
    assert set(stages.get("retrieval").gate.metrics) == {
        f"{m}_at_{k}" for m in ("recall", "ndcg", "hr") for k in METRIC_KS
    }
    # The heads' cutoff is ds minus the longest label horizon: that much history, plus the cutoff day.
    for head in ("churn", "repurchase"):
        assert stages.get(head).min_history_days == TrainingDataConfig().horizon_days + 1, head
