"""Retrieval never serves an item the customer returned (as of the model's ds) or one out of the catalogue.

Hand-made cases on the toy walks (12 items i0..i11): u3 returned i4, u5 returned i9 after the
held-out window began, i7 is missing from the day's catalogue.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from ecom_tasks.contract import ITEM_ID, TS, USER_ID
from ecom_tasks.retrieval import backbone, data, evaluate, exclusions, export, scoring, stage, train
from ecom_tasks.retrieval.backbone import Backbone
from ecom_tasks.retrieval.config import SERVING_FEATURES, SERVING_HISTORY, SERVING_USER_ID
from tests.retrieval.conftest import START, catalogue, tiny_config, walks

END = START + pd.Timedelta(days=5)  # the toy walks run 3.5 days
CUTOFF = END - pd.Timedelta(days=1)


def _returns() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            USER_ID: ["u3", "u5", "u3"],
            ITEM_ID: ["i4", "i9", "i4"],
            TS: [START + pd.Timedelta(hours=30), CUTOFF + pd.Timedelta(hours=2), START],
        }
    )
    return frame.astype({TS: "datetime64[us, UTC]"})


def _model():
    interactions, items = walks(), catalogue()
    config = tiny_config(repeat_bonus=0.0)
    vocabs = data.build_vocabularies(data.clean_interactions(interactions), items, None, config)
    feats = data.user_feature_matrix(None, vocabs)
    return config, vocabs, train.build_model(vocabs, config, items, feats)


def _column(vocabs: data.Vocabularies, item: str) -> int:
    return int(vocabs.item_rows([item])[0]) - vocabs.first_item_row


def test_exclusions_per_user_and_out_of_the_catalogue() -> None:
    _, vocabs, _ = _model()
    cat = catalogue()
    ex = exclusions.serving_exclusions(vocabs, _returns(), cat[cat[ITEM_ID] != "i7"])
    assert np.flatnonzero(ex.blocked).tolist() == [_column(vocabs, "i7")]
    rows = vocabs.user_rows(["u3", "u5", "u0", "nobody"])
    got = [c.tolist() for c in ex.returned_of(rows)]
    assert got == [[_column(vocabs, "i4")], [_column(vocabs, "i9")], [], []]  # i4 twice: once
    # Point in time: the lists served at the cutoff leave out only what was returned before it.
    before = _returns()[_returns()[TS] < CUTOFF]
    assert exclusions.returned_ids(before, ["u3", "u5"]) == [["i4"], []]
    assert exclusions.blocked_columns(vocabs, None).sum() == 0
    merged = exclusions.merged([np.array([3, 1])], None, [np.array([1, 5])])
    assert [m.tolist() for m in merged] == [[1, 3, 5]]
    assert exclusions.merged(None, None) is None


def test_an_empty_slot_is_never_a_hit() -> None:
    # u0's target is outside the catalogue (column -1); an empty slot (-1) must not match it.
    top = np.array([[-1, 2], [0, -1]])
    metrics = evaluate.ranking_metrics(top, [np.array([-1]), np.array([0])], ks=(2,))
    assert metrics["hr_at_2"] == 0.5
    blocked = scoring.score_items(tf.eye(2), tf.eye(2), blocked=tf.constant([False, True])).numpy()
    assert blocked[:, 1].tolist() == [-np.inf, -np.inf]
    assert scoring.served_columns(np.array([[0.5, -np.inf]]), np.array([[0, 1]])).tolist() == [[0, -1]]


def test_backbone_and_saved_model_never_serve_returned_or_unlisted_items(tmp_path) -> None:
    config, vocabs, model = _model()
    cat = catalogue()
    model.exclusions = exclusions.serving_exclusions(vocabs, _returns(), cat[cat[ITEM_ID] != "i7"])
    n = vocabs.num_items
    inputs = {
        SERVING_USER_ID: np.array(["u3", "u5", "stranger"]),
        SERVING_HISTORY: np.array([["i4", "i5"], ["i1", ""], ["", ""]]),
        SERVING_FEATURES: np.zeros((3, 0), np.float32),
    }
    ids, scores = Backbone(model, vocabs, config, []).top_k(inputs, n)
    served = [set(row) - {""} for row in ids]
    assert served[0] == {f"i{i}" for i in range(12)} - {"i4", "i7"}
    assert served[1] == {f"i{i}" for i in range(12)} - {"i9", "i7"}
    assert served[2] == {f"i{i}" for i in range(12)} - {"i7"}
    # The slots nothing servable fills come last, empty, with score -inf.
    assert ids[0][-2:].tolist() == ["", ""] and np.isneginf(scores[0][-2:]).all()
    # The caller's exclusions add to the model's own.
    more, _ = Backbone(model, vocabs, config, []).top_k(inputs, n, exclude=[["i0"], [], []])
    assert "i0" not in more[0] and "i4" not in more[0]

    path = export.export_saved_model(model, vocabs, str(tmp_path / "sm"), k=5)
    loaded = export.load_recommender(path)
    users = list(inputs[SERVING_USER_ID])
    histories = [["i4", "i5"], ["i1"], []]
    got, got_scores = export.recommend(loaded, users, histories, k=n)
    assert [set(row) - {""} for row in got] == served
    np.testing.assert_allclose(got_scores, scores, atol=1e-5)
    kept, _ = export.recommend(loaded, users, histories, k=n, exclude=[["i0"], [], []])
    assert "i0" not in kept[0] and "i4" not in kept[0] and "i9" not in kept[1]

    # The exclusions travel with the model's tower state (load_backbone restores them from it).
    state = backbone.tower_state(model)
    assert state["blocked"].tolist() == model.exclusions.blocked.tolist()
    assert state["returned_splits"].tolist() == model.exclusions.returned_splits.tolist()


@pytest.mark.parametrize("bonus", [0.0, 2.0])
def test_the_evaluation_as_served_leaves_out_what_was_returned_before_the_cutoff(bonus) -> None:
    interactions, items = walks(), catalogue()
    config = tiny_config(max_epochs=1, repeat_bonus=bonus, learn_repeat_bonus=False)
    # u3's and u5's held-out items: the returned item is u3's target; u5 returns i9 only later.
    extra = pd.DataFrame(
        {
            USER_ID: ["u3", "u5"],
            ITEM_ID: ["i4", "i9"],
            TS: [CUTOFF + pd.Timedelta(hours=1)] * 2,
            "weight": [1.0, 1.0],
        }
    ).astype({TS: "datetime64[us, UTC]"})
    frame = pd.concat([interactions, extra], ignore_index=True)
    trained = stage.train_and_evaluate(
        frame,
        items,
        None,
        config,
        cutoff=CUTOFF,
        end=END,
        returns=_returns(),
        catalogue_items=items[items[ITEM_ID] != "i7"],
    )
    vocabs, test = trained.vocabs, trained.test
    users = [vocabs.users[u] for u in test.users]
    u3, u5 = users.index("u3"), users.index("u5")
    assert _column(vocabs, "i4") in test.exclusions[u3]  # returned before the cutoff
    assert _column(vocabs, "i9") not in test.exclusions[u5]  # returned after it: still servable then
    # u3's only target is the item returned before: the served list can never hit it.
    assert trained.per_user["recall_at_20"][u3] == 0.0
    # The exported model knows every return up to the end of the day, and the missing item.
    ex = trained.model.exclusions
    assert ex.returned_of(vocabs.user_rows(["u5"]))[0].tolist() == [_column(vocabs, "i9")]
    assert ex.blocked[_column(vocabs, "i7")] and ex.blocked.sum() == 1
