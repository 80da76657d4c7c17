"""The intent catalogue published with the assistant (outputs/assistant_intents)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.assistant import data, intents


def test_the_catalogue_counts_each_intent_and_says_how_it_is_answered():
    frame = pd.DataFrame(
        {
            data.TEXT: list("abcdefghij"),
            data.INTENT: ["track_order"] * 4 + ["complaint"] * 3 + ["oos"] * 3,
            "category": ["ORDER"] * 4 + ["FEEDBACK"] * 3 + [None] * 3,
        }
    )
    split = np.array(["train", "test", "test", "test", "train", "test", "test", "train", "test", "test"])
    # test rows: b c d (track_order), f g (complaint), i j (oos)
    predicted = np.array(
        ["track_order", "track_order", "oos", "complaint", "track_order", "oos", "complaint"]
    )
    spec = {"labels": ["complaint", "oos", "track_order"], "threshold": 0.4,
            "templates": {"track_order": "Your order {{Order Number}}", "complaint": "Sorry."}}  # fmt: skip
    table = intents.catalogue(frame, split, predicted, spec, "tfidf").set_index("intent")
    assert list(table.index) == ["complaint", "track_order", "oos"]  # FEEDBACK, ORDER, OUT_OF_SCOPE
    track = table.loc["track_order"]
    # decided track_order: b, c (right), g (wrong); truth track_order: b, c, d -> P 2/3, R 2/3, F1 2/3
    assert track["test_precision"] == pytest.approx(2 / 3) and track["test_recall"] == pytest.approx(2 / 3)
    assert track["test_f1"] == pytest.approx(2 / 3) and track["test_messages"] == 3
    assert track["train_messages"] == 1 and track["category"] == "ORDER"
    assert track["answered_by"] == "the customer's own orders and returns"
    assert track["template"] == "Your order {{Order Number}}"
    complaint = table.loc["complaint"]  # f right, g -> track_order; j decided complaint wrongly
    assert complaint["test_precision"] == 0.5 and complaint["test_recall"] == 0.5
    assert complaint["answered_by"] == "handed over to a person"
    away = table.loc["oos"]  # i rejected (right), j not; d rejected wrongly -> P 1/2, R 1/2
    assert away["test_recall"] == 0.5 and away["test_precision"] == 0.5 and away["category"] == "OUT_OF_SCOPE"
    assert (table["threshold"] == 0.4).all() and (table["model"] == "tfidf").all()
    assert table.loc["oos", "template"] == "" and table["train_messages"].dtype == np.int64
