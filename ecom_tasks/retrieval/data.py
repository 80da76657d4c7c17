"""Vocabularies, per-user sequences and ``tf.data`` pipelines for retrieval, from pandas frames.

Interactions (``user_id, item_id, ts, weight``) become one item sequence per user, oldest first.
Every sequence starts with the BOS token, so the query tower learns to answer for an empty history
too (cold-start users get popularity-like answers shaped by their features). Training reads each
sequence as windows of ``max_history`` (input token, next item) pairs: one pass of the query
tower trains every position, which is what makes a sequence model cheap per example.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ecom_tasks.contract import CATEGORY, ITEM_ID, TITLE, TS, USER_ID
from ecom_tasks.errors import ContractError, NotEnoughDataError
from ecom_tasks.features import columns as fc
from ecom_tasks.retrieval.config import BOS, NUM_RESERVED, OOV, PAD, WEIGHT, RetrievalConfig


class TrainingDataError(NotEnoughDataError):
    """The training window holds nothing to learn from; the message says which window.

    Not enough data rather than bad data: the retrieval model is skipped with this reason.
    """

    retryable = False  # the same data and parameters give the same answer on every try


_PUNCTUATION = str.maketrans("", "", string.punctuation)


def title_tokens(title: str | None) -> list[str]:
    """A title's tokens as the model's ``TextVectorization`` makes them (lower case, no punctuation)."""
    if title is None or (isinstance(title, float) and np.isnan(title)) or title is pd.NA:
        return []
    return str(title).lower().translate(_PUNCTUATION).split()


@dataclass(frozen=True)
class Vocabularies:
    """Lookup vocabularies; list position is the embedding row (rows 0 and 1: padding and OOV)."""

    items: list[str]  # row 2 is BOS, real items from row 3
    users: list[str]
    categories: list[str]
    title_tokens: list[str]
    user_feature_names: list[str] = field(default_factory=list)

    @property
    def first_item_row(self) -> int:
        return NUM_RESERVED + 1

    @property
    def bos_row(self) -> int:
        return NUM_RESERVED

    @property
    def num_items(self) -> int:
        """Real items (excluding the reserved rows and BOS)."""
        return len(self.items) - self.first_item_row

    # The vocabularies as indexes, built once: pandas hashes an index on its first lookup, and a
    # fresh index per call made per-user lookups (evaluation targets) cost seconds.
    @cached_property
    def _item_index(self) -> pd.Index:
        return pd.Index(self.items)

    @cached_property
    def _user_index(self) -> pd.Index:
        return pd.Index(self.users)

    def item_rows(self, ids: Sequence[str] | pd.Series) -> np.ndarray:
        """Embedding rows of item ids (OOV row for unknown ids)."""
        return _rows(self._item_index, ids)

    def item_rows_per_user(self, ids: Sequence[Sequence[str]]) -> list[np.ndarray]:
        """:meth:`item_rows` of each list in ``ids``, in one lookup."""
        sizes = np.array([len(x) for x in ids], dtype=np.int64)
        flat = [i for x in ids for i in x]
        rows = self.item_rows(flat) if flat else np.zeros(0, np.int32)
        return np.split(rows, np.cumsum(sizes)[:-1]) if len(ids) else []

    def user_rows(self, ids: Sequence[str] | pd.Series) -> np.ndarray:
        return _rows(self._user_index, ids)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "items": self.items,
            "users": self.users,
            "categories": self.categories,
            "title_tokens": self.title_tokens,
            "user_feature_names": self.user_feature_names,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, list[str]]) -> Vocabularies:
        return cls(**{k: list(v) for k, v in raw.items()})


def _rows(index: pd.Index, ids: Sequence[str] | pd.Series) -> np.ndarray:
    rows = index.get_indexer(pd.Index(pd.Series(ids, dtype="string").fillna(PAD)))
    rows = np.where(rows < 0, 1, rows)  # unknown -> OOV row
    return rows.astype(np.int32)


def _by_frequency(values: pd.Series) -> list[str]:
    counts = values.dropna().astype(str).value_counts(sort=False)
    counts = counts[~counts.index.isin([PAD, OOV, BOS])]
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [k for k, _ in order]


def clean_interactions(interactions: pd.DataFrame, *, where: str = "interactions") -> pd.DataFrame:
    """Known users' positive-weight interactions with the columns this stage needs, sorted by time.

    Raises:
        ContractError: a required column is missing.
    """
    missing = [c for c in (USER_ID, ITEM_ID, TS) if c not in interactions.columns]
    if missing:
        raise ContractError(
            f"{where}: missing column(s) {missing}; expected {USER_ID}, {ITEM_ID}, {TS}, {WEIGHT}"
        )
    df = interactions[[USER_ID, ITEM_ID, TS]].copy()
    df[WEIGHT] = interactions[WEIGHT].astype("float64") if WEIGHT in interactions else 1.0
    df = df[df[USER_ID].notna() & df[ITEM_ID].notna() & (df[WEIGHT] > 0)]
    df[USER_ID] = df[USER_ID].astype(str)
    df[ITEM_ID] = df[ITEM_ID].astype(str)
    return df.sort_values([USER_ID, TS], kind="stable").reset_index(drop=True)


def build_vocabularies(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    user_features: pd.DataFrame | None,
    config: RetrievalConfig,
) -> Vocabularies:
    """Vocabularies from the training interactions and the catalogue (every catalogue item gets a row)."""
    item_ids = interactions[ITEM_ID]
    if items is not None and len(items):
        seen = set(item_ids.unique())
        item_ids = pd.concat([item_ids, items.loc[~items[ITEM_ID].isin(seen), ITEM_ID]], ignore_index=True)
    tokens: Counter[str] = Counter()
    categories: list[str] = []
    if items is not None and len(items):
        if TITLE in items:
            for title in items[TITLE].tolist():
                tokens.update(title_tokens(title))
        if CATEGORY in items:
            categories = _by_frequency(items[CATEGORY])
    token_list = [t for t, _ in sorted(tokens.items(), key=lambda kv: (-kv[1], kv[0]))][
        : config.title_max_tokens
    ]
    feature_names = [] if user_features is None else stable_feature_names(user_features)
    return Vocabularies(
        items=[PAD, OOV, BOS, *_by_frequency(item_ids)],
        users=[PAD, OOV, *_by_frequency(interactions[USER_ID])],
        categories=[PAD, OOV, *categories],
        title_tokens=[PAD, OOV, *token_list],
        user_feature_names=feature_names,
    )


def stable_feature_names(user_features: pd.DataFrame) -> list[str]:
    """The query tower's profile columns: ``STABLE_PROFILE_FEATURES`` present and numeric, in that order.

    The model is trained on one day's profiles and served and evaluated with another day's; the
    other numeric columns (``cat_share_*`` of each day's top categories, R/F/M ranks within the
    day, category codes) change meaning or disappear from day to day (see ``features.columns``).
    """
    return [
        c
        for c in fc.STABLE_PROFILE_FEATURES
        if c in user_features.columns
        and pd.api.types.is_numeric_dtype(user_features[c])
        and not pd.api.types.is_bool_dtype(user_features[c])
    ]


def user_feature_matrix(user_features: pd.DataFrame | None, vocabs: Vocabularies) -> np.ndarray:
    """``[len(vocabs.users), n_features]`` float32 aligned to user rows; NaN where unknown."""
    names = vocabs.user_feature_names
    out = np.full((len(vocabs.users), len(names)), np.nan, dtype=np.float32)
    if user_features is None or not names or not len(user_features):
        return out
    frame = user_features.drop_duplicates(USER_ID, keep="last")
    rows = vocabs.user_rows(frame[USER_ID].astype(str))
    known = rows >= NUM_RESERVED
    values = frame[names].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(np.isfinite(values), values, np.nan).astype(np.float32)  # inf -> unknown
    out[rows[known]] = values[known]
    return out


@dataclass
class Sequences:
    """One item sequence per user (embedding rows, oldest first) with the interactions' weights."""

    users: np.ndarray  # user row per sequence
    items: list[np.ndarray]
    weights: list[np.ndarray]
    days: list[np.ndarray] | None = None  # basket key per step: the UTC day (or the raw ts)

    def __len__(self) -> int:
        return len(self.users)

    @property
    def num_interactions(self) -> int:
        return int(sum(len(s) for s in self.items))


