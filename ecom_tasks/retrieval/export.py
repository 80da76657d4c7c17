"""Export: a SavedModel mapping a user (id, features, history) to the top-K item ids and scores.

The artifact is a ``tfrs`` BruteForce index over every catalogue item, wrapping the query tower;
it scores as ``scoring`` does everywhere else: cosine plus ``repeat_bonus`` on the items of the
``history`` input, excluded items never returned.
It is called once before saving (TFRS requires it: the first call builds the query model). Two
signatures:

- ``serving_default(user_id, history, user_features, k)``
- ``recommend_excluding(user_id, history, user_features, exclude, k)``: never returns an item of
  ``exclude`` (for example the items the user already bought).

Inputs: ``user_id`` [b] strings (unknown or empty ids use the out-of-vocabulary row);
``history`` [b, n] item ids, oldest first, padded with "" at the end (unknown items are fine);
``user_features`` [b, f] float32 in ``vocabularies.json``'s ``user_feature_names`` order, NaN
where unknown; ``exclude`` [b, m] item ids padded with ""; ``k`` int32 scalar. Outputs:
``item_ids`` [b, k] strings and ``scores`` [b, k] (cosine similarities, plus the repeat bonus
for history items), best first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from ecom_tasks import savedmodel
from ecom_tasks.retrieval import scoring
from ecom_tasks.retrieval.config import (
    OUT_ITEM_IDS,
    OUT_SCORES,
    PAD,
    SERVING_EXCLUDE,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_K,
    SERVING_USER_ID,
    SIGNATURE_EXCLUDING,
)
from ecom_tasks.retrieval.data import Vocabularies
from ecom_tasks.retrieval.model import RetrievalModel


class RepeatAwareBruteForce(tfrs.layers.factorized_top_k.BruteForce):
    """A BruteForce index that scores like the rest of the stage (``scoring``).

    Called with the serving inputs, it adds ``repeat_bonus`` to the items of the ``history``
    input and never returns the items of ``exclude`` (exclusion wins over the bonus). Columns
    come from the item tower's lookup: padding and unknown ids get no column.
    """

    def __init__(
        self, query_model: tf.keras.Model, item_lookup, first_item_row: int, repeat_bonus: float, k: int
    ):
        super().__init__(query_model, k=k)
        self.item_lookup = item_lookup
        self.first_item_row = first_item_row
        self.repeat_bonus = float(repeat_bonus)

    def _columns(self, ids: tf.Tensor) -> tf.Tensor:
        rows = tf.cast(self.item_lookup(ids), tf.int64) - self.first_item_row
        return tf.where(rows >= 0, rows, -1)

    def call(
        self,
        queries: dict[str, tf.Tensor],
        k: int | tf.Tensor | None = None,
        exclude: tf.Tensor | None = None,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        k = k if k is not None else self._k
        if self._candidates is None:
            raise ValueError("The `index` method must be called first to create the retrieval index.")
        scores = scoring.score_items(
            self.query_model(queries),
            self._candidates,
            history=self._columns(queries[SERVING_HISTORY]) if self.repeat_bonus else None,
            bonus=self.repeat_bonus,
            exclude=None if exclude is None else self._columns(exclude),
        )
        values, indices = tf.math.top_k(scores, k=k)
        return values, tf.gather(self._identifiers, indices)


class Recommender(tf.Module):
    """The exported module: a BruteForce index over all items with the query tower inside."""

    def __init__(self, index: RepeatAwareBruteForce, num_items: int, num_features: int):
        super().__init__()
        self.index = index
        self.num_items = num_items
        strings = tf.TensorSpec([None], tf.string)
        matrix = tf.TensorSpec([None, None], tf.string)
        features = tf.TensorSpec([None, num_features], tf.float32)
        k = tf.TensorSpec([], tf.int32)
        self.recommend = tf.function(self._recommend, input_signature=[strings, matrix, features, k])
        self.recommend_excluding = tf.function(
            self._recommend_excluding, input_signature=[strings, matrix, features, matrix, k]
        )

    def _query(
        self, user_id: tf.Tensor, history: tf.Tensor, user_features: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        return {SERVING_USER_ID: user_id, SERVING_HISTORY: history, SERVING_FEATURES: user_features}

    def _recommend(
        self, user_id: tf.Tensor, history: tf.Tensor, user_features: tf.Tensor, k: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        k = tf.clip_by_value(k, 1, self.num_items)
        scores, ids = self.index(self._query(user_id, history, user_features), k=k)
        return {OUT_ITEM_IDS: ids, OUT_SCORES: scores}

    def _recommend_excluding(
        self,
        user_id: tf.Tensor,
        history: tf.Tensor,
        user_features: tf.Tensor,
        exclude: tf.Tensor,
        k: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        k = tf.clip_by_value(k, 1, self.num_items)
        scores, ids = self.index(self._query(user_id, history, user_features), k=k, exclude=exclude)
        return {OUT_ITEM_IDS: ids, OUT_SCORES: scores}


def build_recommender(model: RetrievalModel, vocabs: Vocabularies, k: int) -> Recommender:
    """Index every catalogue item and call the index once (needed before saving)."""
    index = RepeatAwareBruteForce(
        model.query_tower, model.item_tower.item_lookup, vocabs.first_item_row, model.repeat_bonus, k
    )
    rows = tf.range(vocabs.first_item_row, len(vocabs.items))
    index.index(
        model.item_tower.candidate_embeddings(rows), tf.constant(vocabs.items[vocabs.first_item_row :])
    )
    n_features = len(vocabs.user_feature_names)
    index(
        {
            SERVING_USER_ID: tf.constant([PAD]),
            SERVING_HISTORY: tf.constant([[PAD]]),
            SERVING_FEATURES: tf.zeros([1, n_features], tf.float32),
        },
        k=1,
    )
    return Recommender(index, vocabs.num_items, n_features)


def export_saved_model(model: RetrievalModel, vocabs: Vocabularies, path: str, k: int = 100) -> str:
    """Save the recommender as a SavedModel at ``path`` (a local folder, replaced atomically)."""
    module = build_recommender(model, vocabs, k)
    signatures = {"serving_default": module.recommend, SIGNATURE_EXCLUDING: module.recommend_excluding}
    return savedmodel.save(module, path, signatures)


def load_recommender(path: str) -> tf.Module:
    """Load an exported recommender (``.recommend`` and ``.recommend_excluding`` are callable)."""
    return tf.saved_model.load(path)


def _pad(rows: Sequence[Sequence[str]]) -> np.ndarray:
    width = max([1, *(len(r) for r in rows)])
    out = np.full((len(rows), width), PAD, dtype=object)
    for i, r in enumerate(rows):
        out[i, : len(r)] = list(r)
    return out


def recommend(
    loaded: tf.Module,
    user_ids: Sequence[str],
    histories: Sequence[Sequence[str]],
    k: int,
    *,
    user_features: np.ndarray | None = None,
    exclude: Sequence[Sequence[str]] | None = None,
    num_features: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Query a loaded recommender from Python lists; returns (item ids [b, k] str, scores [b, k])."""
    feats = user_features if user_features is not None else np.full((len(user_ids), num_features), np.nan)
    args = {
        SERVING_USER_ID: tf.constant(np.asarray(user_ids, dtype=object).astype(str)),
        SERVING_HISTORY: tf.constant(_pad(histories).astype(str)),
        SERVING_FEATURES: tf.constant(np.asarray(feats, np.float32)),
        SERVING_K: tf.constant(k, tf.int32),
    }
    if exclude is None:
        out = loaded.recommend(**args)
    else:
        out = loaded.recommend_excluding(**args, **{SERVING_EXCLUDE: tf.constant(_pad(exclude).astype(str))})
    return out[OUT_ITEM_IDS].numpy().astype(str), out[OUT_SCORES].numpy()
