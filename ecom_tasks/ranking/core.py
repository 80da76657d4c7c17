"""The pure core of the ranking stage: build lists, fit the head, evaluate, select, apply.

No I/O: :mod:`ecom_tasks.ranking.stage` reads the partitions and writes the artifacts. Windows
(``train_cutoff < eval_cutoff < end``; the backbone trained on interactions before
``train_cutoff``):

- training lists: users with history before ``train_cutoff`` and activity in
  ``[train_cutoff, eval_cutoff)``, candidates as of ``train_cutoff``, labels = bought then;
- evaluation lists: users with history before ``eval_cutoff`` who bought in ``[eval_cutoff, end)``,
  candidates as of ``eval_cutoff``; the head's order and the retrieval order are scored on them.

Selection is explicit: the head is used only when its NDCG@10 on the validation users (training
users held out from fitting) beats the retrieval order's by more than ``min_improvement``;
otherwise the retrieval order (the identity re-ranker) is selected. The evaluation window is never
used to choose, so its figures are unbiased.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks.contract import ITEM_ID, PRICE, TS, USER_ID
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import evaluation
from ecom_tasks.ranking import data, train
from ecom_tasks.ranking.config import (
    METRIC_K,
    SELECTED_HEAD,
    SELECTED_RETRIEVAL,
    SERVING_FEATURES,
    SERVING_RETRIEVAL_RANK,
    RankingConfig,
)
from ecom_tasks.ranking.metrics import list_metrics, order_by_scores
from ecom_tasks.ranking.model import RankingHead, build_head
from ecom_tasks.retrieval.backbone import Backbone

log = logging.getLogger(__name__)

ProfilesAsOf = Callable[[pd.Timestamp], "pd.DataFrame | None"]  # profiles known before an instant
Scorer = Callable[[data.Lists], np.ndarray]


class RankingDataError(NotEnoughDataError):
    """Nothing to learn from: no training lists or no purchase among them; the message says where.

    Not enough data rather than bad data: the ranking model is skipped with this reason.
    """

    retryable = False  # the same data and parameters give the same answer on every try


@dataclass
class Trained:
    """What :func:`train_and_evaluate` produces."""

    head: RankingHead
    fit: train.FitResult
    eval_lists: data.Lists
    metrics: dict[str, float]
    selected: str
    reason: str
    summary: dict[str, Any]
    per_list: dict[str, np.ndarray] = field(default_factory=dict)  # evaluation users' figures

    def scorer(self) -> Scorer:
        """Scores of the selected re-ranker (the head, or the identity ``1 / retrieval_rank``)."""
        if self.selected == SELECTED_HEAD:
            return lambda lists: train.predict(self.head, lists)
        return identity_scores


def identity_scores(lists: data.Lists) -> np.ndarray:
    """The retrieval order as scores: ``1 / retrieval_rank`` (0 for padding or unranked items)."""
    rank = lists.inputs[SERVING_RETRIEVAL_RANK].astype(np.float32)
    return np.where(rank > 0, 1.0 / np.maximum(rank, 1.0), 0.0).astype(np.float32) * lists.mask


def score_metrics(lists: data.Lists, scores: np.ndarray, prefix: str) -> dict[str, float]:
    """``{prefix}ndcg_at_10`` and ``{prefix}recall_at_10`` of ``lists`` ordered by ``scores``."""
    return list_metrics(order_by_scores(lists.item_ids, scores), lists.targets, METRIC_K, prefix)


def item_prices(backbone: Backbone, items: pd.DataFrame | None) -> np.ndarray:
    """``[len(vocabs.items)]`` price of each backbone item row (NaN where unknown)."""
    out = np.full(len(backbone.vocabs.items), np.nan, np.float32)
    if items is None or PRICE not in items.columns or not len(items):
        return out
    frame = items.drop_duplicates(ITEM_ID, keep="last")
    rows = backbone.vocabs.item_rows(frame[ITEM_ID].astype(str))
    known = rows >= backbone.vocabs.first_item_row
    out[rows[known]] = pd.to_numeric(frame[PRICE], errors="coerce").to_numpy(np.float32)[known]
    return out


def _active(interactions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, bought: bool) -> set[str]:
    win = data.window(interactions, start, end)
    if bought:
        win = win[data.purchases(win)]
    return set(win[USER_ID].astype(str).unique())


def train_and_evaluate(
    backbone: Backbone,
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    profiles_as_of: ProfilesAsOf,
    config: RankingConfig,
    *,
    train_cutoff: pd.Timestamp,
    eval_cutoff: pd.Timestamp,
    end: pd.Timestamp,
) -> Trained:
    """Fit the head on the training window, score it and the retrieval order on the evaluation window.

    Raises:
        RankingDataError: no training user, or no purchase among the training lists.
    """
    data.check_interactions(interactions)
    inter = interactions[interactions[TS] < end]
    known = data.users_before(inter, train_cutoff)
    active = _active(inter, train_cutoff, eval_cutoff, bought=False)
    train_users = [u for u in known if u in active]
    if not train_users:
        raise RankingDataError(
            f"no training lists: no user has interactions both before {train_cutoff} and in "
            f"[{train_cutoff}, {eval_cutoff}) ({len(known):,} users before, {len(active):,} active in it)"
        )
    kwargs = {"candidates": config.candidates}
    train_lists = data.candidate_lists(
        backbone, inter, profiles_as_of(train_cutoff), train_users, train_cutoff, eval_cutoff,
        max_seen_negatives=config.max_seen_negatives, **kwargs,
    )  # fmt: skip
    positives = int(train_lists.labels.sum())
    if positives == 0:
        raise RankingDataError(
            f"no positives: none of the {len(train_lists):,} training users bought one of their "
            f"{train_lists.labels.shape[1]} candidates in [{train_cutoff}, {eval_cutoff})"
        )
    buyers = _active(inter, eval_cutoff, end, bought=True)
    eval_users = [u for u in data.users_before(inter, eval_cutoff) if u in buyers]
    eval_lists = data.candidate_lists(
        backbone, inter, profiles_as_of(eval_cutoff), eval_users, eval_cutoff, end, **kwargs
    )
    fit_part, val_part = train.split_validation(train_lists, config.validation_fraction, config.seed)
    base_rate = float(fit_part.labels.sum() / max(fit_part.mask.sum(), 1.0))
    prices = item_prices(backbone, items)
    head = build_head(backbone, config, prices, fit_part.inputs[SERVING_FEATURES], base_rate)
    fit = train.fit(head, fit_part, val_part, config)
    with evaluation.recording() as per_list:  # each evaluation user's figures, for the gate
        metrics = score_metrics(eval_lists, identity_scores(eval_lists), "retrieval_")
        head_metrics = score_metrics(eval_lists, train.predict(head, eval_lists), "head_")
    # Chosen on the held-out training users, so that the evaluation window's figures stay unbiased.
    valid_head = score_metrics(val_part, train.predict(head, val_part), "head_") if len(val_part) else {}
    valid_order = score_metrics(val_part, identity_scores(val_part), "retrieval_") if len(val_part) else {}
    selected, reason = select(valid_head, valid_order, config.min_improvement, len(val_part))
    chosen = dict(head_metrics if selected == SELECTED_HEAD else metrics)
    prefix = "head_" if selected == SELECTED_HEAD else "retrieval_"
    metrics |= head_metrics
    metrics |= {f"valid_{k}": v for k, v in (valid_head | valid_order).items()}
    metrics |= {f"ranking_{k[len(prefix) :]}": v for k, v in chosen.items()}
    per_list |= {f"ranking_{k[len(prefix) :]}": per_list[k] for k in chosen}
    summary = {
        "train_users": len(train_lists),
        "train_positives": positives,
        "train_candidates": int(train_lists.mask.sum()),
        "validation_users": len(val_part),
        "eval_users": len(eval_lists),
        "eval_targets_in_candidates": float(np.mean(eval_lists.labels.sum(axis=1) > 0))
        if len(eval_lists)
        else None,
    }
    log.info("ranking: %s; %s", reason, summary)
    return Trained(head, fit, eval_lists, metrics, selected, reason, summary, per_list)


def select(
    head: dict[str, float], retrieval: dict[str, float], min_improvement: float, n_eval: int
) -> tuple[str, str]:
    """``(selected, reason)``: the head only when it beats the retrieval order's NDCG@10.

    ``head`` and ``retrieval`` are the validation users' figures (``n_eval`` of them).
    """
    key = f"ndcg_at_{METRIC_K}"
    h, r = head.get(f"head_{key}", np.nan), retrieval.get(f"retrieval_{key}", np.nan)
    if not n_eval or not np.isfinite(h) or not np.isfinite(r):
        return SELECTED_RETRIEVAL, "no validation users: publishing the retrieval order (identity re-ranker)"
    if h > r + min_improvement:
        reason = f"the ranking head beats the retrieval order: validation NDCG@10 {h:.4f} > {r:.4f}"
        return SELECTED_HEAD, reason
    return (
        SELECTED_RETRIEVAL,
        f"the ranking head does not beat the retrieval order (validation NDCG@10 {h:.4f} vs {r:.4f}, "
        f"min_improvement {min_improvement}): publishing the retrieval order (identity re-ranker)",
    )
