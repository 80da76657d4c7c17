"""Gate -> publish -> rollback against a real (SQLite) MLflow registry in a temp root.

Most tests start from ``champion_root``: churn version 1, trained on ``D2``, is the champion.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ecom_tasks.publish import cli, outputs, registry, stage, tracking
from ecom_tasks.publish.blessing import GateBlockedError, NotBlessedError, read_blessing
from ecom_tasks.publish.config import CHURN_SCORES
from ecom_tasks.publish.registry import ServingCheckError
from ecom_tasks.ui.labels import metric_value
from tests.publish.candidates import CHURN, CONFIG, FAKE, churn_candidate, fake_candidate
from tests.publish.conftest import CHAMPION_DS

NAME = "ecom_churn"
D1, D2, D3 = "2024-03-01", CHAMPION_DS, "2024-03-03"


def gate_and_publish(root: str, ds: str, *, force: bool = False, **kw) -> dict:
    churn_candidate(root, ds, **kw)
    gated = stage.gate_model(root, ds, CHURN, CONFIG, force=force)
    assert gated["blessed"], gated
    return stage.publish_model(root, ds, CHURN, CONFIG, force=force)


def champion_version(root: str, name: str = NAME) -> str | None:
    current = registry.champion(tracking.configure(root), name)
    return None if current is None else str(current.version)


def test_publish_refuses_without_a_blessing(pub_root: str) -> None:
    churn_candidate(pub_root, D1)
    with pytest.raises(NotBlessedError, match=r"no blessing at .*blessing\.json; run the gate"):
        stage.publish_model(pub_root, D1, CHURN, CONFIG)


def test_first_publish_then_rerun_of_the_same_ds_adds_no_version(pub_root: str) -> None:
    first = gate_and_publish(pub_root, D1)
    assert (first["version"], first["created"], first["promoted"]) == ("1", True, True)
    pointer = outputs.read_pointer(pub_root)
    assert pointer["models"][CHURN] == {"version": "1", "registered_name": NAME, "ds": D1}
    assert pointer["tables"][CHURN_SCORES]["path"] == f"{CHURN_SCORES}/ds={D1}"
    assert len(outputs.read_current(pub_root, CHURN_SCORES)) == 4
    client = tracking.configure(pub_root)
    mv = client.get_model_version(NAME, "1")
    assert mv.tags["ds"] == D1 and mv.tags[registry.TAG_SERVING] == "passed"
    assert "features/customer_profiles" in json.loads(mv.tags["input_hashes"])
    run = client.get_run(first["run_id"])
    assert run.data.params["data_window.start"] == f"{D1}T00:00:00+00:00"
    assert run.data.tags["code_version"] == tracking.code_version()
    assert (
        run.data.tags["input.features/customer_profiles"]
        == json.loads(mv.tags["input_hashes"])["features/customer_profiles"]
    )

    again = gate_and_publish(pub_root, D1, champion_auc=0.80)  # the same data, retrained
    assert (again["version"], again["created"], again["reason"]) == ("1", False, "already the champion")
    assert len(registry.list_versions(client, NAME)) == 1


def test_degraded_challenger_is_blocked_and_champion_unchanged(champion_root: str) -> None:
    before = outputs.read_pointer(champion_root)
    churn_candidate(champion_root, D3, auc=0.70, baseline=0.65, champion_auc=0.80)
    gated = stage.gate_model(champion_root, D3, CHURN, CONFIG)
    assert not gated["blessed"] and gated["failing"] == ["no_regression:churn_roc_auc"]
    with pytest.raises(GateBlockedError, match=r"churn ds=2024-03-03 blocked by the gate: no_regression"):
        stage.gate_model(champion_root, D3, CHURN, CONFIG, fail_on_block=True)
    with pytest.raises(NotBlessedError, match=r"no_regression:churn_roc_auc: 0\.7000 >= 0\.784"):
        stage.publish_model(champion_root, D3, CHURN, CONFIG)
    assert champion_version(champion_root) == "1"
    assert outputs.read_pointer(champion_root) == before
    client = tracking.configure(champion_root)
    assert len(registry.list_versions(client, NAME)) == 1
    run = client.get_run(gated["run_id"])
    assert run.data.tags["ecom.blessed"] == "False" and run.data.metrics["champion_churn_roc_auc"] == 0.80


def test_corrupt_artifact_is_not_published(champion_root: str) -> None:
    churn_candidate(champion_root, D3, auc=0.82, champion_auc=0.80, corrupt=True)
    assert stage.gate_model(champion_root, D3, CHURN, CONFIG)["blessed"]
    with pytest.raises(ServingCheckError, match=r"models:/ecom_churn/2 failed the serving check.*Unpickling"):
        stage.publish_model(champion_root, D3, CHURN, CONFIG)
    assert champion_version(champion_root) == "1"
    assert outputs.read_pointer(champion_root)["models"][CHURN]["version"] == "1"
    mv = tracking.configure(champion_root).get_model_version(NAME, "2")
    assert mv.tags[registry.TAG_SERVING].startswith("failed")
    # fixed and rerun: a new version, not the failed one, becomes champion
    assert gate_and_publish(champion_root, D3, auc=0.82, champion_auc=0.80)["version"] == "3"
    assert champion_version(champion_root) == "3"


def test_directory_artifact_with_a_loader_and_its_corrupt_twin(pub_root: str) -> None:
    fake_candidate(pub_root, D1)
    assert stage.gate_model(pub_root, D1, FAKE, CONFIG)["blessed"]
    ok = stage.publish_model(pub_root, D1, FAKE, CONFIG)
    assert ok["promoted"] and ok["serving_check"] == "shape (2,)"
    fake_candidate(pub_root, D2, corrupt=True)
    (Path(pub_root) / "models" / FAKE / f"ds={D2}" / "champion_metrics.json").write_text('{"auc": 0.7}')
    assert stage.gate_model(pub_root, D2, FAKE, CONFIG)["blessed"]
    with pytest.raises(ServingCheckError, match=r"ecom_fake/2.*JSONDecodeError"):
        stage.publish_model(pub_root, D2, FAKE, CONFIG)
    assert champion_version(pub_root, "ecom_fake") == "1"


def test_backfill_leaves_the_champion_alone_unless_forced(champion_root: str) -> None:
    churn_candidate(champion_root, D1, champion_auc=0.80)
    gated = stage.gate_model(champion_root, D1, CHURN, CONFIG)
    assert gated["failing"] == ["backfill"]
    with pytest.raises(NotBlessedError, match=r"backfill.*older than the champion's training ds 2024-03-02"):
        stage.publish_model(champion_root, D1, CHURN, CONFIG)
    assert champion_version(champion_root) == "1"

    forced = gate_and_publish(champion_root, D1, force=True, champion_auc=0.80)
    assert forced["promoted"] and forced["reason"] == "forced over a newer champion"
    assert champion_version(champion_root) == forced["version"] == "2"
    assert read_blessing(champion_root, CHURN, D1).forced
    client = tracking.configure(champion_root)
    assert "replaced version 1" in client.get_model_version(NAME, "2").tags[registry.TAG_FORCED]
    assert client.get_run(forced["run_id"]).data.tags["ecom.forced"] == "True"


def test_racing_publishes_leave_a_consistent_state(pub_root: str) -> None:
    for ds in (D1, D3):
        churn_candidate(pub_root, ds)
        assert stage.gate_model(pub_root, ds, CHURN, CONFIG)["blessed"]  # no champion yet: both blessed
    racers = (D3, D1, D3)
    barrier, errors = threading.Barrier(len(racers)), []

    def publish(ds: str) -> None:
        barrier.wait()
        try:
            stage.publish_model(pub_root, ds, CHURN, CONFIG)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(ds,)) for ds in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    client = tracking.configure(pub_root)
    versions = registry.list_versions(client, NAME)
    assert sorted(v.tags["ds"] for v in versions) == [D1, D3]  # D3 twice: registered once
    champ = registry.champion(client, NAME)
    assert champ.tags["ds"] == D3  # the newest data wins, whatever the order
    pointer = outputs.read_pointer(pub_root)
    assert pointer["models"][CHURN]["version"] == str(champ.version)
    assert pointer["tables"][CHURN_SCORES]["ds"] == D3


def _card_metrics(card: str) -> tuple[list[str], dict[str, list[str]]]:
    """The header and rows of the card's metrics table."""
    section = card.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    return cells[0][1:-1], {row[-1]: row[1:-1] for row in cells[1:]}  # keyed by the MLflow name


