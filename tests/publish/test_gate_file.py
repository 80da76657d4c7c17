"""Gate thresholds from $ECOM_GATE_CONFIG."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecom_tasks import nightly
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.gate import GateConfig, evaluate_gate
from ecom_tasks.publish.gate_file import ENV, gate_config_from_env, load_gate_config


def _write(tmp_path: Path, text: str, name: str = "gates.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_changes_only_what_it_lists(tmp_path: Path) -> None:
    path = _write(
        tmp_path, "models:\n  churn:\n    thresholds: {churn_ece: {max: 0.3}}\n    baselines: [gbdt_]\n"
    )
    config, default = load_gate_config(path), GateConfig()
    churn = config.for_model("churn")
    assert [(t.metric, t.minimum, t.maximum) for t in churn.thresholds] == [("churn_ece", None, 0.3)]
    assert churn.baselines == ("gbdt_",) and churn.compare == default.for_model("churn").compare
    assert config.for_model("retrieval") == default.for_model("retrieval")
    candidate = {"churn_roc_auc": 0.55, "churn_ece": 0.2}
    baselines = {"gbdt_": {"churn_roc_auc": 0.5}, "rfm_logreg_": {"churn_roc_auc": 0.5}}
    assert evaluate_gate(
        "churn", candidate, None, baselines, config, ds="2024-01-02", champion_ds=None
    ).blessed
    assert not evaluate_gate(
        "churn", candidate, None, baselines, default, ds="2024-01-02", champion_ds=None
    ).blessed


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("models:\n  fraud: {}\n", "models.fraud: unknown model"),
        ("models:\n  churn: {tresholds: {}}\n", "unknown key"),
        ("models:\n  churn: {thresholds: {churn_ece: {below: 1}}}\n", "churn_ece"),
        ("models:\n  churn: {regression_tolerance: 2}\n", "regression_tolerance"),
        ("require_champion_eval: maybe\n", "require_champion_eval"),
        ("models: [\n", "cannot be parsed"),
    ],
)
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as err:
        load_gate_config(_write(tmp_path, text))
    assert "gates.yaml" in str(err.value)


def test_the_environment_selects_the_file_and_a_bad_one_stops_the_run_early(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert gate_config_from_env() == GateConfig()
    monkeypatch.setenv(ENV, str(_write(tmp_path, '{"require_champion_eval": false}', "g.json")))
    assert gate_config_from_env().require_champion_eval is False
    monkeypatch.setenv(ENV, str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match=ENV):
        nightly.check_run({}, "2024-03-31")
