"""The pieces around the registry, without MLflow round trips: pointer, card, blessing file,
tracking defaults, lock, hashes, flavors and the pyfunc wrapper."""

from __future__ import annotations

import dataclasses
import pickle
import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.contract import ITEM_ID, TITLE, USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish import blessing, card, outputs, registry, stage, tracking
from ecom_tasks.publish.config import CHURN_SCORES, ModelSpec, PublishConfig
from ecom_tasks.publish.gate import GateConfig, evaluate_gate
from ecom_tasks.publish.lock import RegistryError, alias_lock
from ecom_tasks.publish.pyfunc_model import ArtifactModel
from tests.publish.candidates import CHURN, churn_candidate, tiny_classifier

SPEC = PublishConfig().model(CHURN)
D1, D2 = "2024-03-01", "2024-03-02"


def churn_blessing(auc: float = 0.8, **lineage) -> blessing.Blessing:
    b = evaluate_gate("churn", {"churn_roc_auc": auc, "churn_ece": 0.03}, None,
                      {"gbdt": {"churn_roc_auc": 0.7}}, GateConfig(), ds=D1, champion_ds=None)  # fmt: skip
    return dataclasses.replace(b, lineage={"run_id": "r1", "code_version": "0.1.0", **lineage})


def test_pointer_moves_tables_that_exist_and_keeps_the_others(data_root: str) -> None:
    frame = pd.DataFrame({USER_ID: ["a"], "churn_score": [0.3]})
    outputs.write_output(data_root, CHURN_SCORES, D1, frame, source="test")
    first = outputs.move_pointer(data_root, SPEC, "1", D1, require_outputs=True)
    assert first["tables"][CHURN_SCORES] == {
        "ds": D1,
        "path": f"{CHURN_SCORES}/ds={D1}",
        "model": CHURN,
        "version": "1",
    }
    second = outputs.move_pointer(data_root, SPEC, "2", D2, require_outputs=False)  # no D2 table
    assert second["models"][CHURN]["version"] == "2" and second["tables"][CHURN_SCORES]["ds"] == D1
    with pytest.raises(
        outputs.OutputsMissingError, match=r"\['churn_scores'\] have no partition for ds=2024-03-02"
    ):
        outputs.move_pointer(data_root, SPEC, "3", D2, require_outputs=True)
    assert outputs.read_pointer(data_root) == second  # nothing written by the refused move
    assert outputs.read_current(data_root, CHURN_SCORES)["churn_score"].tolist() == [0.3]
    with pytest.raises(FileNotFoundError, match="no current entry for table 'recommendations'"):
        outputs.read_current(data_root, "recommendations")


def test_recommendations_get_item_titles() -> None:
    recs = pd.DataFrame({USER_ID: ["u", "u"], ITEM_ID: ["i2", "i9"], "rank": [1, 2]})
    items = pd.DataFrame({ITEM_ID: ["i2", "i3"], TITLE: ["Lipstick", "Soap"]})
    out = outputs.with_item_titles(recs, items)
    assert out[TITLE].tolist()[0] == "Lipstick" and pd.isna(out[TITLE].tolist()[1])


def test_candidate_version_fingerprints_inputs_not_their_place(tmp_path: Path) -> None:
    def version(root: Path, rows: list[str], **change) -> str:
        uri = storage.partition_uri(str(root), "features", "x", D1)
        storage.write_partition(pd.DataFrame({USER_ID: rows}), uri, source="test")
        args = {"config": {"epochs": 2}, "backbone_uri": f"{root}/models/retrieval/ds={D1}"} | change
        return outputs.candidate_version(CHURN, D1, "gbdt", input_uris=[uri], **args)

    first = version(tmp_path / "a", ["u1", "u2"])
    assert first.startswith(f"{CHURN}-{D1}-gbdt-") and len(first.rsplit("-", 1)[1]) == 10
    assert version(tmp_path / "moved", ["u1", "u2"]) == first  # same candidate on another root
    assert version(tmp_path / "b", ["u1", "u3"]) != first  # other input content
    assert version(tmp_path / "c", ["u1", "u2"], config={"epochs": 3}) != first


