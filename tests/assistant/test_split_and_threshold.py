"""The split (deterministic, stratified), the rejection decision, scores and the threshold choice."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.assistant import data, metrics
from ecom_tasks.errors import NotEnoughDataError, SourceError

OOS = "oos"


def _frame() -> pd.DataFrame:
    texts = [f"where is order {i}" for i in range(20)] + [f"refund please {i}" for i in range(10)]
    return pd.DataFrame({data.TEXT: texts, data.INTENT: ["track"] * 20 + ["refund"] * 10})


def test_split_is_stratified_and_the_same_whatever_the_row_order():
    frame = _frame()
    split = data.split(frame, seed=1, valid_share=0.2, test_share=0.3)
    counts = pd.crosstab(frame[data.INTENT], split)
    assert counts.loc["track"].to_dict() == {"test": 6, "train": 10, "valid": 4}
    assert counts.loc["refund"].to_dict() == {"test": 3, "train": 5, "valid": 2}
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = dict(zip(shuffled[data.TEXT], data.split(shuffled, 1, 0.2, 0.3), strict=True))
    assert again == dict(zip(frame[data.TEXT], split, strict=True))
    assert not (data.split(frame, 2, 0.2, 0.3) == split).all()  # another seed, another split


def test_load_reads_a_folder_with_the_csv_and_the_out_of_scope_json(tmp_path):
    _frame().to_csv(tmp_path / "support.csv", index=False)
    (tmp_path / "oos.json").write_text(json.dumps({"oos_val": [["what is the dow at", "oos"]]}))
    loaded = data.load(str(tmp_path))
    assert len(loaded.frame) == 31 and (loaded.frame[data.INTENT] == OOS).sum() == 1
    pd.DataFrame({data.TEXT: ["a"]}).to_csv(tmp_path / "support.csv", index=False)
    with pytest.raises(SourceError, match="column 'intent'"):
        data.load(str(tmp_path))


def test_too_few_messages_per_intent_steps_aside(tmp_path):
    _frame().head(25).to_csv(tmp_path / "s.csv", index=False)  # refund has 5 messages
    with pytest.raises(NotEnoughDataError, match="the smallest with 5"):
        data.load(str(tmp_path / "s.csv"))


def test_decide_rejects_out_of_scope_and_unsure_messages():
    labels = ["oos", "refund", "track"]
    probs = np.array([[0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.2, 0.45, 0.35]])
    predicted, rejected = metrics.decide(probs, labels, threshold=0.5, oos=OOS)
    assert predicted.tolist() == ["track", "oos", "oos"]
    assert rejected.tolist() == [False, True, True]


def test_scores_by_hand():
    truth = np.array(["a", "a", "b", "oos", "oos"])
    predicted = np.array(["a", "oos", "b", "oos", "b"])
    s = metrics.scores(truth, predicted, OOS)
    assert s["intent_accuracy"] == pytest.approx(2 / 3)
    assert s["in_scope_rejected"] == pytest.approx(1 / 3)
    assert s["oos_recall"] == pytest.approx(0.5)
    assert s["oos_precision"] == pytest.approx(0.5)  # two rejected, one of them out of scope
    # F1(a) = 2*1/(2+0+1) = 2/3; F1(b) = 2*1/(2+1+0) = 2/3
    assert s["intent_macro_f1"] == pytest.approx(2 / 3)


def test_threshold_is_chosen_on_a_hand_made_validation_set():
    labels = ["a", "b", "oos"]
    # Two in-scope messages (confident 0.9 and 0.6) and two out-of-scope ones the model calls "a"
    # with 0.55 and 0.4: a threshold above 0.55 rejects both, but above 0.6 it rejects an in-scope one.
    probs = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.55, 0.4, 0.05], [0.4, 0.35, 0.25]])
    truth = np.array(["a", "a", "oos", "oos"])
    table = metrics.tradeoff(probs, labels, truth, OOS)
    by_t = {row["threshold"]: row for row in table}
    assert by_t[0.0]["oos_recall"] == 0.0 and by_t[0.45]["oos_recall"] == 0.5
    assert by_t[0.6]["oos_recall"] == 1.0 and by_t[0.6]["in_scope_rejected"] == 0.0
    assert by_t[0.65]["in_scope_rejected"] == 0.5
    assert metrics.choose_threshold(table, max_in_scope_rejected=0.0) == 0.6
    # Nothing may be rejected that is in scope, and everything out of scope must go: 0.6 is the only fit;
    # with no allowance at all for a threshold, the lowest one is taken.
    assert metrics.choose_threshold([{"threshold": 0.3, "in_scope_rejected": 0.5, "oos_recall": 1.0,
                                      "intent_accuracy": 0.5}], 0.0) == 0.3  # fmt: skip
