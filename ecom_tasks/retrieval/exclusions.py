"""What retrieval never serves: items a customer returned, and items out of the catalogue.

Both are fixed when a model is trained for ``ds`` and travel with it (``tower_state.npz`` and the
exported SavedModel), so every ranked list the model serves leaves them out, as of the end of ds:

- **returned**: per user, every item with a ``return`` line in the validated events up to the end
  of ``ds`` (:func:`read_returns`, :func:`returned_columns`). The stage's own evaluation lists are
  served at the start of the held-out window, so they leave out what was returned before it.
- **blocked**: catalogue columns of the model's vocabulary that are not in the items snapshot as
  of ``ds`` (an item seen in interactions but not, or no longer, in the catalogue).

Repeat purchases stay the shop's choice (``RetrievalConfig.repeat_bonus``): only a return rules
an item out for that customer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks import contract
from ecom_tasks.contract import ITEM_ID, RETURN, TS, USER_ID
from ecom_tasks.features import store
from ecom_tasks.retrieval.data import Vocabularies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingExclusions:
    """What a model never serves: ``blocked`` [n_items] bool per catalogue column, and per user row
    the catalogue columns they returned (``returned_splits`` [n_user_rows + 1] into ``returned_values``)."""

    blocked: np.ndarray
    returned_values: np.ndarray
    returned_splits: np.ndarray

    @classmethod
    def none(cls, num_items: int, num_user_rows: int) -> ServingExclusions:
        """Nothing excluded (a model trained without returns or catalogue, or saved before them)."""
        return cls(np.zeros(num_items, bool), np.zeros(0, np.int64), np.zeros(num_user_rows + 1, np.int64))

    def returned_of(self, user_rows: Sequence[int] | np.ndarray) -> list[np.ndarray]:
        """The returned columns of each user row (empty for rows outside the table)."""
        n = len(self.returned_splits) - 1
        out = []
        for r in np.asarray(user_rows, np.int64):
            ok = 0 <= r < n
            out.append(
                self.returned_values[self.returned_splits[r] : self.returned_splits[r + 1]] if ok else []
            )
        return [np.asarray(c, np.int64) for c in out]


def read_returns(root: str, day: dt.date) -> pd.DataFrame:
    """``user_id, item_id, ts`` of the known users' return lines in the validated events up to ``day``."""
    days = store.event_days(root, None, day)
    lines = store.read_events(root, days, [USER_ID, ITEM_ID, TS], event_types=[RETURN])
    lines = lines[lines[USER_ID].notna().to_numpy()]
    return lines[[USER_ID, ITEM_ID, TS]].reset_index(drop=True)


def returned_ids(returns: pd.DataFrame | None, users: Sequence[str]) -> list[list[str]]:
    """Per user of ``users``, the distinct item ids of their lines in ``returns``, sorted."""
    if returns is None or not len(returns):
        return [[] for _ in users]
    by_user: Mapping[str, list[str]] = (
        returns.groupby(returns[USER_ID].astype(str), sort=False)[ITEM_ID]
        .agg(lambda s: sorted(set(map(str, s))))
        .to_dict()
    )
    return [list(by_user.get(str(u), [])) for u in users]


def returned_columns(
    returns: pd.DataFrame | None, vocabs: Vocabularies, users: Sequence[str]
) -> list[np.ndarray]:
    """Per user of ``users``, the catalogue columns of the items they returned in ``returns``.

    Items the vocabulary does not know have no column and are left out (the model cannot serve them).
    """
    rows = vocabs.item_rows_per_user(returned_ids(returns, users))
    first = vocabs.first_item_row
    return [np.unique(r[r >= first].astype(np.int64) - first) for r in rows]


def blocked_columns(vocabs: Vocabularies, catalogue: pd.DataFrame | None) -> np.ndarray:
    """``[n_items]`` True where a vocabulary item is not in ``catalogue`` (None: nothing blocked)."""
    if catalogue is None:
        return np.zeros(vocabs.num_items, bool)
    known = set(catalogue[ITEM_ID].astype(str))
    return np.array([i not in known for i in vocabs.items[vocabs.first_item_row :]], bool)


def serving_exclusions(
    vocabs: Vocabularies, returns: pd.DataFrame | None, catalogue: pd.DataFrame | None
) -> ServingExclusions:
    """The exclusions a model for ``ds`` serves with: all ``returns`` given, the ``catalogue`` of ds."""
    cols = returned_columns(returns, vocabs, vocabs.users)
    splits = np.concatenate([[0], np.cumsum([len(c) for c in cols])]).astype(np.int64)
    values = np.concatenate(cols).astype(np.int64) if cols else np.zeros(0, np.int64)
    blocked = blocked_columns(vocabs, catalogue)
    if blocked.any():
        log.info("%d of %d items are not in the catalogue: never served", int(blocked.sum()), len(blocked))
    return ServingExclusions(blocked, values, splits)


def merged(*lists: Sequence[np.ndarray] | None) -> list[np.ndarray] | None:
    """Per user, the union of the column lists given (None ones skipped; all None: None)."""
    given = [x for x in lists if x is not None]
    if not given:
        return None
    return [
        np.unique(np.concatenate([np.asarray(x[i], np.int64) for x in given])) for i in range(len(given[0]))
    ]


def read_catalogue(root: str, day: dt.date) -> pd.DataFrame | None:
    """The items snapshot as of ``day`` (the newest before it if that day has none), or None."""
    try:
        return store.read_snapshot(root, contract.ITEMS, day, latest_before=True)
    except FileNotFoundError:
        log.warning("no items snapshot up to %s: no item is blocked as out of the catalogue", day)
        return None
