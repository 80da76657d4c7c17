"""Vocabularies, sequences, windows and configuration (no training)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.contract import ITEM_ID, TS, USER_ID
from ecom_tasks.errors import ConfigError, ContractError
from ecom_tasks.features import stage as feature_stage
from ecom_tasks.retrieval import config as rc
from ecom_tasks.retrieval import data, pipeline
from tests.retrieval.conftest import catalogue, tiny_config


def frame(rows: list[tuple[str, str, int, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, TS, rc.WEIGHT])
    df[TS] = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(df[TS], unit="h")
    return df


def test_reads_the_feature_stage_tables() -> None:
    assert rc.INTERACTIONS_TABLE == feature_stage.INTERACTIONS
    assert rc.ITEM_FEATURES_TABLE == feature_stage.ITEM_FEATURES
    assert rc.USER_FEATURES_TABLE == feature_stage.PROFILES


def test_vocabularies_rows_and_unknown_ids() -> None:
    df = data.clean_interactions(frame([("a", "x", 0, 1), ("a", "y", 1, 1), ("b", "y", 2, 4)]))
    vocabs = data.build_vocabularies(df, catalogue(2).assign(item_id=["x", "z"]), None, tiny_config())
    assert vocabs.items[:3] == [rc.PAD, rc.OOV, rc.BOS]
    assert vocabs.items[3] == "y"  # most frequent first, then catalogue-only items
    assert set(vocabs.items[3:]) == {"x", "y", "z"}
    assert vocabs.num_items == 3
    np.testing.assert_array_equal(vocabs.item_rows(["y", "nope", None]), [3, 1, 0])
    per_user = vocabs.item_rows_per_user([["y", "nope"], [], ["y"]])
    assert [r.tolist() for r in per_user] == [[3, 1], [], [3]]
    assert vocabs.item_rows_per_user([]) == []
    assert vocabs.categories[2:] == ["c0", "c1"]
    assert "shade" in vocabs.title_tokens and "item" in vocabs.title_tokens
    assert data.Vocabularies.from_dict(vocabs.to_dict()) == vocabs


def test_clean_interactions_drops_anonymous_and_non_positive_and_names_missing_columns() -> None:
    df = frame([("a", "x", 0, 1), ("b", "x", 1, 0), ("c", "y", 2, -1)])
    df.loc[3] = [None, "x", df[TS].iloc[0], 1.0]
    assert data.clean_interactions(df)[USER_ID].tolist() == ["a"]
    with pytest.raises(ContractError, match=TS):
        data.clean_interactions(df.drop(columns=[TS]))


def test_sequences_collapse_repeats_and_leave_last_out() -> None:
    df = data.clean_interactions(
        frame([("a", "x", 0, 1), ("a", "x", 1, 4), ("a", "y", 2, 1), ("b", "y", 0, 1), ("a", "x", 3, 1)])
    )
    vocabs = data.build_vocabularies(df, None, None, tiny_config())
    seqs = data.build_sequences(df, vocabs, collapse_repeats=True)
    by_user = dict(zip([vocabs.users[u] for u in seqs.users], seqs.items, strict=True))
    x, y = vocabs.item_rows(["x", "y"])
    assert by_user["a"].tolist() == [x, y, x]
    assert seqs.weights[list(by_user).index("a")].tolist() == [4.0, 1.0, 1.0]  # the largest weight kept
    train, held, targets = data.leave_last_out(seqs)
    assert len(held) == 1 and targets.tolist() == [x]  # b has a single item: nothing held out
    assert [s.tolist() for s in train.items] == [[x, y], [y]]


def test_training_windows_every_item_is_a_target_once() -> None:
    seqs = data.Sequences(
        users=np.array([2, 3], np.int32),
        items=[np.arange(10, 17, dtype=np.int32), np.array([11], np.int32)],
        weights=[np.ones(7, np.float32), np.full(1, 2.0, np.float32)],
    )
    win = pipeline.training_windows(seqs, window=4, bos_row=2)
    assert win.num_examples == 8
    rows = {
        tuple(win.targets[i, : win.lengths[i]]): win.tokens[i, : win.lengths[i]].tolist()
        for i in range(len(win))
    }
    assert rows[(13, 14, 15, 16)] == [12, 13, 14, 15]  # newest window: previous item first
    assert rows[(10, 11, 12)] == [2, 10, 11]  # the first window starts with BOS
    assert rows[(11,)] == [2]
    hist = data.history_windows([np.arange(10, 17), np.array([5])], window=4, bos_row=2)
    assert hist.tolist() == [[13, 14, 15, 16], [2, 5, 0, 0]]  # newest items, left-aligned


def test_every_prefix_is_a_window_of_its_own_with_one_target() -> None:
    seqs = data.Sequences(
        users=np.array([2, 3], np.int32),
        items=[np.arange(10, 17, dtype=np.int32), np.array([11], np.int32)],
        weights=[np.ones(7, np.float32), np.full(1, 2.0, np.float32)],
    )
    win = pipeline.training_windows(seqs, window=4, bos_row=2, every_prefix=True)
    assert len(win) == win.num_examples == 8  # one window per item
    rows = {
        int(win.targets[i, win.lengths[i] - 1]): (
            win.tokens[i, : win.lengths[i]].tolist(),
            win.targets[i, : win.lengths[i]].tolist(),
        )
        for i in range(len(win))
        if win.users[i] == 2
    }
    assert rows[10] == ([2], [10])  # the first item: read after BOS
    assert rows[12] == ([2, 10, 11], [0, 0, 12])  # the loss at the last position only
    assert rows[16] == ([12, 13, 14, 15], [0, 0, 0, 16])  # the newest 4 positions: full context
    assert pipeline._buckets(4, 64, every_prefix=True)[1] == [64, 64, 64]  # one target a window


def test_dataset_batches_are_padded_per_bucket() -> None:
    seqs = data.Sequences(
        users=np.arange(3, dtype=np.int32) + 2,
        items=[np.arange(3, 3 + n, dtype=np.int32) for n in (1, 2, 5)],
        weights=[np.ones(n, np.float32) for n in (1, 2, 5)],
    )
    win = pipeline.training_windows(seqs, window=5, bos_row=2)
    ds = pipeline.make_dataset(
        win, np.zeros((5, 0), np.float32), tiny_config(max_history=5, tokens_per_batch=64)
    )
    seen = 0
    for batch in ds:
        assert batch[pipeline.TOKENS].shape == batch[pipeline.TARGETS].shape
        seen += int((batch[pipeline.TARGETS].numpy() > 0).sum())
    assert seen == 8


def test_config_names_the_bad_parameter() -> None:
    with pytest.raises(ConfigError, match="embedding_dim"):
        rc.RetrievalConfig(embedding_dim=0)
    with pytest.raises(ConfigError, match="negatives"):
        rc.RetrievalConfig(negatives="hard")
    with pytest.raises(ConfigError, match="num_heads"):
        rc.RetrievalConfig(embedding_dim=10, num_heads=3)
    with pytest.raises(ConfigError, match="temperature"):
        rc.RetrievalConfig(temperature=0)


def test_next_day_targets_point_into_the_following_day() -> None:
    days = np.array([1, 1, 1, 2, 2, 5])
    # query 0 (BOS) -> item 0; queries after day-1 items -> day 2 (offset-spread); after day 2 -> day 5
    assert pipeline.next_day_targets(days).tolist() == [0, 3, 4, 3, 5, 5]
    assert pipeline.next_day_targets(np.array([7, 7])).tolist() == [0, -1]  # one day: nothing next
    seqs = data.Sequences(
        users=np.array([2], np.int32),
        items=[np.array([10, 11, 12, 13, 14, 15], np.int32)],
        weights=[np.ones(6, np.float32)],
        days=[days],
    )
    win = pipeline.training_windows(seqs, window=6, bos_row=2, next_day=True)
    assert win.targets[0].tolist() == [10, 13, 14, 13, 15, 15] and win.num_examples == 6


def test_leave_last_day_out_holds_out_the_whole_last_basket() -> None:
    df = data.clean_interactions(
        frame([("a", "x", 0, 1), ("a", "y", 30, 1), ("a", "z", 31, 1), ("a", "y", 32, 1), ("b", "x", 5, 1)])
    )
    vocabs = data.build_vocabularies(df, None, None, tiny_config())
    seqs = data.build_sequences(df, vocabs, collapse_repeats=False)
    train, held, targets = data.leave_last_day_out(seqs)
    x, y, z = vocabs.item_rows(["x", "y", "z"])
    assert [s.tolist() for s in train.items] == [[x], [x]]  # a keeps day 0; b has one day only
    assert [h.tolist() for h in held.items] == [[x]]
    assert [sorted(t.tolist()) for t in targets] == [sorted([y, z])]


def test_leave_last_days_out_holds_out_a_span_ending_at_each_users_last_day() -> None:
    # Hours: a is active on days 0, 3, 6 and 9; b on days 0 and 1; c on day 2 only.
    rows = [("a", "w", 0, 1), ("a", "x", 72, 1), ("a", "y", 144, 1), ("a", "z", 216, 1), ("a", "x", 217, 1)]
    rows += [("b", "x", 1, 1), ("b", "y", 25, 1), ("c", "z", 50, 1)]
    df = data.clean_interactions(frame(rows))
    assert data.basket_days(df[TS]).tolist()[:2] == [19723, 19726]  # 2024-01-01 is day 19,723
    vocabs = data.build_vocabularies(df, None, None, tiny_config())
    seqs = data.build_sequences(df, vocabs, collapse_repeats=False)
    w, x, y, z = vocabs.item_rows(["w", "x", "y", "z"])
    train, held, targets = data.leave_last_day_out(seqs, days=7)
    # a: days 3..9 held out (the last 7 days up to day 9), day 0 kept; b: both days within 7 of
    # its last, so nothing earlier to read: b stays in training whole, as does c.
    assert [s.tolist() for s in train.items] == [[w], [x, y], [z]]
    assert [h.tolist() for h in held.items] == [[w]]
    assert [sorted(t.tolist()) for t in targets] == [sorted([x, y, z])]
    assert data.leave_last_day_out(seqs, days=1)[2][0].tolist() == sorted([x, z])
