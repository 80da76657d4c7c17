"""The ``recommendations`` output table: re-ranked top-K lists for every known user.

Every user with an interaction before the end of ``ds`` gets the backbone's top ``candidates``
items over their full history, re-ranked by the selected re-ranker and cut to ``top_k``: one row
per (user, rank) with the columns of :mod:`ecom_tasks.publish.tables`. Items the user already
bought stay in by default (repeat purchases are common in retail); ``exclude_purchased`` removes
them before retrieval. Items the user returned (``return`` lines of the validated events up to the
end of ``ds``) are never proposed again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ecom_tasks.contract import ITEM_ID, TITLE, TS, USER_ID
from ecom_tasks.publish.config import RECOMMENDATIONS
from ecom_tasks.publish.outputs import with_item_titles, write_output
from ecom_tasks.publish.tables import MODEL_VERSION, RANK, RETRIEVAL_RANK, SCORE
from ecom_tasks.ranking import data
from ecom_tasks.ranking.config import SERVING_RETRIEVAL_RANK, RankingConfig
from ecom_tasks.retrieval import exclusions as exclusions_of_retrieval
from ecom_tasks.retrieval.backbone import Backbone

COLUMNS = [USER_ID, RANK, ITEM_ID, SCORE, RETRIEVAL_RANK, TITLE, MODEL_VERSION]


def _bought_before(interactions: pd.DataFrame, users: np.ndarray, end: pd.Timestamp) -> list[list[str]]:
    past = interactions[(interactions[TS] < end) & interactions[USER_ID].notna()]
    past = past[data.purchases(past)]
    sets = past.groupby(past[USER_ID].astype(str), sort=False)[ITEM_ID].agg(
        lambda s: sorted(set(map(str, s)))
    )
    return [sets.get(u, []) for u in users]


def returned_before(root: str, day: dt.date) -> dict[str, set[str]]:
    """Per user, the items with a ``return`` line in the validated events of the days up to ``day``.

    The same reading retrieval's served exclusions use (:func:`ecom_tasks.retrieval.exclusions.read_returns`).
    """
    returns = exclusions_of_retrieval.read_returns(root, day)
    users = returns[USER_ID].astype(str).unique().tolist()
    return {
        u: set(items)
        for u, items in zip(users, exclusions_of_retrieval.returned_ids(returns, users), strict=True)
    }


def exclusions(
    users: np.ndarray, bought: list[list[str]] | None, returned: Mapping[str, set[str]] | None
) -> list[list[str]] | None:
    """Per user, the items never to propose: those bought (when excluded) and those returned."""
    if bought is None and not returned:
        return None
    bought = bought or [[] for _ in users]
    return [
        sorted(set(b) | set((returned or {}).get(str(u), ()))) for u, b in zip(users, bought, strict=True)
    ]


def top_lists(lists: data.Lists, scores: np.ndarray, k: int, model_version: str) -> pd.DataFrame:
    """The ``k`` best-scored candidates of each list as rows ``user_id, rank, item_id, score, ...``."""
    scores = np.where(lists.mask > 0, scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    items = np.take_along_axis(lists.item_ids, order, axis=1)
    best = np.take_along_axis(scores, order, axis=1)
    ranks = np.take_along_axis(lists.inputs[SERVING_RETRIEVAL_RANK], order, axis=1)
    n, width = items.shape
    keep = (items != data.PAD).ravel()
    frame = pd.DataFrame(
        {
            USER_ID: np.repeat(lists.users, width),
            RANK: np.tile(np.arange(1, width + 1, dtype=np.int64), n),
            ITEM_ID: items.ravel(),
            SCORE: best.ravel().astype(np.float64),
            RETRIEVAL_RANK: ranks.ravel().astype(np.int64),
        }
    )[keep]
    frame[MODEL_VERSION] = model_version
    return frame.astype({USER_ID: "string", ITEM_ID: "string", MODEL_VERSION: "string"}).reset_index(
        drop=True
    )


def recommendations(
    backbone: Backbone,
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    profiles: pd.DataFrame | None,
    scorer: Callable[[data.Lists], np.ndarray],
    config: RankingConfig,
    *,
    end: pd.Timestamp,
    model_version: str,
    returned: Mapping[str, set[str]] | None = None,
) -> pd.DataFrame:
    """Top ``config.top_k`` per user known before ``end``, with titles, in :data:`COLUMNS` order;
    ``returned``: per user, items they returned (:func:`returned_before`), left out of their list."""
    users = data.users_before(interactions, end)
    if not len(users):
        frame = pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
        return frame.astype({RANK: "int64", SCORE: "float64", RETRIEVAL_RANK: "int64"})
    bought = _bought_before(interactions, users, end) if config.exclude_purchased else None
    exclude = exclusions(users, bought, returned)
    lists = data.candidate_lists(
        backbone, interactions, profiles, users, end, None, candidates=config.candidates, exclude=exclude
    )
    frame = top_lists(lists, scorer(lists), config.top_k, model_version)
    if returned:  # the retrieval's exclusion ignores ids it does not know; make sure
        pairs = {(u, i) for u, items_ in returned.items() for i in items_}
        gone = [
            (u, i) in pairs
            for u, i in zip(frame[USER_ID].astype(str), frame[ITEM_ID].astype(str), strict=True)
        ]
        if any(gone):
            frame = frame[~np.array(gone)].copy()
            frame[RANK] = frame.groupby(USER_ID, sort=False).cumcount().astype("int64") + 1
    frame = with_item_titles(frame, items.astype({ITEM_ID: "string"}))
    return frame[COLUMNS].sort_values([USER_ID, RANK], kind="stable").reset_index(drop=True)


def write_recommendations(root: str, ds: object, frame: pd.DataFrame, *, source: str) -> str:
    """Write the table for ``ds`` under ``{root}/outputs/recommendations/``; returns its URI."""
    return write_output(root, RECOMMENDATIONS, str(ds), frame, source=source)
