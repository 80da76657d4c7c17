"""The run-level task functions: parameter checks, the processed day, training reuse, alerts, exports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import alerts, exports, nightly, stages, storage
from ecom_tasks.errors import ConfigError
from ecom_tasks.params import RunParams
from ecom_tasks.publish import outputs

DAY = "2024-03-31"


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"source": "ftp"}, "source"),
        ({"source": "online_retail", "source_path": "/no/such/file.csv"}, "source_path"),
        ({"epochs": -1}, "epochs"),
        ({"epochs": 0}, "epochs"),
        ({"start_date": "2024-03-10", "end_date": "2024-03-01"}, "start_date"),
        ({"end_date": "2024-04-30"}, "end_date"),  # after the run's day: not complete yet
        ({"end_date": "31/03/2024"}, "end_date"),
        ({"embedding_size": 4}, "embedding_size"),
        ({"embedding_size": 1000}, "embedding_size"),
        ({"force_publish": "yes"}, "force_publish"),
        ({"repeat_bonus": -0.5}, "repeat_bonus"),
        ({"repeat_bonus": "high"}, "repeat_bonus"),
    ],
)
def test_a_bad_trigger_is_refused_naming_the_parameter(params: dict, named: str, data_root: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{named}:"):
        nightly.check_run(params, DAY)
    assert list(Path(data_root).iterdir()) == []  # nothing written


def test_a_good_trigger_gives_the_plan() -> None:
    plan = nightly.check_run(
        {"end_date": "2024-02-29", "start_date": "2024-02-01", "force_publish": True}, DAY
    )
    assert plan["ds"] == "2024-02-29" and plan["train"] and plan["force_publish"]
    assert nightly.check_run({"skip_training": True, "embedding_size": 66}, DAY)["train"] is False


def test_the_processed_day_is_end_date_or_the_logical_day() -> None:
    assert nightly.run_day({}, dt.date(2024, 3, 31)) == DAY
    assert nightly.run_day({"end_date": "2024-02-29"}, DAY) == "2024-02-29"
    assert nightly.should_train({}) and not nightly.should_train({"skip_training": True})


def test_epochs_and_embedding_size_reach_the_training_config() -> None:
    config = nightly.stage_config("retrieval", RunParams(epochs=3, embedding_size=32, seed=5))
    assert (config.max_epochs, config.embedding_dim, config.seed) == (3, 32, 5)
    assert config.repeat_bonus == 2.0  # the shop's default: earlier items first


def test_repeat_bonus_is_set_per_shop_by_the_run() -> None:
    config = nightly.stage_config("retrieval", RunParams(repeat_bonus=0))
    assert config.repeat_bonus == 0.0 and isinstance(config.repeat_bonus, float)
    assert not config.learn_repeat_bonus  # as given, not learned on validation
    assert nightly.stage_config("retrieval", RunParams()).learn_repeat_bonus
    assert nightly.stage_config("retrieval", RunParams(repeat_bonus=0.5)).repeat_bonus == 0.5


def test_start_date_bounds_what_is_landed() -> None:
    from ecom_tasks.ingest import IngestConfig, _first_allowed

    config = IngestConfig.from_params({"start_date": "2024-03-20", "history_days": 30})
    assert _first_allowed(config, dt.date(2024, 3, 31)) == dt.date(2024, 3, 20)
    config = IngestConfig.from_params({"start_date": "2024-01-01", "history_days": 5})
    assert _first_allowed(config, dt.date(2024, 3, 31)) == dt.date(2024, 3, 27)


def test_training_output_that_is_already_right_is_reused(data_root: str, monkeypatch) -> None:
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    storage.write_partition(
        pd.DataFrame({"x": [1, 2]}), storage.partition_uri(data_root, "features", "t", DAY), source="test"
    )
    calls = []

    def train(champion):
        calls.append(champion)
        return {"recall_at_20": 0.5}

    first = nightly.reuse_or_train(data_root, DAY, "retrieval", {"epochs": 1}, train)
    again = nightly.reuse_or_train(data_root, DAY, "retrieval", {"epochs": 1}, train)
    assert calls == [None] and not first["reused"] and again["reused"] and again["recall_at_20"] == 0.5
    nightly.reuse_or_train(data_root, DAY, "retrieval", {"epochs": 2}, train)  # new config: retrain
    storage.write_partition(
        pd.DataFrame({"x": [1, 3]}), storage.partition_uri(data_root, "features", "t", DAY), source="test"
    )
    nightly.reuse_or_train(data_root, DAY, "retrieval", {"epochs": 2}, train)  # new inputs: retrain
    assert len(calls) == 3


def test_a_champion_of_the_same_day_is_handed_over_as_a_private_copy(data_root: str, monkeypatch) -> None:
    folder = Path(nightly.model_folder(data_root, "retrieval", DAY))
    folder.mkdir(parents=True)
    (folder / "weights.npz").write_text("champion")
    info = {"version": "1", "ds": DAY, "folder": str(folder)}
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: info)
    seen = {}

    def train(champion):
        seen["path"] = champion
        seen["content"] = (Path(champion) / "weights.npz").read_text()
        (folder / "weights.npz").write_text("candidate")  # training replaces the folder's files
        return {}

    nightly.reuse_or_train(data_root, DAY, "retrieval", {}, train)
    assert seen["content"] == "champion" and not seen["path"].startswith(str(folder))
    assert not Path(seen["path"]).exists()  # the copy is cleaned up


class _TI:
    dag_id, task_id, run_id, try_number, log_url = "ecom_nightly", "ingest", "manual__1", 3, "http://x/log"


def test_failure_alert_is_recorded_and_delivered(data_root: str, monkeypatch) -> None:
    received = []
    monkeypatch.setattr(alerts, "_post", lambda url, alert: received.append((url, alert)))
    monkeypatch.setenv(alerts.WEBHOOK_ENV, "http://alerts.example/hook")
    monkeypatch.setenv(alerts.CALLBACK_ENV, "tests.test_nightly:_collect")
    _COLLECTED.clear()
    alert = alerts.notify_failure({"ti": _TI(), "exception": ValueError("source_path: gone")})
    assert alert["text"] == "FAILED ecom_nightly.ingest run manual__1: ValueError: source_path: gone"
    assert received[0][0] == "http://alerts.example/hook" and [alert] == _COLLECTED
    lines = (Path(data_root) / alerts.ALERTS_FILE).read_text().splitlines()
    assert json.loads(lines[-1])["task_id"] == "ingest"


def test_a_stage_alert_goes_through_the_same_channels_with_its_kind(data_root: str, monkeypatch) -> None:
    monkeypatch.setenv(alerts.CALLBACK_ENV, "tests.test_nightly:_collect")
    _COLLECTED.clear()
    sent = alerts.deliver({"kind": "anomalies", "text": "3 anomalies on ds=2024-01-21", "count": 3})
    assert [sent] == _COLLECTED and sent["at"]
    recorded = json.loads((Path(data_root) / alerts.ALERTS_FILE).read_text().splitlines()[-1])
    assert recorded["kind"] == "anomalies" and recorded["count"] == 3
    assert alerts.notify_failure({"ti": _TI(), "exception": RuntimeError("x")})["kind"] == "failure"


def test_a_broken_alert_channel_never_raises(data_root: str, monkeypatch) -> None:
    monkeypatch.setenv(alerts.CALLBACK_ENV, "no_such_module:nothing")
    monkeypatch.setenv(alerts.WEBHOOK_ENV, "http://127.0.0.1:9/unreachable")
    assert alerts.notify_failure({"ti": _TI(), "exception": RuntimeError("boom")})["task_id"] == "ingest"


_COLLECTED: list[dict] = []


def _collect(alert: dict) -> None:
    _COLLECTED.append(alert)


def test_exports_follow_the_pointer_and_skip_unchanged_tables(data_root: str) -> None:
    spec = stages.get("churn").publication
    for day, risk in (("2024-03-30", 0.2), (DAY, 0.7)):
        frame = pd.DataFrame({"user_id": ["u1", "u2"], "churn_risk": [risk, 0.1]})
        outputs.write_output(data_root, "churn_scores", day, frame, source="test")
    outputs.move_pointer(data_root, spec, "3", DAY, require_outputs=True)
    first = exports.export_current(data_root)
    assert first["churn_scores"]["changed"] and first["churn_scores"]["ds"] == DAY
    exported = pd.read_parquet(first["churn_scores"]["path"])
    assert exported["churn_risk"].tolist() == [0.7, 0.1]
    assert exports.export_current(data_root)["churn_scores"]["changed"] is False
    outputs.move_pointer(data_root, spec, "2", "2024-03-30", require_outputs=True)  # a rollback
    assert exports.export_current(data_root)["churn_scores"]["ds"] == "2024-03-30"
    assert pd.read_csv(Path(data_root) / "exports" / "churn_scores.csv")["churn_risk"].tolist() == [0.2, 0.1]


def test_a_reused_output_that_is_the_champion_is_scored_as_itself(data_root: str, monkeypatch) -> None:
    folder = Path(nightly.model_folder(data_root, "retrieval", DAY))
    info = {"version": "1", "ds": DAY, "folder": str(folder)}
    champion = {"now": None}
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: champion["now"])

    def train(_):
        metrics = {"recall_at_20": 0.4, "popularity_recall_at_20": 0.1, "itemknn_recall_at_20": 0.3}
        storage.write_json(metrics, f"{folder}/metrics.json")
        return {}

    nightly.reuse_or_train(data_root, DAY, "retrieval", {}, train)
    assert not (folder / "champion_metrics.json").exists()  # no champion when it trained
    champion["now"] = info  # then it was published; a rerun of the same day reuses it
    assert nightly.reuse_or_train(data_root, DAY, "retrieval", {}, train)["reused"]
    assert json.loads((folder / "champion_metrics.json").read_text()) == {"recall_at_20": 0.4}


# --- a model that lacks data steps aside (issue #23) ----------------------------------------------


def _young_shop(root: str, days: int, last: str = DAY) -> None:
    """Validated event partitions for the ``days`` days up to ``last``: a shop that young."""
    end = dt.date.fromisoformat(last)
    for i in range(days):
        day = end - dt.timedelta(days=i)
        uri = storage.partition_uri(root, "validated", "events", day)
        storage.write_partition(pd.DataFrame({"x": [i]}), uri, source="test")


def test_a_head_on_a_young_shop_steps_aside_in_seconds_saying_why(
    data_root: str, monkeypatch, capsys
) -> None:
    from ecom_tasks import cli
    from ecom_tasks.errors import NotEnoughDataError, skips

    _young_shop(data_root, 50)
    assert nightly.history_days(data_root, DAY) == 50
    called = []
    monkeypatch.setattr(stages.ModelStage, "train_function", lambda self: called.append(self.name))
    expected = (
        f"churn not trained on ds={DAY}: needs 90 days of history after the first purchase for its labels "
        "(91 days in all), the shop has 50"
    )
    with pytest.raises(NotEnoughDataError) as raised:
        nightly.train(data_root, DAY, "churn", {})
    assert str(raised.value) == expected and skips(raised.value) and not called  # before any training
    assert nightly.read_skip(data_root, "churn", DAY) == {
        "model": "churn", "ds": DAY, "step": "train", "reason": expected
    }  # fmt: skip
    capsys.readouterr()
    assert cli.main(["summary", "--ds", DAY, "--root", data_root]) == 0
    assert f"not trained: {expected}" in capsys.readouterr().out  # the run summary says why
    from ecom_tasks.publish.config import PublishConfig
    from ecom_tasks.ui.models import latest_skip

    assert latest_skip(data_root, PublishConfig().model("churn"), [])["reason"] == expected  # the UI page


def test_a_train_function_that_finds_too_little_data_is_skipped_and_a_rerun_clears_it(
    data_root: str, monkeypatch
) -> None:
    from ecom_tasks.errors import NotEnoughDataError
    from ecom_tasks.ranking.core import RankingDataError

    _young_shop(data_root, 120)
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    monkeypatch.setattr(nightly, "_fingerprint", lambda *a, **k: "f")
    outcome: list = [RankingDataError("interactions/ds=D: no training lists: no user ...")]

    def fake_train(root, ds, config, champion):
        if outcome:
            raise outcome.pop()
        return {"ok": True}

    monkeypatch.setattr(stages.ModelStage, "train_function", lambda self: fake_train)
    with pytest.raises(
        NotEnoughDataError, match=f"^ranking not trained on ds={DAY}: interactions/ds=D: no training"
    ):
        nightly.train(data_root, DAY, "ranking", {})
    assert nightly.read_skip(data_root, "ranking", DAY)["step"] == "train"
    assert nightly.train(data_root, DAY, "ranking", {})["ok"]  # more data: trained, the skip is gone
    assert nightly.read_skip(data_root, "ranking", DAY) is None


def test_a_candidate_with_too_few_held_out_users_is_not_gated(data_root: str) -> None:
    from ecom_tasks.errors import NotEnoughDataError
    from ecom_tasks.publish import evaluation

    folder = nightly.model_folder(data_root, "retrieval", DAY)
    evaluation.write(folder, pd.DataFrame({"recall_at_20": [1.0, 0.0, 1.0]}))
    with pytest.raises(
        NotEnoughDataError, match=r"3 held-out users in its test window, the gate needs at least 20"
    ):
        nightly.gate(data_root, DAY, "retrieval", {})
    record = nightly.read_skip(data_root, "retrieval", DAY)
    assert record["step"] == "gate" and record["reason"].startswith(
        f"retrieval trained on ds={DAY} but not gated"
    )
    from ecom_tasks.publish.gate import NoiseConfig
    from ecom_tasks.publish.stage import check_examples

    check_examples("toy", DAY, None, NoiseConfig())  # no minimum declared: the gate decides


_EDITED_ENTRY = """
from ecom_tasks.publish.specs import ModelGate, ModelSpec
from ecom_tasks.stages import ModelStage

