"""The retrieval pretraining task: train on all interactions but the last days, evaluate on them.

``pretrain_retrieval(root, ds)`` reads the feature stage's partitions for ``ds``
(``training_interactions``, ``item_features``, and ``training_profiles``: the customer profiles
as of the last training day, so profile features never see the evaluation window; see
:func:`~ecom_tasks.retrieval.inputs.read_profiles`), then:

1. holds out the interactions of the last ``holdout_days`` days of the data interval's end;
2. trains on the rest (validation: each user's last training interaction; early stopping),
   warm-started from ``warm_start_uri`` (an earlier output of this task) when given;
3. evaluates the model, popularity and item-kNN on the same held-out users: those with history
   before the window and interactions in it; targets are the distinct items of the window,
   ranked over every catalogue item;
4. writes ``{root}/models/retrieval/ds=D/``: ``saved_model/``, ``weights.npz``,
   ``vocabularies.json``, ``tower_state.npz`` (see ``backbone``), ``metrics.json`` and
   ``history.json``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import remote, storage
from ecom_tasks.contract import CATEGORY, ITEM_ID, TITLE, TS, USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation
from ecom_tasks.retrieval import (
    backbone,
    data,
    evaluate,
    exclusions,
    export,
    inputs,
    pipeline,
    train,
    warmstart,
)
from ecom_tasks.retrieval.backbone import Backbone, load_backbone
from ecom_tasks.retrieval.baselines import evaluate_baselines
from ecom_tasks.retrieval.champion import champion_metrics
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    HISTORY_FILE,
    INTERACTIONS_TABLE,
    ITEM_FEATURES_TABLE,
    ITEM_TEXT,
    METRICS_FILE,
    MODEL_TABLE,
    MODELS_STAGE,
    SAVED_MODEL_DIR,
    TOWER_STATE_FILE,
    VOCABULARIES_FILE,
    WEIGHTS_FILE,
    RetrievalConfig,
)
from ecom_tasks.retrieval.model import RetrievalModel

log = logging.getLogger(__name__)

DEFAULT_CONFIG = RetrievalConfig()


@dataclass
class Trained:
    """What :func:`train_and_evaluate` produces."""

    model: RetrievalModel
    vocabs: data.Vocabularies
    fit: train.FitResult
    metrics: dict[str, float]
    summary: dict[str, Any]
    test: evaluate.EvalSet  # the held-out users the metrics are computed on
    train_seqs: data.Sequences  # what the model trained on (validation items held out)
    champion_metrics: dict[str, float] | None = None  # the champion on the same users and targets
    per_user: dict[str, np.ndarray] = field(default_factory=dict)  # test users' figures, champion's too


def catalogue(items: pd.DataFrame | None) -> pd.DataFrame | None:
    """``item_id, category, title`` for the item tower; the title is the normalised tokens if present."""
    if items is None:
        return None
    out = pd.DataFrame({ITEM_ID: items[ITEM_ID].astype("string")})
    out[CATEGORY] = items.get(CATEGORY, pd.NA)
    out[TITLE] = items[ITEM_TEXT] if ITEM_TEXT in items else items.get(TITLE, pd.NA)
    return out.drop_duplicates(ITEM_ID, keep="last").reset_index(drop=True)


def train_and_evaluate(
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    user_features: pd.DataFrame | None,
    config: RetrievalConfig,
    *,
    cutoff: pd.Timestamp,
    end: pd.Timestamp,
    warm: tuple[dict[str, np.ndarray], data.Vocabularies] | None = None,
    champion: Backbone | None = None,
    returns: pd.DataFrame | None = None,
    catalogue_items: pd.DataFrame | None = None,
) -> Trained:
    """The pure core: train on ``ts < cutoff``, evaluate on ``cutoff <= ts < end``.

    With ``champion`` (an earlier model, see ``backbone``) it is scored on the same held-out
    users and targets as the new model.

    ``returns`` (``user_id, item_id, ts`` return lines up to ``end``) and ``catalogue_items`` (the
    items snapshot of the day) set what the model never serves (``exclusions``): the evaluation
    lists, served at ``cutoff``, leave out the items returned before it and those out of the
    catalogue; the exported model leaves out every return up to ``end``.

    Raises:
        TrainingDataError: nothing to train on before ``cutoff``.
        VocabularyTooLargeError: the embedding tables would not fit in memory.
    """
    clean = data.clean_interactions(interactions)
    clean = clean[clean[TS] < end]
    history, window = clean[clean[TS] < cutoff], clean[clean[TS] >= cutoff]
    if history.empty:
        first = "no interactions at all" if clean.empty else f"the first interaction is at {clean[TS].min()}"
        raise data.TrainingDataError(
            f"the training window (before {cutoff}) holds no interactions of known users with a positive "
            f"{data.WEIGHT}: {first}; {len(interactions):,} rows read. Lower holdout_days "
            f"({config.holdout_days}) or check the features stage's {INTERACTIONS_TABLE} table"
        )
    cat = catalogue(items)
    vocabs = data.build_vocabularies(history, cat, user_features, config)
    feats = data.user_feature_matrix(user_features, vocabs)
    seqs = data.build_sequences(history, vocabs, collapse_repeats=config.collapse_repeats)
    next_day = config.target == "next_day"
    if next_day:
        train_seqs, val_hist, val_targets = data.leave_last_day_out(seqs, config.validation_days)
    else:
        train_seqs, val_hist, last = data.leave_last_out(seqs, min_length=2)
        val_targets = [np.array([t]) for t in last]
    windows = pipeline.config_windows(train_seqs, vocabs.bos_row, config)
    validation = evaluate.make_eval_set(
        val_hist,
        val_targets,
        vocabs,
        config,
        feats,
        exclude_history=config.eval_exclude_history,
    )
    # Held-out users: history before the window and at least one interaction in it.
    by_user = {u: i for i, u in enumerate(seqs.users)}
    targets = window.groupby(USER_ID, sort=True)[ITEM_ID].unique()
    rows = vocabs.user_rows(pd.Series(targets.index, dtype="string"))
    keep = [i for i, r in enumerate(rows) if r in by_user]
    test_hist = data.Sequences(
        users=rows[keep],
        items=[seqs.items[by_user[rows[i]]] for i in keep],
        weights=[seqs.weights[by_user[rows[i]]] for i in keep],
    )
    test = evaluate.make_eval_set(
        test_hist,
        vocabs.item_rows_per_user([targets.iloc[i] for i in keep]),
        vocabs,
        config,
        feats,
        exclude_history=config.eval_exclude_history,
    )
    returned_ids = None
    if returns is not None and len(returns):  # the evaluation lists are served at the cutoff
        before = returns[(returns[TS] < cutoff).to_numpy()]
        test_users = [str(targets.index[i]) for i in keep]
        returned_ids = exclusions.returned_ids(before, test_users)
        test.exclusions = exclusions.merged(
            test.exclusions, exclusions.returned_columns(before, vocabs, test_users)
        )
    model = train.build_model(vocabs, config, cat, feats, windows)
    upto_end = None if returns is None else returns[(returns[TS] < end).to_numpy()]  # point in time
    model.exclusions = exclusions.serving_exclusions(vocabs, upto_end, catalogue_items)
    warm_stats = warmstart.warm_start(model, warm[0], warm[1], vocabs) if warm else None
    patience = config.warm_patience if warm_stats else config.patience
    fit = train.fit(model, windows, feats, config, vocabs, validation, patience=patience)
    bonus_recalls = None
    if config.learn_repeat_bonus and len(validation):
        # Evaluation, export and the saved configuration all use the model's bonus from here on.
        lift, bonus_recalls = train.learn_repeat_bonus(model, validation, vocabs, config)
        model.repeat_bonus, model.repeat_per_count = lift
        log.info("repeat lift %s (validation recall by lift: %s)", train.lift_name(*lift), bonus_recalls)
    per_user: dict[str, np.ndarray] = {}
    if len(test):
        with evaluation.recording() as per_user:  # each held-out user's figures, for the gate
            metrics = train.evaluate_model(model, test, vocabs)
            metrics.update(
                evaluate_baselines(
                    [s - vocabs.first_item_row for s in train_seqs.items],
                    test.histories,
                    test.targets,
                    vocabs.num_items,
                    exclusions=test.exclusions,
                )
            )
    else:
        log.warning("no user has interactions both before and after %s: nothing to evaluate", cutoff)
        metrics = {}
    champ = None
    if champion is not None:
        user_ids = [str(targets.index[i]) for i in keep]
        with evaluation.recording() as champion_per_user:
            champ = champion_metrics(
                champion,
                history,
                user_features,
                user_ids,
                [list(targets.iloc[i]) for i in keep],
                cutoff,
                exclude_history=config.eval_exclude_history,
                returned=returned_ids,
            )
    summary = {
        "train_interactions": len(history),
        "eval_window_interactions": len(window),
        "users": len(vocabs.users) - 2,
        "items": vocabs.num_items,
        "training_examples": windows.num_examples,
        "eval_users": len(test),
        "validation_users": len(validation),
        "warm_start": warm_stats,
        "repeat_bonus": model.repeat_bonus,
        "repeat_per_count": model.repeat_per_count,
        "validation_recall_by_repeat_bonus": bonus_recalls,
    }
    if champ is not None:
        per_user |= {evaluation.CHAMPION_PREFIX + k: v for k, v in champion_per_user.items()}
    return Trained(model, vocabs, fit, metrics, summary, test, train_seqs, champ, per_user)


def _load_champion(uri: str) -> Backbone | None:
    # A champion written before tower_state.npz existed cannot be rebuilt; the gate then sees no
    # champion figures (and says so) rather than the night failing. Anything else missing fails.
    if remote.uri_exists(f"{uri}/{WEIGHTS_FILE}") and not remote.uri_exists(f"{uri}/{TOWER_STATE_FILE}"):
        log.warning("champion %s has no %s (an older format): not scored", uri, TOWER_STATE_FILE)
        return None
    return load_backbone(uri)


def pretrain_retrieval(
    root: str,
    ds: str,
    config: RetrievalConfig = DEFAULT_CONFIG,
    warm_start_uri: str | None = None,
    champion_uri: str | None = None,
) -> dict:
    """Train, evaluate and export the two-tower retrieval model for ``ds``.

    Args:
        root: the data root (``None``/empty: ``$ECOM_DATA_ROOT``).
        ds: the logical date; data up to the end of that day is used.
        config: model and training configuration.
        warm_start_uri: an earlier output folder of this task (the champion's) to start from.
        champion_uri: an earlier output folder of this task (the current champion) to score on
            the same held-out users and targets; written as ``champion_metrics.json``.

    Returns:
        Metrics (model and baselines at K=20, NDCG@10), counts and the output URIs.
    """
    root, day = storage.data_root(root), storage.as_date(ds)
    end = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    cutoff = end - pd.Timedelta(days=config.holdout_days)
    last_train_day = (cutoff - pd.Timedelta(days=1)).date()
    inter_uri = storage.partition_uri(root, FEATURES_STAGE, INTERACTIONS_TABLE, day)
    interactions = storage.read_partition(inter_uri)
    items = inputs.read_optional(storage.partition_uri(root, FEATURES_STAGE, ITEM_FEATURES_TABLE, day))
    users, profiles_uri = inputs.read_profiles(root, day, last_train_day)
    warm = None
    if warm_start_uri:
        try:
            warm = (
                warmstart.load_weights(f"{warm_start_uri}/{WEIGHTS_FILE}"),
                data.Vocabularies.from_dict(storage.read_json(f"{warm_start_uri}/{VOCABULARIES_FILE}")),
            )
        except FileNotFoundError as exc:
            raise ConfigError(
                f"warm_start_uri: {warm_start_uri} holds no {WEIGHTS_FILE}/{VOCABULARIES_FILE}"
            ) from exc
    champion = _load_champion(champion_uri) if champion_uri else None
    returns, catalogue_items = exclusions.read_returns(root, day), exclusions.read_catalogue(root, day)
    try:
        trained = train_and_evaluate(
            interactions,
            items,
            users,
            config,
            cutoff=cutoff,
            end=end,
            warm=warm,
            champion=champion,
            returns=returns,
            catalogue_items=catalogue_items,
        )
    except data.TrainingDataError as exc:
        raise data.TrainingDataError(f"{inter_uri}: {exc}") from None
    out = storage.partition_uri(root, MODELS_STAGE, MODEL_TABLE, day)
    export.export_saved_model(trained.model, trained.vocabs, f"{out}/{SAVED_MODEL_DIR}", k=config.export_k)
    warmstart.save_weights(trained.model, f"{out}/{WEIGHTS_FILE}")
    backbone.save_tower_state(trained.model, f"{out}/{TOWER_STATE_FILE}")
    storage.write_json(trained.vocabs.to_dict(), f"{out}/{VOCABULARIES_FILE}")
    metrics = champions.clean(trained.metrics)
    storage.write_json(metrics, f"{out}/{METRICS_FILE}")
    # The champion was scored inside train_and_evaluate, on the candidate's own held-out users.
    scored = None if trained.champion_metrics is None else champions.clean(trained.champion_metrics)
    champion_uri_out = champions.record(out, scored)
    if trained.per_user:
        evaluation.write(out, pd.DataFrame(trained.per_user))
    else:
        evaluation.remove(out)
    fit = trained.fit
    history = {
        "ds": day.isoformat(),
        "cutoff": cutoff.isoformat(),
        # With the repeat lift the model serves with (fitted on validation when configured so).
        "config": replace(
            config, repeat_bonus=trained.model.repeat_bonus, repeat_per_count=trained.model.repeat_per_count
        ).to_dict(),
        "summary": trained.summary,
        "profiles_uri": profiles_uri,
        "user_feature_names": trained.vocabs.user_feature_names,
        "warm_start_uri": warm_start_uri,
        "champion_uri": champion_uri,
        "best_epoch": fit.best_epoch,
        "steps": fit.steps,
        "examples_per_second": fit.examples_per_second,
        "epochs": fit.history,
    }
    storage.write_json(history, f"{out}/{HISTORY_FILE}")
    result = {k: metrics.get(k) for k in ("recall_at_20", "ndcg_at_10", "hr_at_10")}
    result |= {k: metrics.get(k) for k in ("popularity_recall_at_20", "itemknn_recall_at_20")}
    result |= {
        "eval_users": trained.summary["eval_users"],
        "train_interactions": trained.summary["train_interactions"],
        "best_epoch": fit.best_epoch,
        "examples_per_second": round(fit.examples_per_second, 1),
        "repeat_bonus": trained.model.repeat_bonus,
        "repeat_per_count": trained.model.repeat_per_count,
        "warm_started": warm is not None,
        "user_features": len(trained.vocabs.user_feature_names),
        "profiles_uri": profiles_uri,
        "model_uri": out,
        "saved_model_uri": f"{out}/{SAVED_MODEL_DIR}",
        "metrics_uri": f"{out}/{METRICS_FILE}",
        "champion_metrics_uri": champion_uri_out,
    }
    if trained.champion_metrics is not None:
        result["champion_recall_at_20"] = champions.clean(trained.champion_metrics).get("recall_at_20")
    log.info("retrieval pretraining for %s: %s", day, result)
    return result


def train_stage(root: str, ds: str, config: RetrievalConfig, champion_uri: str | None) -> dict:
    """The registry's train function: pretrain warm-started from the champion and scored against it."""
    return pretrain_retrieval(root, ds, config, warm_start_uri=champion_uri, champion_uri=champion_uri)
