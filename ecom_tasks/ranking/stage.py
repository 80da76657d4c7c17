"""The ranking task: fine-tune the head on the pretrained towers, evaluate, select, publish lists.

``fine_tune_ranking(root, ds)`` reads ``{root}/models/retrieval/ds=D`` (the backbone) and the
feature stage's ``training_interactions``, ``item_features`` and ``customer_profiles`` partitions,
then (see :mod:`ecom_tasks.ranking.core` for the windows):

1. fits the head on lists labelled inside the backbone's held-out window, before the last
   ``eval_days``; evaluates it and the retrieval order on the last ``eval_days``;
2. selects the head or the retrieval order (logged, and ``selected`` in ``metrics.json``), and
   saves the selected re-ranker as ``saved_model/`` (see :mod:`ecom_tasks.ranking.export`);
3. with ``champion_uri`` (an earlier output folder of this task), scores the champion's re-ranker
   on the same evaluation lists into ``champion_metrics.json``;
4. writes the ``recommendations`` output table: the top ``top_k`` of every user known by the end
   of ``ds``, re-ranked from the backbone's top ``candidates`` over their full history.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote, storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import stage as feature_stage
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation
from ecom_tasks.publish.outputs import candidate_version
from ecom_tasks.ranking import core, data, export
from ecom_tasks.ranking.config import (
    BACKBONE_TABLE,
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_TABLE,
    MODELS_STAGE,
    RANKER_FILE,
    SAVED_MODEL_DIR,
    SELECTED,
    SELECTED_HEAD,
    SERVING_FEATURES,
    RankingConfig,
)
from ecom_tasks.ranking.outputs import recommendations, returned_before, write_recommendations
from ecom_tasks.retrieval.backbone import Backbone, load_backbone
from ecom_tasks.retrieval.config import HISTORY_FILE as BACKBONE_HISTORY
from ecom_tasks.retrieval.inputs import profile_sources

log = logging.getLogger(__name__)

DEFAULT_CONFIG = RankingConfig()
FEATURES = catalog.FEATURES


def _require(uri: str, what: str) -> pd.DataFrame:
    if storage.read_manifest(uri) is None:
        raise FileNotFoundError(f"{uri}: no {what} partition (run the feature stage for this ds first)")
    return storage.read_partition(uri)


def profiles_reader(root: str, backbone: Backbone, day: dt.date | None = None) -> core.ProfilesAsOf:
    """Profiles known before an instant: the latest profiles as of the end of the day before it.

    The sources are :func:`~ecom_tasks.retrieval.inputs.profile_sources` of ``day``: with its
    ``training_profiles`` (as of the backbone's last training day) a first run or a backfill
    trains on profiles as of its cutoffs rather than none or older ones. An older one than the
    day before the instant is logged (stale). None (features unknown) when the backbone uses no
    profile features or no source is old enough.
    """
    sources = profile_sources(root, day)
    cache: dict[str, pd.DataFrame] = {}

    def read(instant: pd.Timestamp) -> pd.DataFrame | None:
        if not backbone.feature_columns:
            return None
        last = (instant - pd.Timedelta(days=1)).date()  # a partition of day D describes the end of D
        usable = [d for d in sources if d <= last]
        if not usable:
            log.warning("no %s partition up to %s: profile features unknown", feature_stage.PROFILES, last)
            return None
        uri = sources[max(usable)]
        if max(usable) < last:
            log.warning("profiles as of %s: none of that day; using %s (%d days older)",
                        last, uri, (last - max(usable)).days)  # fmt: skip
        if uri not in cache:
            cache[uri] = storage.read_partition(uri)
        return cache[uri]

    return read


def _clean(metrics: dict) -> dict:
    return {
        k: (round(float(v), 6) if np.isfinite(v) else None) if isinstance(v, float | int) else v
        for k, v in metrics.items()
    }


def _champion_model(champion_uri: str) -> str:
    path = f"{champion_uri}/{SAVED_MODEL_DIR}"
    if not os.path.isdir(path):
        raise ConfigError(
            f"champion_uri: {champion_uri} holds no {SAVED_MODEL_DIR}/ (not a ranking output folder)"
        )
    return path


def champion_metrics(champion_uri: str, lists: data.Lists, profiles: pd.DataFrame | None) -> dict[str, float]:
    """The champion's re-ranker on ``lists``: ``ranking_ndcg_at_10``, ``ranking_recall_at_10``.

    Its profile columns (``ranker.json``) are rebuilt from ``profiles``; unknown ones are NaN.
    """
    path = _champion_model(champion_uri)
    try:
        names = list(storage.read_json(f"{champion_uri}/{RANKER_FILE}")["user_feature_names"])
    except FileNotFoundError as exc:
        raise ConfigError(f"champion_uri: {champion_uri} holds no {RANKER_FILE}") from exc
    feats = np.full((len(lists), len(names)), np.nan, np.float32)
    if names and profiles is not None:
        frame = profiles.drop_duplicates(USER_ID, keep="last").set_index(USER_ID)
        pos = frame.index.astype(str).get_indexer(lists.users)
        for j, name in enumerate(names):
            if name in frame.columns:
                col = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
                feats[:, j] = np.where(pos >= 0, col[np.maximum(pos, 0)], np.nan)
    inputs = dict(lists.inputs)
    inputs[SERVING_FEATURES] = feats
    theirs = data.Lists(inputs, lists.labels, lists.targets, lists.retrieval_scores)
    scores = export.load_scorer(path)(theirs)
    out = core.score_metrics(lists, scores * lists.mask, "ranking_")
    log.info("champion %s on this run's evaluation lists: %s", champion_uri, out)
    return out


def _per_list(per_list: dict[str, np.ndarray], champion: dict[str, np.ndarray]) -> pd.DataFrame:
    """Each evaluation user's figures under metrics.json's names (the retrieval order as the
    ``retrieval_`` baseline of ``ranking_*``), for the gate's paired bootstrap."""
    columns = dict(per_list)
    columns |= {f"retrieval_{k}": v for k, v in per_list.items() if k.startswith("ranking_")}
    for k in list(columns):
        if k.startswith("retrieval_ranking_"):
            columns[k] = per_list[k.replace("retrieval_ranking_", "retrieval_")]
    columns |= {evaluation.CHAMPION_PREFIX + k: v for k, v in champion.items()}
    return pd.DataFrame(columns)


def fine_tune_ranking(
    root: str, ds: str, config: RankingConfig = DEFAULT_CONFIG, champion_uri: str | None = None
) -> dict:
    """Fine-tune, evaluate and apply the ranking head for ``ds``.

    Args:
        root: the data root (``None``/empty: ``$ECOM_DATA_ROOT``).
        ds: the logical date; data up to the end of that day is used.
        config: the head, its schedule and the output list length.
        champion_uri: the current champion's output folder of this task, scored on the same lists.

    Returns:
        Metrics, the selection, counts, training seconds and the output URIs.

    Raises:
        FileNotFoundError: the backbone or a feature partition of ``ds`` is missing.
        ConfigError: ``eval_days`` leaves no training window inside the backbone's held-out days.
        RankingDataError: no training lists or no purchase among them.
    """
    root, day = storage.data_root(root), storage.as_date(ds)
    end = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    folder = storage.partition_uri(root, MODELS_STAGE, BACKBONE_TABLE, day)
    if not remote.uri_exists(f"{folder}/{BACKBONE_HISTORY}"):
        raise FileNotFoundError(
            f"{folder}: no pretrained retrieval model for ds={day} (run pretrain_retrieval first)"
        )
    inter_uri = storage.partition_uri(root, FEATURES, feature_stage.INTERACTIONS, day)
    interactions = _require(inter_uri, feature_stage.INTERACTIONS)
    items_uri = storage.partition_uri(root, FEATURES, feature_stage.ITEM_FEATURES, day)
    items = _require(items_uri, feature_stage.ITEM_FEATURES)
    if champion_uri:
        _champion_model(champion_uri)  # fail before training, not after
    backbone = load_backbone(folder)
    holdout = backbone.config.holdout_days
    if config.eval_days >= holdout:
        raise ConfigError(
            f"RankingConfig.eval_days: {config.eval_days} leaves no training days inside the backbone's "
            f"{holdout} held-out days ({folder}); lower eval_days or raise RetrievalConfig.holdout_days"
        )
    train_cutoff = end - pd.Timedelta(days=holdout)
    eval_cutoff = end - pd.Timedelta(days=config.eval_days)
    profiles = profiles_reader(root, backbone, day)
    try:
        trained = core.train_and_evaluate(
            backbone, interactions, items, profiles, config,
            train_cutoff=train_cutoff, eval_cutoff=eval_cutoff, end=end,
        )  # fmt: skip
    except core.RankingDataError as exc:
        raise core.RankingDataError(f"{inter_uri}: {exc}") from None
    # Before anything is written: the champion may be this ds's earlier output.
    with evaluation.recording() as champion_per_list:
        champion = champions.evaluate(
            champion_uri, lambda uri: champion_metrics(uri, trained.eval_lists, profiles(eval_cutoff))
        )
    out = storage.partition_uri(root, MODELS_STAGE, MODEL_TABLE, day)
    n_features = len(backbone.feature_columns)
    module = (
        export.Reranker(trained.head, n_features)
        if trained.selected == SELECTED_HEAD
        else export.IdentityReranker(n_features)
    )
    export.save(module, f"{out}/{SAVED_MODEL_DIR}")
    ranker = {
        "user_feature_names": backbone.feature_columns,
        SELECTED: trained.selected,
        "backbone_uri": folder,
    }
    storage.write_json(ranker, f"{out}/{RANKER_FILE}")
    metrics = _clean(trained.metrics)
    # The gate compares a candidate's metric with "<baseline prefix><metric>": the retrieval
    # order's ranking_* under that convention (the same values as retrieval_*).
    metrics |= {
        f"retrieval_{k}": metrics[k.replace("ranking_", "retrieval_")]
        for k in list(metrics)
        if k.startswith("ranking_")
    }
    metrics |= {SELECTED: trained.selected, "selection": trained.reason}
    storage.write_json(metrics, f"{out}/{METRICS_FILE}")
    champions.record(out, champion)
    evaluation.write(out, _per_list(trained.per_list, champion_per_list if champion else {}))
    version = candidate_version(
        MODEL_TABLE, day.isoformat(), trained.selected,
        config=config.to_dict(), backbone_uri=folder, input_uris=[inter_uri, items_uri],
    )  # fmt: skip
    frame = recommendations(
        backbone, interactions, items, profiles(end), trained.scorer(), config, end=end,
        model_version=version, returned=returned_before(root, day),
    )  # fmt: skip
    table_uri = write_recommendations(root, day, frame, source=out)
    fit = trained.fit
    history = {
        "ds": day.isoformat(),
        "train_cutoff": train_cutoff.isoformat(),
        "eval_cutoff": eval_cutoff.isoformat(),
        "config": config.to_dict(),
        "backbone_uri": folder,
        "champion_uri": champion_uri,
        "summary": trained.summary,
        "selected": trained.selected,
        "best_epoch": fit.best_epoch,
        "train_seconds": round(fit.train_seconds, 3),
        "epochs": fit.history,
        "model_version": version,
    }
    storage.write_json(history, f"{out}/{HISTORY_FILE}")
    result = {
        k: metrics.get(k)
        for k in (
            "ranking_ndcg_at_10",
            "ranking_recall_at_10",
            "retrieval_ndcg_at_10",
            "retrieval_recall_at_10",
            "head_ndcg_at_10",
        )
    }
    result |= {
        SELECTED: trained.selected,
        "champion_ndcg_at_10": None if champion is None else champion.get("ranking_ndcg_at_10"),
        "eval_users": trained.summary["eval_users"],
        "train_users": trained.summary["train_users"],
        "train_seconds": round(fit.train_seconds, 3),
        "recommendation_users": int(frame[USER_ID].nunique()) if len(frame) else 0,
        "model_uri": out,
        "saved_model_uri": f"{out}/{SAVED_MODEL_DIR}",
        "metrics_uri": f"{out}/{METRICS_FILE}",
        "recommendations_uri": table_uri,
    }
    log.info("ranking fine-tuning for %s: %s", day, result)
    return result