def build_sequences(interactions: pd.DataFrame, vocabs: Vocabularies, *, collapse_repeats: bool) -> Sequences:
    """Per-user sequences from cleaned interactions (see :func:`clean_interactions`).

    With ``collapse_repeats`` consecutive interactions with the same item (a view, then a cart,
    then a purchase) become one step carrying the largest weight.
    """
    df = interactions
    users = vocabs.user_rows(df[USER_ID]).astype(np.int64)
    items = vocabs.item_rows(df[ITEM_ID]).astype(np.int64)
    weights = df[WEIGHT].to_numpy(dtype=np.float32)
    days = basket_days(df[TS])
    if collapse_repeats and len(df):
        key = users * (len(vocabs.items) + 1) + items
        step = np.r_[True, key[1:] != key[:-1]]
        weights = np.maximum.reduceat(weights, np.flatnonzero(step))
        users, items, days = users[step], items[step], days[step]
    if not len(users):
        return Sequences(np.zeros(0, np.int32), [], [], [])
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    return Sequences(
        users=users[bounds].astype(np.int32),
        items=[a.astype(np.int32) for a in np.split(items, bounds[1:])],
        weights=[a.astype(np.float32) for a in np.split(weights, bounds[1:])],
        days=np.split(days, bounds[1:]),
    )