def test_card_of_a_blocked_candidate_says_why_in_both_formats(tmp_path: Path) -> None:
    b = churn_blessing(0.65, inputs={"features/x": "abc"}, data_window={"start": "s", "end": "e"})
    (tmp_path / "reliability.png").write_bytes(b"png")
    md, page = card.write_card(str(tmp_path), b, str(tmp_path), {"version": "4", "promoted": False})
    text, html = Path(md).read_text(), Path(page).read_text()
    assert "Gate: **BLOCKED - failing checks: beats_baselines:churn_roc_auc**" in text and "| FAIL |" in text
    # Plain labels and units, the MLflow name beside them; never a raw key with four decimals.
    assert "| ROC AUC (0.5 = chance, 1 = perfect) | 0.650 | - | 0.700 | churn_roc_auc |" in text
    assert (
        "| input features/x (content hash) | abc |" in text and "![reliability.png](reliability.png)" in text
    )
    assert "0.6500" not in text.split("## Gate checks")[0]
    assert (
        "<td>0.650</td>" in html and "<img src='reliability.png'" in html and "<h2>Publication</h2>" in html
    )


def test_card_says_when_a_baseline_is_published_and_labels_every_metric(tmp_path: Path) -> None:
    b = dataclasses.replace(
        churn_blessing(0.65, data_window={"ds": D1, "holdout_start": "2024-02-20T00:00:00+00:00"}),
        metrics={"churn_roc_auc": 0.65, "churn_ece": 0.0456, "test_customers": 181.0,
                 "finetuned_churn_roc_auc": 0.6},
        selected="gbdt",
        selection="the fine-tuned head does not beat the best baseline gbdt",
    )  # fmt: skip
    md, _ = card.write_card(str(tmp_path), b, str(tmp_path))
    text = Path(md).read_text()
    assert "A baseline is published, not the fine-tuned model**: gradient-boosted trees" in text
    assert "Why: the fine-tuned head does not beat the best baseline gbdt." in text
    assert "Trained on all data up to the end of 1 Mar 2024 (UTC); from 20 Feb 2024 on held out" in text
    assert "| calibration error (lower is better) | 4.6% |" in text
    assert "| customers in the test set | 181 |" in text and "181.0000" not in text
    assert "fine-tuned head (not published)" in text  # the head's own figures beside the baselines


def test_card_puts_models_measured_alongside_in_columns_not_rows(tmp_path: Path) -> None:
    # The forecast's model without embeddings and an anomaly detector: a column each, labelled.
    b = dataclasses.replace(
        churn_blessing(0.65),
        metrics={"churn_roc_auc": 0.65, "global_noemb_churn_roc_auc": 0.61, "iforest_churn_roc_auc": 0.58},
        selected="global",
    )
    md, _ = card.write_card(str(tmp_path), b, str(tmp_path))
    text = Path(md).read_text()
    assert "LightGBM over all items, without embeddings (not published)" in text
    assert "Isolation Forest (not published)" in text
    assert "| 0.650 | - | 0.700 | 0.610 | 0.580 | churn_roc_auc |" in text
    assert "global_noemb_churn_roc_auc" not in text and "iforest_churn_roc_auc" not in text


def test_card_names_the_licence_notice_beside_the_candidate(tmp_path: Path) -> None:
    (tmp_path / "NOTICE.md").write_text("# Notice\n\nTrained on X, under CC BY 3.0.\n")
    md, _ = card.write_card(str(tmp_path), churn_blessing(), str(tmp_path))
    text = Path(md).read_text()
    assert "## Licences and notices" in text and "Trained on X, under CC BY 3.0." in text


def test_blessing_file_round_trip_and_refusals(data_root: str) -> None:
    good = churn_blessing()
    uri = blessing.write_blessing(data_root, good)
    assert uri.endswith(f"models/churn/ds={D1}/blessing.json")
    assert blessing.require_blessing(data_root, CHURN, D1) == good
    bad = churn_blessing(0.5)
    blessing.write_blessing(data_root, bad)
    with pytest.raises(blessing.NotBlessedError, match=r"threshold:churn_roc_auc: 0\.5000 >= 0\.6000") as err:
        blessing.require_blessing(data_root, CHURN, D1, force=True)  # force only excuses backfill
    assert "threshold:churn_roc_auc" in err.value.failing
    assert "FAIL   threshold:churn_roc_auc: 0.5000 >= 0.6000" in blessing.describe_checks(bad)


def test_publish_refuses_an_artifact_changed_after_the_gate(data_root: str) -> None:
    folder = churn_candidate(data_root, D1)
    digest = registry.artifact_hash(folder / "model.pkl")
    blessing.write_blessing(data_root, churn_blessing(artifact_hash=digest, fingerprint="f"))
    (folder / "model.pkl").write_bytes(pickle.dumps(tiny_classifier(seed=1)))
    with pytest.raises(blessing.NotBlessedError, match="changed after the gate blessed it; rerun the gate"):
        stage.publish_model(data_root, D1, CHURN)