STAGE = ModelStage(
    name="edited", train="edited_stage.train:train", config="edited_stage.train:Config",
    gate=ModelGate("edited", metrics={"edited_mae": "lower"}), publication=ModelSpec("edited"),
)
"""
_EDITED_TRAIN = """
import dataclasses

@dataclasses.dataclass(frozen=True)
class Config:
    @classmethod
    def from_run(cls, run):
        return cls()

def train(root, ds, config, champion):
    return {"built_by": VERSION}
"""


def test_an_uncommitted_edit_of_a_train_function_retrains(
    data_root: str, tmp_path: Path, monkeypatch
) -> None:
    """The commit is the same before and after the edit: the hash of the stage's source tells them apart."""
    import sys

    package = tmp_path / "src" / "edited_stage"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "entry.py").write_text(_EDITED_ENTRY)
    (package / "train.py").write_text(f"VERSION = 1\n{_EDITED_TRAIN}")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    monkeypatch.setenv(stages.ENV, "edited_stage.entry:STAGE")
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    for name in [m for m in sys.modules if m.startswith("edited_stage")]:
        monkeypatch.delitem(sys.modules, name)

    first = nightly.train(data_root, DAY, "edited", {})
    again = nightly.train(data_root, DAY, "edited", {})
    assert first == {"built_by": 1, "champion": None, "reused": False} and again["reused"]

    (package / "train.py").write_text(f"VERSION = 2\n{_EDITED_TRAIN}")  # edited, not committed
    monkeypatch.delitem(sys.modules, "edited_stage.train")  # the next task's process imports it afresh
    edited = nightly.train(data_root, DAY, "edited", {})
    assert edited == {"built_by": 2, "champion": None, "reused": False}