def basket_days(ts: pd.Series) -> np.ndarray:
    """Basket key of each interaction: its UTC day number (days since 1970-01-01) for
    timestamps, the value itself for numbers."""
    if isinstance(ts.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(ts.dtype):
        naive = ts.dt.tz_localize(None) if ts.dt.tz is not None else ts
        return (naive.dt.floor("D") - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype=np.int64)
    return pd.to_numeric(ts).to_numpy(dtype=np.int64)


def leave_last_day_out(seqs: Sequences, days: int = 1) -> tuple[Sequences, Sequences, list[np.ndarray]]:
    """Hold out each user's last ``days`` days of activity when they have an earlier day.

    The span ends at the user's last day: with ``days=7`` the held-out targets are the distinct
    items of their last week, the horizon the nightly's held-out week measures.

    Returns:
        The training sequences (the held-out days removed), the held-out users' histories and the
        distinct item rows of each user's held-out days.
    """
    if seqs.days is None:
        raise ValueError("leave_last_day_out needs sequences with days")
    train_items, train_w, train_d, held, targets = [], [], [], [], []
    for i, (items, w, d) in enumerate(zip(seqs.items, seqs.weights, seqs.days, strict=True)):
        cut = int(np.searchsorted(d, d[-1] - (days - 1))) if len(d) else 0  # first held-out step
        if cut == 0:
            train_items.append(items), train_w.append(w), train_d.append(d)
            continue
        train_items.append(items[:cut]), train_w.append(w[:cut]), train_d.append(d[:cut])
        held.append(i)
        targets.append(np.unique(items[cut:]))
    train = Sequences(seqs.users, train_items, train_w, train_d)
    idx = np.array(held, dtype=int)
    hist = Sequences(
        seqs.users[idx],
        [train_items[i] for i in held],
        [train_w[i] for i in held],
        [train_d[i] for i in held],
    )
    return train, hist, targets


def leave_last_out(seqs: Sequences, *, min_length: int = 2) -> tuple[Sequences, Sequences, np.ndarray]:
    """Split each sequence of at least ``min_length`` items into (all but last, last item).

    Returns:
        The shortened training sequences (every user kept; short ones unchanged), the held-out
        users' histories, and their held-out item rows.
    """
    keep = np.array([len(s) >= min_length for s in seqs.items], dtype=bool)
    train = Sequences(
        users=seqs.users,
        items=[s[:-1] if k else s for s, k in zip(seqs.items, keep, strict=True)],
        weights=[w[:-1] if k else w for w, k in zip(seqs.weights, keep, strict=True)],
        days=None
        if seqs.days is None
        else [d[:-1] if k else d for d, k in zip(seqs.days, keep, strict=True)],
    )
    idx = np.flatnonzero(keep)
    held = Sequences(
        users=seqs.users[idx],
        items=[train.items[i] for i in idx],
        weights=[train.weights[i] for i in idx],
        days=None if train.days is None else [train.days[i] for i in idx],
    )
    return train, held, np.array([seqs.items[i][-1] for i in idx], dtype=np.int32)


def history_windows(items: list[np.ndarray], window: int, bos_row: int) -> np.ndarray:
    """``[n, window]`` query-tower input: BOS then the last items, left-aligned, 0-padded."""
    out = np.zeros((len(items), window), dtype=np.int32)
    for i, seq in enumerate(items):
        tokens = np.r_[bos_row, seq][-window:]
        out[i, : len(tokens)] = tokens
    return out
