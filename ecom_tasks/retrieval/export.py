"""Export: a SavedModel mapping a user (id, features, history) to the top-K item ids and scores.

The artifact is a ``tfrs`` BruteForce index over every catalogue item, wrapping the query tower;
it scores as ``scoring`` does everywhere else: cosine plus the repeat lift on the items of the
``history`` input, excluded items never returned.
It is called once before saving (TFRS requires it: the first call builds the query model). Two
signatures:

- ``serving_default(user_id, history, user_features, k)``
- ``recommend_excluding(user_id, history, user_features, exclude, k)``: never returns an item of
  ``exclude`` (for example the items the user already bought).

Neither ever returns an item the user returned up to the model's ds or an item out of the
catalogue as of it (``exclusions``, baked into the model); a slot that only such an item could
fill comes back as "" with score ``-inf``.

Inputs: ``user_id`` [b] strings (unknown or empty ids use the out-of-vocabulary row);
``history`` [b, n] item ids, oldest first, padded with "" at the end (unknown items are fine);
``user_features`` [b, f] float32 in ``vocabularies.json``'s ``user_feature_names`` order, NaN
where unknown; ``exclude`` [b, m] item ids padded with ""; ``k`` int32 scalar. Outputs:
``item_ids`` [b, k] strings and ``scores`` [b, k] (cosine similarities, plus the repeat bonus
for history items), best first.

Batch serving: both signatures take any number of users; recommendations for a whole user base
are one call (:func:`recommend` from Python lists). A call of more than ``CHUNK`` users is served
``CHUNK`` at a time, shortest histories first (each step's query tower runs only as many history
positions as its own longest history), and the answers come back in input order; the top k is
``scoring.top_k``, exact in two stages. On Amazon Beauty (22,363 users, 12,101 items, k=10) one
call took 3.6-3.7 CPU-s on this 2-core machine (strings in and out included), against 4.9-5.3 s
before in batches of 1,024 sorted by history length and 13 s in file order (bench/RESULTS.md), so
no separate batch signature is needed.
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
from ecom_tasks.retrieval.exclusions import ServingExclusions
from ecom_tasks.retrieval.model import RetrievalModel

# Users per step of a large call. Beauty's 22,363 users (12,101 items, k=10) took 3.2-3.4 CPU-s
# with 256-512 per step, 4.6 s with 768 and 4.3 s with 1,024 (larger score matrices, more padding).
CHUNK = 512


class RepeatAwareBruteForce(tfrs.layers.factorized_top_k.BruteForce):
    """A BruteForce index that scores like the rest of the stage (``scoring``).

    Called with the serving inputs, it adds the repeat lift (``repeat_bonus`` + ``per_count`` *
    log(1 + times in the history)) to the items of the ``history``
    input and never returns the items of ``exclude`` (exclusion wins over the bonus). Columns
    come from the item tower's lookup: padding and unknown ids get no column.
    """

    def __init__(
        self,
        query_model: tf.keras.Model,
        item_lookup,
        first_item_row: int,
        repeat_bonus: float,
        k: int,
        exclusions: ServingExclusions | None = None,
        per_count: float = 0.0,
    ):
        super().__init__(query_model, k=k)
        self.item_lookup = item_lookup
        self.first_item_row = first_item_row
        self.repeat_bonus = float(repeat_bonus)
        self.per_count = float(per_count)
        # The model's own exclusions (exclusions.py): items out of the catalogue for everyone, and
        # per user row (the query tower's user lookup) the items they returned.
        self.has_blocked = exclusions is not None and bool(exclusions.blocked.any())
        self.has_returned = exclusions is not None and len(exclusions.returned_values) > 0
        if self.has_blocked:
            self.blocked = tf.constant(exclusions.blocked, tf.bool)
        if self.has_returned:
            self.returned_values = tf.constant(exclusions.returned_values, tf.int64)
            self.returned_splits = tf.constant(exclusions.returned_splits, tf.int64)

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
        excluded = None if exclude is None else self._columns(exclude)
        if self.has_returned:
            returned = self._returned(queries[SERVING_USER_ID])
            excluded = returned if excluded is None else tf.concat([excluded, returned], axis=1)
        scores = scoring.score_items(
            self.query_model(queries),
            self._candidates,
            exclude=excluded,
            blocked=self.blocked if self.has_blocked else None,
        )
        lifted = bool(self.repeat_bonus or self.per_count)
        history = self._columns(queries[SERVING_HISTORY]) if lifted else None
        values, columns = scoring.top_k(
            scores, k, history=history, bonus=self.repeat_bonus, per_count=self.per_count
        )
        # A slot only an excluded item could fill (fewer than k left) is returned empty.
        ids = tf.where(tf.math.is_inf(values), tf.constant(PAD), tf.gather(self._identifiers, columns))
        return values, ids

    def _returned(self, user_ids: tf.Tensor) -> tf.Tensor:
        # [b, m] columns each user returned (-1 padded); unknown users (OOV row) returned nothing.
        rows = tf.cast(self.query_model.user_lookup(user_ids), tf.int64)
        table = tf.RaggedTensor.from_row_splits(self.returned_values, self.returned_splits)
        return tf.gather(table, rows).to_tensor(default_value=-1)


class Recommender(tf.Module):
    """The exported module: a BruteForce index over all items with the query tower inside.

    A call of more than ``chunk`` users is served ``chunk`` users at a time, ordered by history
    length (see the module doc). A user's answer does not depend on the other users of the call
    (beyond the last-bit rounding any batched matmul has).
    """

    def __init__(self, index: RepeatAwareBruteForce, num_items: int, num_features: int, chunk: int = CHUNK):
        super().__init__()
        self.index = index
        self.num_items = num_items
        self.chunk = int(chunk)
        strings = tf.TensorSpec([None], tf.string)
        matrix = tf.TensorSpec([None, None], tf.string)
        features = tf.TensorSpec([None, num_features], tf.float32)
        k = tf.TensorSpec([], tf.int32)
        self.recommend = tf.function(self._recommend, input_signature=[strings, matrix, features, k])
        self.recommend_excluding = tf.function(
            self._recommend_excluding, input_signature=[strings, matrix, features, matrix, k]
        )

    def _recommend(
        self, user_id: tf.Tensor, history: tf.Tensor, user_features: tf.Tensor, k: tf.Tensor
    ) -> dict[str, tf.Tensor]:
        return self._serve(user_id, history, user_features, None, k)

    def _recommend_excluding(
        self,
        user_id: tf.Tensor,
        history: tf.Tensor,
        user_features: tf.Tensor,
        exclude: tf.Tensor,
        k: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        return self._serve(user_id, history, user_features, exclude, k)

    def _serve(
        self,
        user_id: tf.Tensor,
        history: tf.Tensor,
        user_features: tf.Tensor,
        exclude: tf.Tensor | None,
        k: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        k = tf.clip_by_value(k, 1, self.num_items)
        users = tf.shape(user_id)[0]

        def top(rows: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
            """The top k of the users at ``rows`` of the call (all of them when None)."""
            pick = (lambda t: t) if rows is None else (lambda t: tf.gather(t, rows))
            query = {
                SERVING_USER_ID: pick(user_id),
                SERVING_HISTORY: pick(history),
                SERVING_FEATURES: pick(user_features),
            }
            return self.index(query, k=k, exclude=None if exclude is None else pick(exclude))

        def chunked() -> tuple[tf.Tensor, tf.Tensor]:
            # Shortest histories first: each chunk's query tower runs only as many positions as
            # its own longest history (in file order nearly every chunk holds a 50-item one).
            lengths = tf.reduce_sum(tf.cast(tf.not_equal(history, PAD), tf.int32), axis=1)
            order = tf.argsort(lengths, stable=True)
            n_chunks = (users + self.chunk - 1) // self.chunk

            def step(i, out_scores, out_ids):
                values, ids = top(order[i * self.chunk : (i + 1) * self.chunk])
                return i + 1, out_scores.write(i, values), out_ids.write(i, ids)

            _, out_scores, out_ids = tf.while_loop(
                lambda i, *_: i < n_chunks,
                step,
                (
                    tf.constant(0),
                    tf.TensorArray(tf.float32, size=n_chunks, infer_shape=False),
                    tf.TensorArray(tf.string, size=n_chunks, infer_shape=False),
                ),
            )
            back = tf.math.invert_permutation(order)
            return tf.gather(out_scores.concat(), back), tf.gather(out_ids.concat(), back)

        scores, ids = tf.cond(users > self.chunk, chunked, top)
        return {OUT_ITEM_IDS: ids, OUT_SCORES: scores}


def build_recommender(model: RetrievalModel, vocabs: Vocabularies, k: int, chunk: int = CHUNK) -> Recommender:
    """Index every catalogue item and call the index once (needed before saving)."""
    bonus, per_count = model.repeat_lift()
    index = RepeatAwareBruteForce(
        model.query_tower,
        model.item_tower.item_lookup,
        vocabs.first_item_row,
        bonus,
        k,
        model.exclusions,
        per_count,
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
    return Recommender(index, vocabs.num_items, n_features, chunk)


def export_saved_model(
    model: RetrievalModel, vocabs: Vocabularies, path: str, k: int = 100, chunk: int = CHUNK
) -> str:
    """Save the recommender as a SavedModel at ``path`` (a local folder, replaced atomically)."""
    module = build_recommender(model, vocabs, k, chunk)
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


def _strings(values: np.ndarray) -> tf.Tensor:
    # Python strings go in as they are: a detour through NumPy's fixed-width unicode (astype(str))
    # took 0.26 s for 22k histories of up to 50 ids, 4x the padding itself. Other ids are str()-ed.
    try:
        return tf.constant(values, tf.string)
    except (TypeError, ValueError):
        return tf.constant(values.astype(str))


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
    """Query a loaded recommender from Python lists; returns (item ids [b, k] str, scores [b, k]).

    Any number of users in one call: the model serves a large call in steps (see the module doc).
    """
    feats = user_features if user_features is not None else np.full((len(user_ids), num_features), np.nan)
    args = {
        SERVING_USER_ID: _strings(np.asarray(user_ids, dtype=object)),
        SERVING_HISTORY: _strings(_pad(histories)),
        SERVING_FEATURES: tf.constant(np.asarray(feats, np.float32)),
        SERVING_K: tf.constant(k, tf.int32),
    }
    if exclude is None:
        out = loaded.recommend(**args)
    else:
        out = loaded.recommend_excluding(**args, **{SERVING_EXCLUDE: _strings(_pad(exclude))})
    return out[OUT_ITEM_IDS].numpy().astype(str), out[OUT_SCORES].numpy()