def test_an_uncommitted_edit_in_ecom_tasks_retrains(data_root: str, tmp_path: Path, monkeypatch) -> None:
    from ecom_tasks import codehash

    tree = tmp_path / "ecom_tasks"
    (tree / "heads").mkdir(parents=True)
    (tree / "heads" / "stage.py").write_text("EPOCHS = 1\n")
    monkeypatch.setattr(codehash, "PACKAGE_DIR", tree)  # the package's source, pointed at a copy
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    calls = []

    def train(champion):
        calls.append(champion)
        return {}

    nightly.reuse_or_train(data_root, DAY, "churn", {}, train)
    assert nightly.reuse_or_train(data_root, DAY, "churn", {}, train)["reused"]
    (tree / "heads" / "stage.py").write_text("EPOCHS = 20\n")
    assert not nightly.reuse_or_train(data_root, DAY, "churn", {}, train)["reused"]
    (tree / "heads" / "notes.txt").write_text("not source")  # only .py files count
    assert nightly.reuse_or_train(data_root, DAY, "churn", {}, train)["reused"] and len(calls) == 2


def test_the_source_hash_sees_names_and_contents_and_finds_a_stages_package(tmp_path: Path) -> None:
    from ecom_tasks import codehash

    (tmp_path / "a.py").write_text("x = 1\n")
    first = codehash.tree_hash(tmp_path)
    assert codehash.tree_hash(tmp_path) == first  # cached: unchanged files are not read again
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert codehash.tree_hash(tmp_path) != first  # same content, another name
    toy = codehash.module_source("tests.toy_stage.train:train")
    assert toy == Path(__file__).resolve().parent / "toy_stage"
    assert codehash.module_source("ecom_tasks.heads.stage:fine_tune_churn") is None  # hashed whole
    assert codehash.module_source("no_such_module:train") is None
    from ecom_tasks.publish import tracking

    assert f"src{codehash.source_hash()[:12]}" in tracking.code_version()  # the lineage shows edits too


