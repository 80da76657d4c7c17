"""The pretrained retrieval model rebuilt from a pretrain output folder, for task heads and the gate.

``load_backbone("{root}/models/retrieval/ds=D")`` reads ``history.json`` (the configuration),
``vocabularies.json``, ``weights.npz`` and ``tower_state.npz`` (catalogue tables, feature scaling
and target frequencies) and returns a :class:`Backbone`: the :class:`RetrievalModel` with its two
towers as trainable tf-keras layers (heads freeze or fine-tune them), plus helpers that turn
interactions and profiles into the query tower's serving inputs and rank the catalogue.

Unknown users get the out-of-vocabulary user row and, without interactions, an empty history;
unknown items map to the out-of-vocabulary item row. Neither is an error.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import fsspec
import numpy as np
import pandas as pd
import tensorflow as tf

from ecom_tasks import storage
from ecom_tasks.contract import ITEM_ID, TS, USER_ID
from ecom_tasks.errors import ConfigError, ContractError
from ecom_tasks.retrieval import data, scoring
from ecom_tasks.retrieval.config import (
    HISTORY_FILE,
    PAD,
    SERVING_FEATURES,
    SERVING_HISTORY,
    SERVING_USER_ID,
    TOWER_STATE_FILE,
    VOCABULARIES_FILE,
    WEIGHTS_FILE,
    RetrievalConfig,
)
from ecom_tasks.retrieval.exclusions import ServingExclusions
from ecom_tasks.retrieval.model import RetrievalModel
from ecom_tasks.retrieval.towers import ItemTower, QueryTower
from ecom_tasks.retrieval.warmstart import load_weights, weight_arrays

log = logging.getLogger(__name__)

# Keys of tower_state.npz.
_ITEM_CATEGORY, _ITEM_TITLE = "item_category", "item_title"
_FEATURE_MEAN, _FEATURE_STD, _TARGET_FREQ = "feature_mean", "feature_std", "target_frequencies"
_BLOCKED, _RETURNED_VALUES, _RETURNED_SPLITS = "blocked", "returned_values", "returned_splits"


def tower_state(model: RetrievalModel) -> dict[str, np.ndarray]:
    """The non-trainable arrays a rebuilt model needs besides its weights and vocabularies."""
    query = model.query_tower
    n = query.num_features
    return {
        _ITEM_CATEGORY: model.item_tower.item_category.numpy(),
        _ITEM_TITLE: model.item_tower.item_title.numpy(),
        _FEATURE_MEAN: query.feature_mean.numpy() if n else np.zeros(0, np.float32),
        _FEATURE_STD: query.feature_std.numpy() if n else np.zeros(0, np.float32),
        _TARGET_FREQ: model.target_frequencies.numpy(),
    } | _exclusion_state(model)


def _exclusion_state(model: RetrievalModel) -> dict[str, np.ndarray]:
    ex = model.exclusions
    if ex is None:
        return {}
    return {_BLOCKED: ex.blocked, _RETURNED_VALUES: ex.returned_values, _RETURNED_SPLITS: ex.returned_splits}


def save_tower_state(model: RetrievalModel, uri: str) -> str:
    """Write :func:`tower_state` to ``uri`` (an ``.npz``) and return it."""
    buf = io.BytesIO()
    np.savez(buf, **tower_state(model))
    with fsspec.open(uri, "wb") as fh:
        fh.write(buf.getvalue())
    return uri


def _read_npz(uri: str) -> dict[str, np.ndarray]:
    with fsspec.open(uri, "rb") as fh, np.load(io.BytesIO(fh.read())) as npz:
        return {name: npz[name] for name in npz.files}


@dataclass
class Backbone:
    """A pretrained retrieval model and the vocabularies and configuration it was trained with."""

    model: RetrievalModel
    vocabs: data.Vocabularies
    config: RetrievalConfig
    feature_columns: list[str]  # the user_features columns, in the query tower's order

    @property
    def query_tower(self) -> QueryTower:
        return self.model.query_tower

    @property
    def item_tower(self) -> ItemTower:
        return self.model.item_tower

    @property
    def item_ids(self) -> list[str]:
        """The catalogue the backbone ranks, in column order."""
        return self.vocabs.items[self.vocabs.first_item_row :]

    def query_inputs(
        self,
        interactions: pd.DataFrame | None,
        user_features: pd.DataFrame | None,
        users: Sequence[str],
        as_of: pd.Timestamp | str,
    ) -> dict[str, np.ndarray]:
        """The query tower's serving inputs for ``users``, from their interactions before ``as_of``.

        Args:
            interactions: ``user_id, item_id, ts`` (and ``weight``) as in the feature stage's
                interactions table; only rows with ``ts < as_of`` are read.
            user_features: profiles with ``user_id`` and :attr:`feature_columns` (a missing one is
                unknown); None: all unknown.
            users: whose inputs to build, in output order.
            as_of: the time the histories end (exclusive), UTC.

        Returns:
            ``{user_id: [b] str, history: [b, n] str (the last ``max_history`` or
            ``repeat_window`` items, whichever is more, oldest first, "" padded), user_features:
            [b, f] float32 (NaN where unknown)}``.
        """
        ids = np.asarray([PAD if u is None else str(u) for u in users], dtype=object)
        return {
            SERVING_USER_ID: ids.astype(str),
            SERVING_HISTORY: self._histories(interactions, ids, as_of),
            SERVING_FEATURES: self._features(user_features, ids),
        }

    def _histories(self, interactions: pd.DataFrame | None, ids: np.ndarray, as_of) -> np.ndarray:
        # The tower keeps the newest max_history tokens of BOS + history: a long history fills
        # the window without BOS, as in training's later windows. The repeat lift counts the
        # last repeat_window items.
        n = max(self.config.max_history, self.config.repeat_window)
        rows: dict[str, list[str]] = {}
        if interactions is not None and len(interactions) and len(ids):
            clean = data.clean_interactions(interactions)
            cut = pd.Timestamp(as_of)
            cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut
            clean = clean[(clean[TS] < cut) & clean[USER_ID].isin(set(ids))]
            if self.config.collapse_repeats and len(clean):
                same = (clean[USER_ID].to_numpy() == np.roll(clean[USER_ID].to_numpy(), 1)) & (
                    clean[ITEM_ID].to_numpy() == np.roll(clean[ITEM_ID].to_numpy(), 1)
                )
                same[0] = False
                clean = clean[~same]
            tails = clean.groupby(USER_ID, sort=False)[ITEM_ID].apply(lambda s: s.tolist()[-n:])
            rows = tails.to_dict()
        width = max([1, *(len(rows.get(u, ())) for u in ids)])
        out = np.full((len(ids), width), PAD, dtype=object)
        for i, u in enumerate(ids):
            hist = rows.get(u, [])
            out[i, : len(hist)] = hist
        return out.astype(str)

    def _features(self, user_features: pd.DataFrame | None, ids: np.ndarray) -> np.ndarray:
        # A trained column this frame lacks is unknown (NaN: the tower's training mean): a backbone
        # from before the stable profile columns may read a cat_share_<category> that a later
        # day's top categories dropped, and failing would stop the night (champion, ranking).
        names = self.feature_columns
        out = np.full((len(ids), len(names)), np.nan, dtype=np.float32)
        if user_features is None or not names or not len(user_features):
            return out
        present = [c for c in names if c in user_features.columns]
        if USER_ID not in user_features.columns or not present:
            raise ContractError(
                f"user_features: needs {USER_ID} and at least one of the backbone's feature columns "
                f"{names}; got {list(user_features.columns)[:10]}"
            )
        if len(present) < len(names):
            log.warning(
                "user_features: %d of the backbone's %d feature columns missing, read as unknown: %s",
                len(names) - len(present),
                len(names),
                [c for c in names if c not in user_features.columns],
            )
        frame = user_features.drop_duplicates(USER_ID, keep="last").reindex(columns=[USER_ID, *names])
        index = pd.Index(frame[USER_ID].astype(str))
        pos = index.get_indexer(pd.Index(ids.astype(str)))
        values = frame[names].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.where(np.isfinite(values), values, np.nan).astype(np.float32)
        known = pos >= 0
        out[known] = values[pos[known]]
        return out

    def query_vectors(self, inputs: dict[str, np.ndarray], batch_size: int = 4096) -> np.ndarray:
        """``[b, d]`` L2-normalised query vectors of :meth:`query_inputs` output."""
        n = len(inputs[SERVING_USER_ID])
        out = np.zeros((n, self.config.embedding_dim), np.float32)
        for s in range(0, n, batch_size):
            part = {k: v[s : s + batch_size] for k, v in inputs.items()}
            out[s : s + batch_size] = self.query_tower(
                {
                    SERVING_USER_ID: tf.constant(part[SERVING_USER_ID]),
                    SERVING_HISTORY: tf.constant(part[SERVING_HISTORY]),
                    SERVING_FEATURES: tf.constant(part[SERVING_FEATURES], tf.float32),
                }
            ).numpy()
        return out

    def item_vectors(self, item_ids: Sequence[str] | None = None) -> np.ndarray:
        """``[n, d]`` L2-normalised item vectors (unknown ids: the OOV row); None: the catalogue."""
        if item_ids is None:
            rows = np.arange(self.vocabs.first_item_row, len(self.vocabs.items), dtype=np.int32)
        else:
            rows = self.vocabs.item_rows(list(item_ids))
        return self.item_tower.candidate_embeddings(tf.constant(rows, tf.int32)).numpy()

    def top_columns(
        self,
        inputs: dict[str, np.ndarray],
        k: int,
        exclude: Sequence[Sequence[str]] | None = None,
        *,
        own_returns: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`top_k` but returns catalogue columns (indexes into :attr:`item_ids`, -1 for
        an empty slot). ``own_returns=False``: the caller's ``exclude`` holds the returns to leave
        out (the gate scores an older model at another point in time than its own ds)."""
        queries = tf.constant(self.query_vectors(inputs))
        items = tf.constant(self.item_vectors())
        k = min(k, len(self.item_ids))
        bonus, per_count = self.model.repeat_lift()
        history = self._columns(inputs[SERVING_HISTORY]) if bonus or per_count else None
        excluded = None if exclude is None else self._columns(exclude)
        # The model's own exclusions (exclusions.py) join the caller's: what each user returned up
        # to its ds, and items out of its catalogue.
        own, blocked = self.model.exclusions, None
        if own is not None:
            returned = own.returned_of(self.vocabs.user_rows(list(inputs[SERVING_USER_ID])))
            if own_returns and any(len(r) for r in returned):
                more = scoring.pad_columns(returned)
                excluded = more if excluded is None else np.concatenate([excluded, more], axis=1)
            blocked = tf.constant(own.blocked) if own.blocked.any() else None
        cols_out, scores_out = [], []
        for s in range(0, int(queries.shape[0]), 4096):
            part = slice(s, s + 4096)
            scores = scoring.score_items(
                queries[part],
                items,
                history=None if history is None else tf.constant(history[part]),
                bonus=bonus,
                per_count=per_count,
                exclude=None if excluded is None else tf.constant(excluded[part]),
                blocked=blocked,
            )
            best = tf.math.top_k(scores, k=k)
            cols_out.append(scoring.served_columns(best.values, best.indices))
            scores_out.append(best.values.numpy())
        if not cols_out:
            return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
        return np.concatenate(cols_out), np.concatenate(scores_out)

    def _columns(self, ids: Sequence[Sequence[str]] | np.ndarray) -> np.ndarray:
        # [b, w] catalogue columns of item ids per row, -1 for padding and unknown ids.
        lists = [[str(i) for i in row if i is not None and str(i) != PAD] for row in ids]
        flat = [i for row in lists for i in row]
        rows = self.vocabs.item_rows(flat) if flat else np.zeros(0, np.int32)  # one lookup for all
        first = self.vocabs.first_item_row
        cols = np.where(rows >= first, rows - first, -1)
        return scoring.pad_columns(np.split(cols, np.cumsum([len(r) for r in lists])[:-1]))

    def top_k(
        self, inputs: dict[str, np.ndarray], k: int, exclude: Sequence[Sequence[str]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best catalogue items per query: (item ids [b, k] str, scores [b, k]).

        Never an item the user returned up to the model's ds nor one out of its catalogue
        (``exclusions``); a slot only such an item could fill is "" with score ``-inf``.

        Scores are cosine similarities plus the repeat lift (``config.repeat_bonus`` and the
        learned part, ``RetrievalModel.repeat_lift``) for the items of the query's history input
        (``scoring``), as in evaluation and the exported model.

        Args:
            inputs: from :meth:`query_inputs`.
            exclude: per query, item ids never to return (e.g. already bought); unknown ids ignored.
        """
        cols, scores = self.top_columns(inputs, k, exclude)
        catalogue = np.asarray([*self.item_ids, PAD], dtype=object)  # column -1: an empty slot
        return catalogue[cols].astype(str), scores


def load_backbone(folder: str) -> Backbone:
    """Rebuild the trained :class:`RetrievalModel` of a pretrain output folder.

    Args:
        folder: ``{root}/models/retrieval/ds=D`` as written by ``pretrain_retrieval``.

    Raises:
        ConfigError: a file is missing or the weights do not fit the saved configuration.
    """
    try:
        history = storage.read_json(f"{folder}/{HISTORY_FILE}")
        vocabs = data.Vocabularies.from_dict(storage.read_json(f"{folder}/{VOCABULARIES_FILE}"))
        weights = load_weights(f"{folder}/{WEIGHTS_FILE}")
        state = _read_npz(f"{folder}/{TOWER_STATE_FILE}")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{folder}: not a complete retrieval model folder (needs {HISTORY_FILE}, {VOCABULARIES_FILE}, "
            f"{WEIGHTS_FILE} and {TOWER_STATE_FILE}): {exc}"
        ) from exc
    saved = dict(history["config"])
    # A model saved before the repeat window existed had its bonus fitted and served over the
    # tower's own window: keep serving it so.
    saved.setdefault("repeat_window", saved.get("max_history", RetrievalConfig.max_history))
    config = RetrievalConfig(**saved)
    item_tower = ItemTower(vocabs, config)
    item_tower.item_category.assign(state[_ITEM_CATEGORY])
    item_tower.item_title.assign(state[_ITEM_TITLE])
    query_tower = QueryTower(vocabs, config, item_tower, state[_FEATURE_MEAN], state[_FEATURE_STD])
    model = RetrievalModel(
        query_tower,
        item_tower,
        config,
        first_item_row=vocabs.first_item_row,
        num_rows=len(vocabs.items),
        target_frequencies=state[_TARGET_FREQ],
    )
    if _BLOCKED in state:  # a model saved before its exclusions were kept has none
        model.exclusions = ServingExclusions(
            state[_BLOCKED], state[_RETURNED_VALUES], state[_RETURNED_SPLITS]
        )
    n_features = len(vocabs.user_feature_names)
    # Create the variables, then fill them by name.
    query_tower.encode_sequence(
        tf.zeros([1, 2], tf.int32), tf.zeros([1], tf.int32), tf.zeros([1, n_features], tf.float32)
    )
    item_tower.candidate_embeddings(tf.constant([vocabs.first_item_row]))
    current = weight_arrays(model)
    missing = sorted(set(current) - set(weights))
    wrong = [n for n in current if n in weights and weights[n].shape != current[n].shape]
    if missing or wrong:
        raise ConfigError(
            f"{folder}/{WEIGHTS_FILE} does not fit the saved configuration: missing {missing[:5]}, "
            f"wrong shape {wrong[:5]}"
        )
    for var in model.trainable_weights:
        var.assign(weights[var.name])
    log.info("loaded retrieval backbone %s: %d items, %d users", folder, vocabs.num_items, len(vocabs.users))
    return Backbone(model, vocabs, config, list(vocabs.user_feature_names))