def test_model_card_figures_equal_the_logged_metrics(champion_root: str) -> None:
    churn_candidate(champion_root, D3, auc=0.8123456, baseline=0.7345678, champion_auc=0.8011111)
    gated = stage.gate_model(champion_root, D3, CHURN, CONFIG)
    logged = tracking.configure(champion_root).get_run(gated["run_id"]).data.metrics
    card = Path(gated["card"]).read_text()
    columns, rows = _card_metrics(card)
    assert columns == [
        "candidate",
        "current champion (version 1)",
        "gradient-boosted trees",
        "RFM logistic regression",
    ]
    expected = ["churn_roc_auc", "champion_churn_roc_auc", "gbdt_churn_roc_auc", "rfm_logreg_churn_roc_auc"]
    assert rows["churn_roc_auc"] == [metric_value("churn_roc_auc", logged[name]) for name in expected]
    assert rows["churn_roc_auc"][0] == "0.812"
    assert all(cells[0] == metric_value(metric, logged[metric]) for metric, cells in rows.items())
    assert gated["run_id"] in card and tracking.code_version() in card
    assert "PASS" in card and Path(gated["card"]).with_suffix(".html").exists()


def test_baselines_are_recorded_even_when_a_gate_file_turns_their_check_off(pub_root: str) -> None:
    import dataclasses

    from ecom_tasks.publish.gate import GateConfig

    models = tuple(
        dataclasses.replace(g, baselines=()) if g.model == CHURN else g for g in CONFIG.gate.models
    )
    config = dataclasses.replace(CONFIG, gate=GateConfig(models=models))
    churn_candidate(pub_root, D1, auc=0.80, baseline=0.72)
    gated = stage.gate_model(pub_root, D1, CHURN, config)
    verdict = read_blessing(pub_root, CHURN, D1)
    assert not any(c.name.startswith("beats_baselines") for c in verdict.checks)  # the check is off
    assert verdict.baselines["rfm_logreg"]["churn_roc_auc"] == 0.72  # but the page and card show them
    assert not any(k.startswith(("gbdt_", "rfm_logreg_")) for k in verdict.metrics)
    assert "gradient-boosted trees" in Path(gated["card"]).read_text()


def test_rollback_restores_the_previous_outputs_pointer(champion_root: str, capsys) -> None:
    before = outputs.read_pointer(champion_root)
    gate_and_publish(champion_root, D3, auc=0.85, champion_auc=0.80)
    assert outputs.read_pointer(champion_root)["tables"][CHURN_SCORES]["ds"] == D3

    assert cli.main(["models", "list", "--model", CHURN, "--root", champion_root]) == 0
    listing = capsys.readouterr().out
    assert "* ecom_churn" in listing and "v2" in listing and "churn_roc_auc=0.8500" in listing

    assert cli.main(["models", "rollback", "--model", CHURN, "--version", "1", "--root", champion_root]) == 0
    assert "champion 2 -> 1" in capsys.readouterr().out
    assert champion_version(champion_root) == "1"
    assert outputs.read_pointer(champion_root) == before
    assert outputs.current_uri(champion_root, CHURN_SCORES).endswith(f"{CHURN_SCORES}/ds={D2}")

    assert cli.main(["models", "rollback", "--model", CHURN, "--version", "9", "--root", champion_root]) == 1
    assert "no version '9'; known versions: ['1', '2']" in capsys.readouterr().err
