"""Build, fit and evaluate the retrieval model: fixed seeds, early stopping on validation recall.

The memory check runs before any variable is created: a vocabulary too large for the embedding
memory budget (``RetrievalConfig.max_embedding_bytes``, and what the machine has available)
fails with the estimate and the limit instead of an out-of-memory kill mid-training.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from ecom_tasks.errors import EcomError
from ecom_tasks.retrieval import scoring
from ecom_tasks.retrieval.config import METRIC_KS, REPEAT_BONUS_GRID, REPEAT_COUNT_GRID, RetrievalConfig
from ecom_tasks.retrieval.data import Vocabularies
from ecom_tasks.retrieval.evaluate import EvalSet, ranking_metrics
from ecom_tasks.retrieval.model import RetrievalModel
from ecom_tasks.retrieval.optim import LazyAdam
from ecom_tasks.retrieval.pipeline import Windows, make_dataset, steps_per_epoch, target_frequencies
from ecom_tasks.retrieval.towers import QueryTower, build_item_tower, build_query_tower, embedding_bytes

log = logging.getLogger(__name__)


class VocabularyTooLargeError(EcomError, MemoryError):
    """The embedding tables would not fit in the memory budget; raised before training starts."""

    retryable = False  # the same data and parameters give the same answer on every try


def available_memory_bytes() -> int | None:
    """``MemAvailable`` of this machine (Linux), or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def ensure_fits_in_memory(vocabs: Vocabularies, config: RetrievalConfig) -> int:
    """Return the embedding memory estimate; raise :class:`VocabularyTooLargeError` above the limit."""
    need = embedding_bytes(vocabs, config)
    limit, what = config.max_embedding_bytes, "RetrievalConfig.max_embedding_bytes"
    available = available_memory_bytes()
    if available is not None and available < limit:
        limit, what = available, "the memory available on this machine"
    if need > limit:
        raise VocabularyTooLargeError(
            f"vocabulary too large for memory: {len(vocabs.users):,} users, {len(vocabs.items):,} items, "
            f"{len(vocabs.categories):,} categories and {len(vocabs.title_tokens):,} title tokens at "
            f"embedding_dim={config.embedding_dim} need about {need / 2**20:,.1f} MiB for embeddings and "
            f"optimizer state, more than {what} ({limit / 2**20:,.1f} MiB); lower embedding_dim, "
            "drop rare ids or raise the limit"
        )
    return need


def build_model(
    vocabs: Vocabularies,
    config: RetrievalConfig,
    items: pd.DataFrame | None,
    user_features: np.ndarray,
    windows: Windows | None = None,
) -> RetrievalModel:
    """Seeded, compiled model with its variables created (after the memory check)."""
    ensure_fits_in_memory(vocabs, config)
    tf.keras.utils.set_random_seed(config.seed)
    item_tower = build_item_tower(vocabs, config, items)
    query_tower = build_query_tower(vocabs, config, item_tower, user_features)
    freqs = None if windows is None else target_frequencies(windows, len(vocabs.items))
    model = RetrievalModel(
        query_tower,
        item_tower,
        config,
        first_item_row=vocabs.first_item_row,
        num_rows=len(vocabs.items),
        target_frequencies=freqs,
    )
    learning_rate: float | tf.keras.optimizers.schedules.LearningRateSchedule = config.learning_rate
    if config.learning_rate_decay and windows is not None:
        steps = config.max_epochs * max(1, steps_per_epoch(windows, config))
        learning_rate = tf.keras.optimizers.schedules.CosineDecay(config.learning_rate, steps, alpha=0.05)
    model.compile(optimizer=LazyAdam(learning_rate))
    query_tower.encode_sequence(
        tf.zeros([1, 2], tf.int32), tf.zeros([1], tf.int32), tf.zeros([1, user_features.shape[1]], tf.float32)
    )
    item_tower.candidate_embeddings(tf.constant([vocabs.first_item_row]))
    return model


def item_embeddings(model: RetrievalModel, vocabs: Vocabularies) -> np.ndarray:
    """``[n_items, d]`` normalised embeddings of every real item (column order)."""
    rows = tf.range(vocabs.first_item_row, len(vocabs.items))
    return model.item_tower.candidate_embeddings(rows).numpy()


# Weight of the towers' own validation recall in the served-ranking early-stopping score: small
# enough never to outweigh one user's hit among 10^4 users, so it only breaks ties.
TIE_BREAK = 1e-6

_ENCODERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _encoder(tower: QueryTower) -> Callable[..., tf.Tensor]:
    # One traced function per tower: a new tf.function per call would retrace every epoch.
    if tower not in _ENCODERS:
        specs = [
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, tower.num_features], tf.float32),
        ]
        _ENCODERS[tower] = tf.function(tower.encode_last, input_signature=specs)
    return _ENCODERS[tower]


def query_embeddings(model: RetrievalModel, eval_set: EvalSet, batch_size: int = 2048) -> np.ndarray:
    """``[u, d]`` normalised query embeddings of an :class:`EvalSet`."""
    encode = _encoder(model.query_tower)
    out = np.zeros((len(eval_set), model.item_tower.id_embedding.output_dim), np.float32)
    # Batches of similar history length: each batch runs only up to its longest history.
    order = np.argsort(eval_set.lengths, kind="stable")
    for s in range(0, len(order), batch_size):
        rows = order[s : s + batch_size]
        width = max(1, int(eval_set.lengths[rows].max()))
        out[rows] = encode(
            eval_set.tokens[rows, :width].astype(np.int32),
            eval_set.lengths[rows].astype(np.int32),
            eval_set.users[rows].astype(np.int32),
            eval_set.features[rows].astype(np.float32),
        ).numpy()
    return out


def top_items(
    queries: np.ndarray,
    candidates: np.ndarray,
    k: int,
    exclusions: list[np.ndarray] | None = None,
    batch_size: int = 4096,
    *,
    histories: list[np.ndarray] | None = None,
    repeat_bonus: float = 0.0,
    per_count: float = 0.0,
    blocked: np.ndarray | None = None,
) -> np.ndarray:
    """``[u, k]`` best item columns per query by dot product, excluded columns never returned.

    The same ranking as ``evaluate.top_k`` on ``queries @ candidates.T`` (plus the repeat lift
    ``repeat_bonus`` / ``per_count`` on each query's ``histories`` columns, see ``scoring``), with
    TensorFlow's matmul and top-k (several times faster than NumPy's argpartition over 10^4
    items). ``blocked``: [n] columns never returned to anyone. A slot left without a servable item is ``-1``.
    """
    lifts = [(repeat_bonus, per_count)]
    return top_items_each_lift(
        queries, candidates, k, exclusions, batch_size, histories=histories, lifts=lifts, blocked=blocked
    )[0]


def top_items_each_lift(
    queries: np.ndarray,
    candidates: np.ndarray,
    k: int,
    exclusions: list[np.ndarray] | None = None,
    batch_size: int = 4096,
    *,
    histories: list[np.ndarray] | None = None,
    lifts: list[tuple[float, float]],
    blocked: np.ndarray | None = None,
) -> list[np.ndarray]:
    """:func:`top_items` under each repeat lift ``(bonus, per_count)`` of ``lifts``, scoring the
    catalogue once for all (``scoring.top_k_each_lift``)."""
    cand = tf.constant(candidates, tf.float32)
    block = None if blocked is None or not np.any(blocked) else tf.constant(np.asarray(blocked, bool))
    k = min(k, len(candidates))
    columns, counts = scoring.distinct_counts(histories if histories is not None else [[]] * len(queries))
    tops: list[list[np.ndarray]] = [[] for _ in lifts]
    for s in range(0, len(queries), batch_size):
        part = slice(s, s + batch_size)
        exclude = None if exclusions is None else tf.constant(scoring.pad_columns(exclusions[part]))
        scores = scoring.score_items(
            tf.constant(queries[part], tf.float32), cand, exclude=exclude, blocked=block
        )
        for top, ranked in zip(
            tops, scoring.top_k_each_lift(scores, columns[part], counts[part], lifts, k), strict=True
        ):
            top.append(ranked)
    return [np.concatenate(top) if top else np.zeros((0, k), np.int64) for top in tops]


def evaluate_model(
    model: RetrievalModel,
    eval_set: EvalSet,
    vocabs: Vocabularies,
    ks: tuple[int, ...] = METRIC_KS,
    *,
    repeat_bonus: float | None = None,
) -> dict[str, float]:
    """Full-ranking metrics of the model on ``eval_set``.

    Args:
        repeat_bonus: added to the scores of the items of each user's last ``repeat_window``
            history items, with the per-count lift (``RetrievalModel.repeat_lift``); None: the
            model's own bonus.
    """
    bonus, per_count = repeat_lift(model, repeat_bonus)
    histories = lift_histories(model, eval_set.histories) if bonus or per_count else None
    top = top_items(
        query_embeddings(model, eval_set),
        item_embeddings(model, vocabs),
        max(ks),
        eval_set.exclusions,
        histories=histories,
        repeat_bonus=bonus,
        per_count=per_count,
        blocked=model.exclusions.blocked if model.exclusions is not None else None,
    )
    return ranking_metrics(top, eval_set.targets, ks)