@pytest.mark.parametrize(
    ("model", "unit"),
    [("ranking", "evaluation users"), ("churn", "test customers"), ("repurchase", "test customers")],
)
def test_ranking_and_the_heads_step_aside_below_their_minimum_test_size(
    data_root: str, model: str, unit: str
) -> None:
    """A few dozen test examples decide nothing: below the floor the gate is skipped, not a noisy pass."""
    from ecom_tasks.errors import NotEnoughDataError
    from ecom_tasks.publish import evaluation
    from ecom_tasks.publish.stage import check_examples, noise_config

    folder = nightly.model_folder(data_root, model, DAY)
    evaluation.write(folder, pd.DataFrame({f"{model}_metric": [1.0, 0.0] * 9 + [1.0]}))  # 19
    with pytest.raises(
        NotEnoughDataError, match=rf"19 {unit} in its test window, the gate needs at least 20"
    ):
        nightly.gate(data_root, DAY, model, {})
    assert nightly.read_skip(data_root, model, DAY)["step"] == "gate"
    assert not Path(folder, "blessing.json").exists()
    check_examples(model, DAY, pd.DataFrame({"x": range(20)}), noise_config(model))  # 20: the gate decides
    check_examples(model, DAY, None, noise_config(model))  # no per-example results: point metrics decide


@pytest.mark.parametrize("age", [8, 30, 50, 89, 91])
def test_each_stages_history_decision_at_the_ages_of_a_young_shop(data_root: str, age: int) -> None:
    """The Done-when ages of issue #23: before any training, a stage steps aside exactly when the shop
    is younger than it needs, for every registered stage (the heads: 91 days; the others: no floor)."""
    from ecom_tasks.errors import NotEnoughDataError

    _young_shop(data_root, age)
    expected_aside = {"churn", "repurchase"} if age < 91 else set()
    aside = set()
    for stage in stages.registered():
        try:
            nightly.check_history(data_root, DAY, stage)
        except NotEnoughDataError as exc:
            assert str(exc).endswith(f"the shop has {age}") and f"ds={DAY}" in str(exc)
            aside.add(stage.name)
        assert (stage.name in aside) == (age < stage.min_history_days), stage.name
    assert expected_aside <= aside and {"retrieval", "ranking"}.isdisjoint(aside)
