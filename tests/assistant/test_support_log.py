"""The shop's own support log (landing folder), the probe set and the probe accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.assistant import data, metrics
from ecom_tasks.assistant.build import with_support_log as _with_support_log
from ecom_tasks.assistant.config import DEFAULT_PROBE, AssistantConfig
from ecom_tasks.errors import SourceError
from ecom_tasks.params import RunParams
from ecom_tasks.sources.landing import _day_files


def _landing(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    for day, rows in (("2024-01-01", "where is my order,track_order\n"),
                      ("2024-01-02", "where's my parcel,track_order\nI want my money back,get_refund\n"),
                      ("2024-01-03", "a later day,track_order\n")):  # fmt: skip
        folder = tmp_path / f"ds={day}"
        folder.mkdir()
        (folder / "events.csv").write_text("event_id\n")
        (folder / "support_log.csv").write_text("instruction,intent\n" + rows)
    return tmp_path


def test_the_support_log_is_read_from_the_landing_days_up_to_ds(tmp_path):
    log = data.read_support_log(str(_landing(tmp_path)), "2024-01-02")
    assert log[data.TEXT].tolist() == ["where is my order", "where's my parcel", "I want my money back"]
    assert log[data.INTENT].tolist() == ["track_order", "track_order", "get_refund"]
    assert data.read_support_log(str(tmp_path), "2023-12-31").empty
    # ingest reads the same day folders and leaves the support log to the assistant
    assert set(_day_files(str(tmp_path / "ds=2024-01-01"))) == {"events"}


def test_a_support_log_without_its_columns_is_refused_naming_the_file(tmp_path):
    (tmp_path / "ds=2024-01-01").mkdir()
    (tmp_path / "ds=2024-01-01" / "support_log.csv").write_text("text,label\nhi,greet\n")
    with pytest.raises(SourceError, match=r"support_log\.csv") as error:
        data.read_support_log(str(tmp_path), "2024-01-01")
    assert "instruction" in str(error.value)


def test_the_log_only_adds_training_messages_never_held_out_ones(tmp_path):
    frame = pd.DataFrame({data.TEXT: ["a", "where is my order", "c"], data.INTENT: ["x", "track_order", "y"]})
    split = np.array([data.TRAIN, data.TEST, data.VALID], dtype=object)
    config = AssistantConfig(support_log=str(_landing(tmp_path)), support_examples=None, probe=None)
    out, out_split, examples, added = _with_support_log(frame, split, config, "2024-01-02")
    assert (examples, added) == (0, 2) and out[data.TEXT].tolist()[3:] == [
        "where's my parcel",
        "I want my money back",
    ]
    assert out_split.tolist() == [data.TRAIN, data.TEST, data.VALID, data.TRAIN, data.TRAIN]
    none = AssistantConfig(support_examples=None, probe=None)
    assert _with_support_log(frame, split, none, "2024-01-02")[2:] == (0, 0)


def test_a_probe_message_in_the_log_is_never_trained_on(tmp_path):
    probe = tmp_path / "probe.csv"
    probe.write_text("instruction,intent\nWhere's my parcel?,track_order\n")
    frame = pd.DataFrame({data.TEXT: ["a"], data.INTENT: ["x"]})
    split = np.array([data.TRAIN], dtype=object)
    config = AssistantConfig(
        support_log=str(_landing(tmp_path / "l")), support_examples=None, probe=str(probe)
    )
    out, _, _, added = _with_support_log(frame, split, config, "2024-01-02")
    assert added == 2 and out[data.TEXT].tolist() == ["a", "where is my order", "I want my money back"]


def test_the_built_in_examples_are_added_to_training_and_share_no_message_with_the_probe():
    examples = data.read_messages(AssistantConfig().support_examples)
    probe = data.read_messages(DEFAULT_PROBE)
    assert len(examples) >= 100 and not set(examples[data.TEXT].map(data.normalized)) & set(
        probe[data.TEXT].map(data.normalized)
    )
    frame = pd.DataFrame({data.TEXT: ["a", "b", "c"], data.INTENT: ["track_order", "oos", "x"]})
    split = np.array([data.TRAIN, data.VALID, data.TEST], dtype=object)
    out, out_split, added, logged = _with_support_log(frame, split, AssistantConfig(), "2024-01-02")
    # Only the examples of the intents this support data has: no intent the shop does not know.
    wanted = examples[examples[data.INTENT].isin(["track_order", "oos"])]
    assert (added, logged) == (len(wanted), 0) and set(out_split[3:]) == {data.TRAIN}
    assert set(out[data.INTENT]) == {"track_order", "oos", "x"} and 10 <= added < len(examples)
    assert data.normalized("Where's my ORDER?") == "where is my order"


def test_a_landing_run_names_its_folder_as_the_support_log(tmp_path):
    landing = RunParams(source="landing", source_path=str(tmp_path))
    assert AssistantConfig.from_run(landing).support_log == str(tmp_path)
    assert AssistantConfig.from_run(RunParams()).support_log is None


def test_probe_accuracy_counts_intents_and_rejections():
    labels = ["oos", "refund", "track"]
    probs = np.array([[0.1, 0.1, 0.8], [0.2, 0.5, 0.3], [0.7, 0.2, 0.1], [0.3, 0.35, 0.35]])
    truth = np.array(["track", "refund", "oos", "oos"], dtype=object)
    # threshold 0.4: the last is rejected (right); 0.3: it is answered "refund" (wrong)
    assert metrics.probe_accuracy(probs, labels, 0.4, truth, "oos") == 1.0
    assert metrics.probe_accuracy(probs, labels, 0.3, truth, "oos") == 0.75


def test_the_probe_file_is_short_common_phrasings_of_known_intents(support_folder):
    probe = data.read_messages(DEFAULT_PROBE)
    known = set(data.load(str(support_folder)).frame[data.INTENT])
    assert 30 <= len(probe) <= 60 and set(probe[data.INTENT]) <= known
    assert "where is my order" in set(probe[data.TEXT]) and (probe[data.INTENT] == "oos").sum() >= 8
    # held out: none of its messages is in the training data
    assert not set(probe[data.TEXT].str.lower()) & set(
        data.load(str(support_folder)).frame[data.TEXT].str.lower()
    )


def test_the_tfidf_baseline_decides_scope_apart_from_the_intent():
    from ecom_tasks.assistant.baselines import ScopedIntents, tfidf_logreg

    texts = ["track my order", "where is my order status", "order tracking please", "refund my money",
             "I want a refund", "money back refund", "where is the eiffel tower", "where do eggs come from",
             "what is the weather"]  # fmt: skip
    labels = ["track"] * 3 + ["refund"] * 3 + ["oos"] * 3
    model = tfidf_logreg(texts, labels, seed=1)
    assert isinstance(model, ScopedIntents) and list(model.classes_) == ["refund", "track", "oos"]
    probs = model.predict_proba(["where is my order", "where is the moon"])
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0].argmax() == 1 and probs[1].argmax() == 2  # shop words decide the scope, not "where is"
    assert not isinstance(tfidf_logreg(texts[:6], labels[:6], seed=1), ScopedIntents)  # no oos: intents only