def repeat_lift(
    model: RetrievalModel, bonus: float | tuple[float, float] | None = None
) -> tuple[float, float]:
    """``(bonus, per_count)`` the model serves with; ``bonus`` (or ``(bonus, per_count)``) in place
    of its own post-hoc part if given (the learned part of ``repeat_features`` stays)."""
    if bonus is None:
        return model.repeat_lift()
    extra, extra_count = bonus if isinstance(bonus, tuple) else (bonus, model.repeat_per_count)
    w_read, w_count = model.learned_lift()
    return float(extra) + w_read, float(extra_count) + w_count


def lift_histories(model: RetrievalModel, histories: list[np.ndarray]) -> list[np.ndarray]:
    """Each history's items the repeat lift counts: its last ``repeat_window``."""
    return [np.asarray(h)[-model.repeat_window :] for h in histories]


def validation_recalls(
    model: RetrievalModel,
    eval_set: EvalSet,
    vocabs: Vocabularies,
    k: int,
    bonuses: list[float | tuple[float, float] | None],
) -> list[float]:
    """``recall_at_k`` of the model's ranking under each repeat lift, one tower pass and one
    scoring of the catalogue for all (:func:`top_items_each_lift`).

    An entry stands in for the model's post-hoc ``repeat_bonus`` (a float) or for it and its
    ``repeat_per_count`` (a pair); the learned lift, if any, stays. None: the towers' own ranking,
    no lift at all.
    """
    lifts = [(0.0, 0.0) if bonus is None else repeat_lift(model, bonus) for bonus in bonuses]
    tops = top_items_each_lift(
        query_embeddings(model, eval_set),
        item_embeddings(model, vocabs),
        k,
        eval_set.exclusions,
        histories=lift_histories(model, eval_set.histories),
        lifts=lifts,
    )
    return [ranking_metrics(top, eval_set.targets, (k,))[f"recall_at_{k}"] for top in tops]


def validation_sample(validation: EvalSet, config: RetrievalConfig) -> EvalSet:
    """At most ``config.val_users`` validation users (a seeded sample)."""
    if len(validation) <= config.val_users:
        return validation
    rng = np.random.default_rng(config.seed)
    return validation.subset(np.sort(rng.choice(len(validation), config.val_users, replace=False)))


def lift_name(bonus: float, per_count: float) -> str:
    """How a repeat lift is written in ``history.json``: ``0.05``, or ``0+0.1*log(1+n)``."""
    return f"{bonus:g}" if not per_count else f"{bonus:g}+{per_count:g}*log(1+n)"


def lift_grid(model: RetrievalModel) -> list[tuple[float, float]]:
    """The (bonus, per-count weight) pairs :func:`learn_repeat_bonus` tries, the model's own too."""
    bonuses = sorted(set(REPEAT_BONUS_GRID) | {model.repeat_bonus})
    counts = sorted(set(REPEAT_COUNT_GRID) | {model.repeat_per_count})
    return [(b, c) for b in bonuses for c in counts]


def learn_repeat_bonus(
    model: RetrievalModel, validation: EvalSet, vocabs: Vocabularies, config: RetrievalConfig
) -> tuple[tuple[float, float], dict[str, float]]:
    """The repeat lift with the best validation ``recall_at_{val_k}``, and each tried one's recall.

    A lift is ``bonus + per_count * log(1 + n)`` on an item the customer had ``n`` times in the
    last ``repeat_window`` items: a mixture of the towers' score and two repeat features whose
    weights are fitted here, per shop and night. Tried: ``REPEAT_BONUS_GRID`` x
    ``REPEAT_COUNT_GRID`` with the model's own pair, which wins a tie (then the smallest bonus,
    then the smallest per-count weight). Returns ``((bonus, per_count), {name: recall})``.
    """
    val = validation_sample(validation, config)
    own = (model.repeat_bonus, model.repeat_per_count)
    grid = lift_grid(model)
    recalls = dict(zip(grid, validation_recalls(model, val, vocabs, config.val_k, grid), strict=True))
    best = max(recalls.values())
    chosen = own if recalls[own] == best else min(pair for pair, r in recalls.items() if r == best)
    return chosen, {lift_name(*pair): r for pair, r in recalls.items()}


