"""Point-in-time candidate lists for the ranking head, from interactions and the backbone.

A *list* is one user's retrieval candidates as of an instant ``as_of``: the backbone reads the
user's interactions before ``as_of`` (never after) and proposes its top ``candidates`` items;
each item is labelled 1 when the user bought it in ``[as_of, window_end)``. Training lists may
also carry items the user viewed or carted in that window without buying them (hard negatives,
where the source logs views), with retrieval rank 0 ("not proposed").

Lists hold exactly the re-ranker's inputs (the serving signature of ``ranking.export``), so the
model trains, evaluates and serves on the same tensors.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks.contract import EVENT_TYPE, ITEM_ID, PURCHASE, TS, USER_ID
from ecom_tasks.errors import ContractError
from ecom_tasks.ranking.config import (
    SERVING_ITEM_IDS,
    SERVING_RETRIEVAL_RANK,
    SERVING_USER_ID,
)
from ecom_tasks.retrieval.backbone import Backbone

log = logging.getLogger(__name__)
PAD = ""


@dataclass
class Lists:
    """Candidate lists of ``len(self)`` users: model inputs, labels and evaluation targets."""

    inputs: dict[str, np.ndarray]  # the serving inputs, one row per user
    labels: np.ndarray  # [u, c] float32: 1 = bought in the label window
    targets: list[np.ndarray]  # per user, every item bought in the window (hits for the metrics)
    retrieval_scores: np.ndarray  # [u, c] the backbone's scores: cosine + repeat bonus (0 for added items)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def users(self) -> np.ndarray:
        return self.inputs[SERVING_USER_ID]

    @property
    def item_ids(self) -> np.ndarray:
        return self.inputs[SERVING_ITEM_IDS]

    @property
    def mask(self) -> np.ndarray:
        """``[u, c]`` 1 for real candidates, 0 for padding."""
        return (self.item_ids != PAD).astype(np.float32)

    def subset(self, idx: np.ndarray) -> Lists:
        pick = [int(i) for i in idx]
        return Lists(
            {k: v[idx] for k, v in self.inputs.items()},
            self.labels[idx],
            [self.targets[i] for i in pick],
            self.retrieval_scores[idx],
        )


def check_interactions(interactions: pd.DataFrame, where: str = "interactions") -> None:
    """Raise :class:`ContractError` naming the missing columns (``user_id, item_id, ts`` needed)."""
    missing = [c for c in (USER_ID, ITEM_ID, TS) if c not in interactions.columns]
    if missing:
        raise ContractError(f"{where}: missing column(s) {missing}; expected {USER_ID}, {ITEM_ID}, {TS}")


def purchases(interactions: pd.DataFrame) -> pd.Series:
    """Boolean mask of purchase rows; every row counts when the table has no ``event_type``."""
    if EVENT_TYPE not in interactions.columns:
        return pd.Series(True, index=interactions.index)
    return (interactions[EVENT_TYPE] == PURCHASE).fillna(False).astype(bool)


def window(interactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Known users' interactions with ``start <= ts < end``."""
    ts = interactions[TS]
    return interactions[(ts >= start) & (ts < end) & interactions[USER_ID].notna()]


def users_before(interactions: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Sorted ids of users with an interaction before ``as_of``."""
    known = interactions[(interactions[TS] < as_of) & interactions[USER_ID].notna()]
    return np.sort(known[USER_ID].astype(str).unique())


def _item_sets(frame: pd.DataFrame) -> dict[str, set[str]]:
    if frame.empty:
        return {}
    grouped = frame.groupby(frame[USER_ID].astype(str), sort=False)[ITEM_ID]
    return {u: set(map(str, s)) for u, s in grouped}


def candidate_lists(
    backbone: Backbone,
    interactions: pd.DataFrame,
    profiles: pd.DataFrame | None,
    users: Sequence[str],
    as_of: pd.Timestamp,
    window_end: pd.Timestamp | None,
    *,
    candidates: int,
    max_seen_negatives: int = 0,
    exclude: Sequence[Sequence[str]] | None = None,
) -> Lists:
    """The backbone's top ``candidates`` for ``users`` as of ``as_of``, labelled by the window.

    Args:
        backbone: the pretrained retrieval model (its order is the retrieval rank).
        interactions: the feature stage's interactions (``user_id, item_id, ts``, ``event_type``).
        profiles: customer profiles as of ``as_of`` (the backbone's feature columns), or None.
        users: whose lists to build, in output order.
        as_of: histories end here (exclusive); labels start here.
        window_end: labels end here (exclusive); None: no labels (serving lists).
        candidates: list length before added negatives.
        max_seen_negatives: per user, at most this many viewed/carted-not-bought items added.
        exclude: per user, item ids the backbone must not propose.
    """
    check_interactions(interactions)
    inputs = backbone.query_inputs(interactions, profiles, list(users), as_of)
    ids, scores = backbone.top_k(inputs, candidates, exclude=exclude)
    n = len(ids)
    ranks = np.tile(np.arange(1, ids.shape[1] + 1, dtype=np.int32), (n, 1))
    bought: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    if window_end is not None:
        win = window(interactions, as_of, window_end)
        buy = purchases(win)
        bought = _item_sets(win[buy])
        seen = _item_sets(win[~buy]) if max_seen_negatives else {}
    extra: list[list[str]] = []
    for u, row in zip(inputs[SERVING_USER_ID], ids, strict=True):
        offered = set(row.tolist())
        hard = sorted(seen.get(u, set()) - bought.get(u, set()) - offered)[:max_seen_negatives]
        extra.append(hard)
    width = ids.shape[1] + max((len(e) for e in extra), default=0)
    item_ids = np.full((n, width), PAD, dtype=object)
    item_ids[:, : ids.shape[1]] = ids
    rank = np.zeros((n, width), np.int32)
    rank[:, : ids.shape[1]] = ranks
    score = np.zeros((n, width), np.float32)
    score[:, : ids.shape[1]] = scores
    for i, hard in enumerate(extra):
        item_ids[i, ids.shape[1] : ids.shape[1] + len(hard)] = hard
    item_ids = item_ids.astype(str)
    targets = [np.array(sorted(bought.get(u, set())), dtype=str) for u in inputs[SERVING_USER_ID]]
    labels = np.zeros((n, width), np.float32)
    for i, t in enumerate(targets):
        if len(t):
            labels[i] = np.isin(item_ids[i], t) & (item_ids[i] != PAD)
    full = dict(inputs)
    full[SERVING_ITEM_IDS] = item_ids
    full[SERVING_RETRIEVAL_RANK] = rank
    return Lists(full, labels, targets, score)
