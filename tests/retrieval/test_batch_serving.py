"""Batch serving: the exact two-stage top-k and the exported model's large calls.

A call of more users than the model's ``chunk`` is served in steps ordered by history length;
each user must get the answer it gets alone, in the order of the call.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ecom_tasks.retrieval import data, export, scoring, train
from tests.retrieval.conftest import catalogue, tiny_config, walks

N_ITEMS = 120


@pytest.mark.parametrize("seed", range(6))
def test_two_stage_top_k_is_tf_top_k_with_ties_bonus_and_exclusions(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows, n = scoring.MIN_ROWS + 1, int(rng.integers(40, 400))
    raw = rng.integers(-4, 4, size=(rows, n)) / 4 if seed % 2 else rng.normal(size=(rows, n))
    history = tf.constant(
        scoring.pad_columns([rng.integers(-1, n, size=rng.integers(0, 9)) for _ in range(rows)])
    )
    # Odd seeds exclude all but a few columns: the top k then reaches into the -inf ones.
    keep = 3 if seed % 2 else n - 5
    exclude = scoring.pad_columns([rng.choice(n, size=n - keep, replace=False) for _ in range(rows)])
    scores = scoring.exclude_columns(tf.constant(raw, tf.float32), tf.constant(exclude))
    for k in (1, 5, 9, n):  # the last one is a single top-k over the row
        values, columns = scoring.top_k(scores, k, history=history, bonus=0.75, group_width=4)
        want = tf.math.top_k(scoring.add_repeat_bonus(scores, history, 0.75), k=k)
        np.testing.assert_array_equal(columns.numpy(), want.indices.numpy())
        np.testing.assert_array_equal(values.numpy(), want.values.numpy())


@pytest.fixture(scope="module")
def model_and_vocabs():
    config = tiny_config(repeat_bonus=0.5)
    interactions = data.clean_interactions(walks(n_users=20, n_items=N_ITEMS, length=10))
    items = catalogue(N_ITEMS)
    vocabs = data.build_vocabularies(interactions, items, None, config)
    feats = data.user_feature_matrix(None, vocabs)
    return train.build_model(vocabs, config, items, feats), vocabs


def test_a_large_call_answers_each_user_as_alone_in_call_order(
    model_and_vocabs, tmp_path, monkeypatch
) -> None:
    model, vocabs = model_and_vocabs
    monkeypatch.setattr(scoring, "GROUP_WIDTH", 4)  # so k=5 takes the two-stage top-k
    # Steps of MIN_ROWS users: full steps take the two-stage top-k, the last and lone users not.
    path = export.export_saved_model(model, vocabs, str(tmp_path / "sm"), k=5, chunk=scoring.MIN_ROWS)
    loaded = export.load_recommender(path)
    rng = np.random.default_rng(0)
    # Histories of every length in scrambled order (chunks are cut by length), unknown ids too.
    lengths = rng.permutation(np.arange(2 * scoring.MIN_ROWS + 3) % 9)
    histories = [
        [f"i{j}" for j in rng.integers(0, N_ITEMS, size=n)] + (["nope"] if n == 3 else []) for n in lengths
    ]
    users = [f"u{i}" if i % 4 else "stranger" for i in range(len(histories))]
    exclude = [[h[-1]] if h else [] for h in histories]
    for k in (5, N_ITEMS - 1):  # two stages; one top-k over the row
        ids, scores = export.recommend(loaded, users, histories, k)
        kept, _ = export.recommend(loaded, users, histories, k, exclude=exclude)
        assert ids.shape == (len(users), k)
        for i, (user, history) in enumerate(zip(users, histories, strict=True)):
            alone, alone_scores = export.recommend(loaded, [user], [history], k)
            assert ids[i].tolist() == alone[0].tolist()
            np.testing.assert_allclose(scores[i], alone_scores[0], atol=1e-5)
            alone_kept, _ = export.recommend(loaded, [user], [history], k, exclude=[exclude[i]])
            assert kept[i].tolist() == alone_kept[0].tolist()
            assert not set(exclude[i]) & set(kept[i])


def test_strings_that_are_not_python_str_are_still_served(model_and_vocabs, tmp_path) -> None:
    model, vocabs = model_and_vocabs
    loaded = export.load_recommender(export.export_saved_model(model, vocabs, str(tmp_path / "sm"), k=5))
    ids, _ = export.recommend(loaded, [7], [[np.str_("i1"), "i2"]], 3)
    same, _ = export.recommend(loaded, ["7"], [["i1", "i2"]], 3)
    assert ids.tolist() == same.tolist()