@dataclass
class FitResult:
    """Per-epoch history (entry 0 is before training), best epoch and measured throughput."""

    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int = 0
    best_value: float = float("nan")
    metric: str = ""
    steps: int = 0
    examples_per_epoch: int = 0
    train_seconds: float = 0.0

    @property
    def examples_per_second(self) -> float:
        """Median over trained epochs, leaving out the first (graph tracing) when there are more."""
        rates = [h["examples_per_second"] for h in self.history if h.get("epoch", 0) > 0]
        rates = rates[1:] if len(rates) > 1 else rates
        return float(np.median(rates)) if rates else float("nan")


class _Validation(tf.keras.callbacks.Callback):
    """Validation recall after every epoch (and before the first); keeps the best weights."""

    def __init__(self, score: Callable[[], float] | None, patience: int, result: FitResult, examples: int):
        super().__init__()
        self.score, self.patience, self.result, self.examples = score, patience, result, examples
        self.best_weights: list[np.ndarray] | None = None
        self.wait = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        value = self.score() if self.score else float("nan")
        self.result.history.append({"epoch": 0, "step": 0, self.result.metric: value})
        self.result.best_value = value if self.score else float("nan")
        self.best_weights = self.model.get_weights()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.result.steps += 1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.started
        self.result.train_seconds += seconds
        entry = {
            "epoch": epoch + 1,
            "step": self.result.steps,
            "loss": float((logs or {}).get("loss", np.nan)),
        }
        entry.update({"seconds": seconds, "examples_per_second": self.examples / max(seconds, 1e-9)})
        if self.score is None:
            self.result.history.append(entry)
            self.result.best_epoch, self.best_weights = epoch + 1, None
            return
        started = time.perf_counter()
        value = self.score()
        entry[self.result.metric] = value
        entry["validation_seconds"] = time.perf_counter() - started
        self.result.history.append(entry)
        log.info(
            "epoch %d: loss %.4f, %s %.4f, %.0f examples/s",
            epoch + 1,
            entry["loss"],
            self.result.metric,
            value,
            entry["examples_per_second"],
        )
        if value > self.result.best_value or np.isnan(self.result.best_value):
            self.result.best_value, self.result.best_epoch = value, epoch + 1
            self.best_weights, self.wait = self.model.get_weights(), 0
        else:
            self.wait += 1
            if self.wait > self.patience:
                self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


def fit(
    model: RetrievalModel,
    windows: Windows,
    user_features: np.ndarray,
    config: RetrievalConfig,
    vocabs: Vocabularies,
    validation: EvalSet | None = None,
    *,
    epochs: int | None = None,
    patience: int | None = None,
) -> FitResult:
    """Train until validation ``recall_at_{val_k}`` stops improving (patience), restoring the best.

    With ``config.val_repeat_bonus`` (and a positive bonus) the metric is the recall of the ranking
    as served (repeat bonus included), ties broken by the towers' own (``TIE_BREAK``). (Judging
    each epoch with its best lift of :func:`learn_repeat_bonus`'s grid instead chose the same
    epoch on `make demo`'s shop at ~6x the validation cost on Online Retail II, when each lift
    ranked the whole catalogue again: not done. :func:`top_items_each_lift` has since made the grid
    cost about one ranking; not measured again.)

    Without a validation set it trains ``epochs`` (default ``config.max_epochs``) epochs.
    ``patience`` (default ``config.patience``): epochs without improvement before stopping.
    """
    both = config.val_repeat_bonus and (model.repeat_bonus > 0 or model.repeat_features)
    metric = f"val_{'served_' if both else ''}recall_at_{config.val_k}"
    result = FitResult(metric=metric, examples_per_epoch=windows.num_examples)
    score = None
    if validation is not None and len(validation):
        val = validation_sample(validation, config)

        def score() -> float:
            if not both:
                return validation_recalls(model, val, vocabs, config.val_k, [None])[0]
            own, served = validation_recalls(model, val, vocabs, config.val_k, [None, model.repeat_bonus])
            # The served ranking decides; the towers' own only breaks its ties (see RetrievalConfig).
            return served + own * TIE_BREAK

    dataset = make_dataset(windows, user_features, config)
    patience = config.patience if patience is None else patience
    callback = _Validation(score, patience, result, windows.num_examples)
    verbose = 2 if os.environ.get("ECOM_RETRIEVAL_VERBOSE") else 0
    model.fit(dataset, epochs=epochs or config.max_epochs, callbacks=[callback], verbose=verbose)
    return result
