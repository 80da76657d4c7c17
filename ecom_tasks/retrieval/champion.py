"""Scoring the current champion on the candidate's held-out users, for the gate.

The champion is an earlier output of ``pretrain_retrieval``, rebuilt with ``load_backbone``. It
ranks its own catalogue for the same users, from the same histories and profiles, against the
same targets as the candidate: a target item the champion does not know, or a user it never
saw, is a miss or a cold-start query, never an error. The metric names are the candidate's
(``recall_at_K``, ``ndcg_at_K``, ``hr_at_K``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ecom_tasks.contract import ITEM_ID, USER_ID
from ecom_tasks.retrieval.backbone import Backbone
from ecom_tasks.retrieval.config import METRIC_KS
from ecom_tasks.retrieval.evaluate import ranking_metrics


def target_columns(champion: Backbone, target_ids: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Each user's target items as the champion's catalogue columns.

    Items outside the champion's catalogue get distinct columns past its end, which no ranking
    contains: they stay in the denominator of recall, as misses.
    """
    first, n = champion.vocabs.first_item_row, len(champion.item_ids)
    distinct = [list(dict.fromkeys(str(i) for i in ids)) for ids in target_ids]  # in order
    out = []
    for rows in champion.vocabs.item_rows_per_user(distinct):  # one lookup for all users
        cols = rows.astype(np.int64) - first
        unknown = cols < 0
        cols[unknown] = n + np.arange(int(unknown.sum()))
        out.append(cols)
    return out


def champion_metrics(
    champion: Backbone,
    history: pd.DataFrame,
    user_features: pd.DataFrame | None,
    user_ids: Sequence[str],
    target_ids: Sequence[Sequence[str]],
    as_of: pd.Timestamp,
    *,
    exclude_history: bool = False,
    returned: Sequence[Sequence[str]] | None = None,
    ks: Sequence[int] = METRIC_KS,
) -> dict[str, float]:
    """Full-ranking metrics of ``champion`` for ``user_ids`` against ``target_ids``.

    Args:
        history: the interactions the candidate's test histories were built from (``ts < as_of``).
        user_features: the profiles the candidate read (None: unknown).
        user_ids / target_ids: the held-out users and the distinct items of each one's window.
        as_of: the start of the held-out window.
        exclude_history: drop each user's earlier items from the ranking (as the candidate did).
        returned: per user, the items they returned before ``as_of`` (left out, as the candidate
            did); the champion's own returns table, of its own ds, is not used.
    """
    inputs = champion.query_inputs(history, user_features, user_ids, as_of)
    exclude = None
    if exclude_history:
        items = history.groupby(USER_ID, sort=False)[ITEM_ID].unique().to_dict()
        exclude = [list(items.get(u, [])) for u in user_ids]
    if returned is not None:
        exclude = (
            [list(r) for r in returned]
            if exclude is None
            else [[*e, *r] for e, r in zip(exclude, returned, strict=True)]
        )
    top, _ = champion.top_columns(inputs, max(ks), exclude, own_returns=False)
    return ranking_metrics(top, target_columns(champion, target_ids), ks)