def test_tracking_defaults_and_lineage(data_root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)
    assert tracking.tracking_uri(data_root) == f"sqlite:///{Path(data_root).resolve()}/mlflow/mlflow.db"
    assert tracking.artifact_location(data_root).endswith("/mlflow/artifacts")
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI: must be set when the data root"):
        tracking.tracking_uri("s3://bucket/data")
    monkeypatch.setenv(tracking.TRACKING_URI_ENV, "http://mlflow:5000")
    assert tracking.tracking_uri("s3://bucket/data") == "http://mlflow:5000"
    assert tracking.artifact_location(data_root) is None
    churn_candidate(data_root, D1)
    hashes = tracking.input_hashes(data_root, D1, ("features",))
    manifest = storage.read_manifest(storage.partition_uri(data_root, "features", "customer_profiles", D1))
    assert hashes == {"features/customer_profiles": manifest.content_hash}
    window = tracking.data_window(D1, {"holdout_start": "2024-02-25"})
    assert window["start"] == "2024-03-01T00:00:00+00:00" and window["end"] == "2024-03-02T00:00:00+00:00"
    assert window["holdout_start"] == "2024-02-25"
    assert tracking.code_version().startswith("0.")


def test_alias_lock_excludes_a_second_holder(data_root: str) -> None:
    entered = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with alias_lock(data_root):
            entered.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(10)
    with (
        pytest.raises(RegistryError, match=r"\.alias\.lock: another publish held the lock"),
        alias_lock(data_root, timeout_s=0.2),
    ):
        pass
    release.set()
    t.join()
    with alias_lock(data_root, timeout_s=1):
        pass


def test_hashes_fingerprints_and_flavors(tmp_path: Path) -> None:
    d = tmp_path / "saved_model"
    d.mkdir()
    (d / "saved_model.pb").write_bytes(b"x")
    h = registry.artifact_hash(d)
    assert registry.artifact_hash(d) == h
    (d / "variables").mkdir()
    (d / "variables" / "v").write_bytes(b"y")
    assert registry.artifact_hash(d) != h
    assert registry.resolve_flavor(ModelSpec("m"), d) == "tensorflow"
    assert registry.resolve_flavor(ModelSpec("m"), tmp_path / "model.pkl") == "pickle"
    with pytest.raises(ConfigError, match="cannot tell how to open"):
        registry.resolve_flavor(ModelSpec("m"), tmp_path)
    same = registry.fingerprint("m", D1, {"a": "1"}, "0.1", "art1")
    assert same == registry.fingerprint("m", D1, {"a": "1"}, "0.1", "art2")  # inputs decide
    assert same != registry.fingerprint("m", D1, {"a": "2"}, "0.1", "art1")
    assert registry.fingerprint("m", D1, {}, "0.1", "a1") != registry.fingerprint("m", D1, {}, "0.1", "a2")
    with pytest.raises(ConfigError, match="flavor 'callable' needs 'module:function'"):
        ModelSpec("m", flavor="callable")


@pytest.mark.parametrize(
    ("answer", "error"),
    [(None, "answered None"), ([], "empty result"), ({}, "empty mapping"), ([np.nan], "non-finite")],
)
def test_unusable_smoke_answers_are_named(answer, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        registry._describe_answer(answer)


def test_pyfunc_wrapper_scores_a_pickled_classifier(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(tiny_classifier()))
    wrapper = ArtifactModel()
    wrapper.load_context(SimpleNamespace(artifacts={"model": str(path)}, model_config={"flavor": "pickle"}))
    query = wrapper.smoke_input()
    assert list(query.columns) == ["recency_days", "frequency"]
    scores = wrapper.predict(None, query[["frequency", "recency_days"]])  # column order does not matter
    assert scores.shape == (1,) and 0 <= scores[0] <= 1
    assert registry.read_smoke_input(tmp_path) is None
    (tmp_path / "smoke_input.json").write_text('[{"recency_days": 1.0, "frequency": 2.0}]')
    assert registry.read_smoke_input(tmp_path).shape == (1, 2)


def test_gate_names_what_is_missing_before_touching_mlflow(data_root: str) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"ds=2024-03-01/metrics\.json: no metrics; the training stage"
    ):
        stage.gate_model(data_root, D1, CHURN)
    folder = churn_candidate(data_root, D1)
    (folder / "model.pkl").unlink()
    with pytest.raises(FileNotFoundError, match=r"no model artifact for churn \(looked for \['saved_model'"):
        stage.gate_model(data_root, D1, CHURN)
    with pytest.raises(ConfigError, match="model: unknown model 'nope'"):
        stage.gate_model(data_root, D1, "nope")
