"""A data root on an object store (``memory://`` here, ``s3://`` in tests/e2e/test_s3_root.py):
training reuse, lineage input hashes, alerts, exports and the file helpers of ``ecom_tasks.remote``."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from ecom_tasks import alerts, exports, nightly, remote, storage
from ecom_tasks.publish import card, outputs, tracking
from ecom_tasks.publish.config import ModelSpec

DAY = "2024-03-31"


@pytest.fixture
def memory_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh ``memory://`` data root, exported as ``ECOM_DATA_ROOT``."""
    root = f"memory://ecom-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("ECOM_DATA_ROOT", root)
    yield root
    fs = fsspec.filesystem("memory")
    if fs.exists(root):
        fs.rm(root, recursive=True)


def _features(root: str, values: list[int]) -> None:
    frame = pd.DataFrame({"x": values})
    storage.write_partition(frame, storage.partition_uri(root, "features", "t", DAY), source="test")


def test_training_reuse_fires_on_an_object_store_root(memory_root: str, monkeypatch) -> None:
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    _features(memory_root, [1, 2])
    calls = []

    def train(champion):
        calls.append(champion)
        return {"recall_at_20": 0.5}

    first = nightly.reuse_or_train(memory_root, DAY, "retrieval", {"epochs": 1}, train)
    again = nightly.reuse_or_train(memory_root, DAY, "retrieval", {"epochs": 1}, train)
    assert calls == [None] and not first["reused"] and again["reused"] and again["recall_at_20"] == 0.5
    record = storage.read_json(f"{nightly.model_folder(memory_root, 'retrieval', DAY)}/_run.json")
    assert record["result"]["recall_at_20"] == 0.5
    _features(memory_root, [1, 3])  # new inputs: the fingerprint changes, training runs again
    nightly.reuse_or_train(memory_root, DAY, "retrieval", {"epochs": 1}, train)
    assert len(calls) == 2


def test_a_champion_on_an_object_store_is_handed_over_as_a_local_copy(memory_root: str, monkeypatch) -> None:
    folder = nightly.model_folder(memory_root, "retrieval", "2024-03-30")
    remote.write_uri(f"{folder}/saved_model/saved_model.pb", b"champion")
    info = {"version": "1", "ds": "2024-03-30", "folder": folder}
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: info)
    seen = {}

    def train(champion):
        seen["path"] = champion
        seen["content"] = (Path(champion) / "saved_model" / "saved_model.pb").read_bytes()
        return {}

    result = nightly.reuse_or_train(memory_root, DAY, "retrieval", {}, train)
    assert seen["content"] == b"champion" and os.path.isabs(seen["path"])  # TensorFlow reads local folders
    assert not Path(seen["path"]).exists()  # the copy is cleaned up
    assert result["champion"] == info


def test_lineage_records_input_hashes_on_an_object_store_root(memory_root: str) -> None:
    _features(memory_root, [1, 2])
    manifest = storage.read_manifest(storage.partition_uri(memory_root, "features", "t", DAY))
    assert tracking.input_hashes(memory_root, DAY, ("features", "raw")) == {
        "features/t": manifest.content_hash
    }


def test_staged_writes_replace_a_remote_folder_and_local_copies_read_it(memory_root: str) -> None:
    uri = f"{memory_root}/models/m/ds={DAY}/saved_model"
    for files in ({"saved_model.pb": b"1", "variables/old.index": b"x"}, {"saved_model.pb": b"2"}):
        with remote.staged_path(uri) as local:
            assert "://" not in local
            for name, body in files.items():
                os.makedirs(os.path.dirname(f"{local}/{name}"), exist_ok=True)
                Path(local, name).write_bytes(body)
    with remote.local_copy(uri) as local:
        found = {str(p.relative_to(local)): p.read_bytes() for p in Path(local).rglob("*") if p.is_file()}
    assert found == {"saved_model.pb": b"2"}  # the earlier version's files are gone
    with pytest.raises(RuntimeError), remote.staged_path(f"{memory_root}/failed.png") as local:
        Path(local).write_bytes(b"half")
        raise RuntimeError("the write failed")
    assert not remote.uri_exists(f"{memory_root}/failed.png")  # nothing uploaded
    remote.remove_uri(uri)
    assert not remote.uri_exists(uri)


