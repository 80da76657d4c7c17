"""The re-ranker artifact: a SavedModel scoring a user's candidate list.

Signature ``serving_default(user_id [b], history [b, n], user_features [b, f], item_ids [b, c],
retrieval_rank [b, c] int32) -> {scores [b, c]}``: strings are ids ("" pads), ``history`` is
oldest first, ``user_features`` follow ``ranker.json``'s ``user_feature_names`` (NaN unknown) and
``retrieval_rank`` is each candidate's place in the retrieval model's list (1 = best). A consumer
sorts the candidates by descending score.

Two modules share that signature, so the publish stage serves either the same way (ModelSpec
flavor ``tensorflow``): :class:`Reranker` (the trained head: purchase probabilities) and
:class:`IdentityReranker` (the retrieval order itself: ``1 / retrieval_rank``), published when the
head does not beat the retrieval order.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from ecom_tasks import savedmodel
from ecom_tasks.ranking.config import (
    OUT_SCORES,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_ITEM_IDS,
    SERVING_RETRIEVAL_RANK,
    SERVING_USER_ID,
)
from ecom_tasks.ranking.data import PAD, Lists
from ecom_tasks.ranking.model import RankingHead


def _specs(num_features: int) -> list[tf.TensorSpec]:
    strings, matrix = tf.TensorSpec([None], tf.string), tf.TensorSpec([None, None], tf.string)
    return [
        strings,
        matrix,
        tf.TensorSpec([None, num_features], tf.float32),
        matrix,
        tf.TensorSpec([None, None], tf.int32),
    ]


class _Signature(tf.Module):
    """The serving signature both re-rankers share; subclasses implement :meth:`scores`."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.rerank = tf.function(self._rerank, input_signature=_specs(num_features))

    def _rerank(
        self,
        user_id: tf.Tensor,
        history: tf.Tensor,
        user_features: tf.Tensor,
        item_ids: tf.Tensor,
        retrieval_rank: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        inputs = {
            SERVING_USER_ID: user_id,
            SERVING_HISTORY: history,
            SERVING_FEATURES: user_features,
            SERVING_ITEM_IDS: item_ids,
            SERVING_RETRIEVAL_RANK: retrieval_rank,
        }
        scores = self.scores(inputs)
        return {OUT_SCORES: tf.where(tf.equal(item_ids, PAD), tf.zeros_like(scores), scores)}

    def scores(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        raise NotImplementedError


class Reranker(_Signature):
    """The trained head behind the serving signature."""

    def __init__(self, head: RankingHead, num_features: int) -> None:
        super().__init__(num_features)
        self.head = head

    def scores(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.sigmoid(self.head(inputs, training=False))


class IdentityReranker(_Signature):
    """The retrieval order as a re-ranker: score ``1 / retrieval_rank`` (0 for unranked or padding)."""

    def scores(self, inputs: dict[str, tf.Tensor]) -> tf.Tensor:
        rank = tf.cast(inputs[SERVING_RETRIEVAL_RANK], tf.float32)
        return tf.where(rank > 0, 1.0 / tf.maximum(rank, 1.0), 0.0)


def save(module: Reranker | IdentityReranker, path: str) -> str:
    """Write ``module`` as a SavedModel at ``path`` (a local folder, replaced atomically)."""
    return savedmodel.save(module, path, {"serving_default": module.rerank})


def load_scorer(path: str) -> Callable[[Lists], np.ndarray]:
    """Load a saved re-ranker; the returned function maps :class:`Lists` to ``[u, c]`` scores."""
    signature = tf.saved_model.load(path).signatures["serving_default"]
    num_features = int(signature.structured_input_signature[1][SERVING_FEATURES].shape[1])

    def score(lists: Lists, batch: int = 512) -> np.ndarray:
        feats = lists.inputs[SERVING_FEATURES]
        if feats.shape[1] != num_features:
            raise ValueError(
                f"{path}: the re-ranker expects {num_features} user features, the lists have {feats.shape[1]}"
            )
        out = []
        for s in range(0, len(lists), batch):
            part = {k: v[s : s + batch] for k, v in lists.inputs.items()}
            feeds = {k: tf.constant(v) for k, v in part.items()}
            feeds[SERVING_FEATURES] = tf.constant(part[SERVING_FEATURES], tf.float32)
            feeds[SERVING_RETRIEVAL_RANK] = tf.constant(part[SERVING_RETRIEVAL_RANK], tf.int32)
            out.append(signature(**feeds)[OUT_SCORES].numpy())
        return np.concatenate(out) if out else np.zeros(lists.labels.shape, np.float32)

    return score