def test_alerts_exports_and_cards_go_to_the_object_store(memory_root: str) -> None:
    alerts.notify_failure({"exception": ValueError("one")})
    alerts.notify_failure({"exception": ValueError("two")})
    lines = remote.read_uri(f"{memory_root}/{alerts.ALERTS_FILE}").decode().splitlines()
    assert [json.loads(line)["error"] for line in lines] == ["ValueError: one", "ValueError: two"]

    frame = pd.DataFrame({"user_id": ["a", "b"], "churn_risk": [0.1, 0.9]})
    outputs.write_output(memory_root, "churn_scores", DAY, frame, source="test")
    spec = ModelSpec("churn", output_tables=("churn_scores",))
    outputs.move_pointer(memory_root, spec, "1", DAY, require_outputs=True)
    result = exports.export_current(memory_root)
    assert result["churn_scores"]["path"] == f"{memory_root}/exports/churn_scores.parquet"
    with fsspec.open(result["churn_scores"]["path"], "rb") as fh:
        assert pd.read_parquet(fh)["churn_risk"].tolist() == [0.1, 0.9]
    assert remote.uri_exists(f"{memory_root}/exports/churn_scores.csv")
    assert exports.export_current(memory_root)["churn_scores"]["changed"] is False

    folder = f"{memory_root}/models/churn/ds={DAY}"
    remote.write_uri(f"{folder}/reliability.png", b"png")
    assert remote.glob_names(folder, "*.png") == ["reliability.png"]
    card._write(f"{folder}/model_card.md", "# card")
    assert remote.read_uri(f"{folder}/model_card.md") == b"# card"


def test_the_ui_serves_files_of_an_object_store_root(memory_root: str) -> None:
    from ecom_tasks.ui.files import data_file

    remote.write_uri(f"{memory_root}/reports/behaviour/ds={DAY}/report.html", b"<html>report</html>")
    remote.write_uri(f"{memory_root}/secret.txt", b"no")
    found = data_file(memory_root, "report.html", "reports", "behaviour", f"ds={DAY}")
    assert found is not None and found.read_bytes() == b"<html>report</html>"
    for bad in ("../../../secret.txt", "/secret.txt", "", "missing.html", "./report.html"):
        assert data_file(memory_root, bad, "reports", "behaviour", f"ds={DAY}") is None, bad
    assert data_file(memory_root, f"ds={DAY}", "reports", "behaviour") is None  # a folder


@pytest.mark.parametrize("where", ["memory", "local"])
def test_the_run_summary_lists_an_object_store_root(where: str, memory_root: str, data_root: str) -> None:
    from ecom_tasks.cli import describe_run

    root = memory_root if where == "memory" else data_root
    _features(root, [1, 2])
    storage.write_json({"rows": 2}, storage.partition_uri(root, "ingest", "summary", DAY) + "/summary.json")
    info = describe_run(root, DAY)
    assert [(p["stage"], p["table"], p["rows"]) for p in info["partitions"]] == [("features", "t", 2)]
    assert info["partitions"][0]["uri"] == storage.partition_uri(root, "features", "t", DAY)
    assert info["documents"] == [storage.partition_uri(root, "ingest", "summary", DAY) + "/summary.json"]


def test_mlflow_on_an_object_store_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ecom_tasks.errors import ConfigError
    from ecom_tasks.publish import lock

    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI: must be set"):
        tracking.tracking_uri("s3://bucket/shop")  # SQLite cannot live in a bucket
    monkeypatch.setenv(tracking.TRACKING_URI_ENV, f"sqlite:///{tmp_path}/mlflow.db")
    # A database store: the artifacts go to the same bucket as the data, the lock beside the database.
    assert tracking.artifact_location("s3://bucket/shop") == "s3://bucket/shop/mlflow/artifacts"
    assert lock.lock_path("s3://bucket/shop") == tmp_path / ".alias.lock"
    local = tmp_path / "data"
    assert tracking.artifact_location(str(local)) == (local / "mlflow" / "artifacts").as_uri()  # not ./mlruns
    monkeypatch.setenv(tracking.TRACKING_URI_ENV, "https://mlflow.example")
    assert tracking.artifact_location("s3://bucket/shop") is None  # the server decides


def test_a_run_on_an_object_store_root_without_a_tracking_uri_is_refused_first(
    memory_root: str, monkeypatch
) -> None:
    from ecom_tasks.errors import ConfigError

    monkeypatch.delenv(tracking.TRACKING_URI_ENV, raising=False)
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_URI: must be set"):
        nightly.check_run({}, DAY)
    assert nightly.check_run({"skip_training": True}, DAY)["train"] is False  # no MLflow needed
    assert not remote.uri_exists(memory_root)  # nothing written
