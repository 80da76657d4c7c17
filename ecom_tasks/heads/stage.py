"""Task functions of the head stage: ``fine_tune_churn`` and ``fine_tune_repurchase``.

Each reads the feature stage's partitions and the pretrained backbone of ``ds``, trains the head
and the baselines on the same customer split (:mod:`ecom_tasks.heads.train`), scores the current
champion on the same test customers when ``champion_uri`` is given, and writes:

- ``{root}/models/<task>/ds=D/``: the selected artifact (``saved_model/`` or ``model.pkl``, see
  :mod:`ecom_tasks.heads.export`), ``smoke_input.json``, ``metrics.json``,
  ``champion_metrics.json`` (with a champion), ``history.json`` and ``reliability.png``;
- ``{root}/outputs/churn_scores`` / ``repurchase_scores`` for ``ds``: every customer active as of
  ``ds``, scored by the selected model with features as of ``ds`` (churn with its reasons);
- ``{root}/reports/heads/ds=D/<task>.{md,html}``.

The two functions share nothing mutable, so the DAG runs them in parallel.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time

import numpy as np
import pandas as pd

from ecom_tasks import remote, storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc
from ecom_tasks.heads import data, explain, export, report
from ecom_tasks.heads import metrics as hm
from ecom_tasks.heads.config import (
    BASELINES,
    CHURN,
    DEFAULT_CONFIG,
    EXAMPLES_TABLE,
    HEAD_MODEL,
    HISTORY_FILE,
    METRICS_FILE,
    MODELS_STAGE,
    RELIABILITY_PLOT,
    REPURCHASE,
    STABLE_FEATURES,
    HeadConfig,
)
from ecom_tasks.heads.model import LOG_RATE, LOGIT, PROFILE, expected_orders
from ecom_tasks.heads.network import predict_head, tower_vectors
from ecom_tasks.heads.train import FINETUNED_PREFIX, Trained, evaluate, tower_inputs, train_candidates
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation, tables
from ecom_tasks.publish.config import CHURN_SCORES, REPURCHASE_SCORES
from ecom_tasks.publish.outputs import candidate_version, write_output
from ecom_tasks.retrieval.config import SERVING_HISTORY, WEIGHTS_FILE

log = logging.getLogger(__name__)

LABELS = {CHURN: fc.LABEL_CHURN, REPURCHASE: fc.LABEL_REPURCHASE}
OUTPUT_TABLES = {CHURN: CHURN_SCORES, REPURCHASE: REPURCHASE_SCORES}


def fine_tune_churn(
    root: str,
    ds: str,
    config: HeadConfig = DEFAULT_CONFIG,
    champion_uri: str | None = None,
    backbone_uri: str | None = None,
) -> dict:
    """Train, evaluate, select and publish-prepare the churn-risk head for ``ds``.

    Args:
        root: the data root (``None``/empty: ``$ECOM_DATA_ROOT``).
        ds: the logical date.
        config: the head configuration.
        champion_uri: the current champion's model folder (an earlier output of this task), scored
            on the same test customers into ``champion_metrics.json``.
        backbone_uri: the pretrained retrieval folder to start from; by default the one of the
            training cutoff when it exists (see :func:`choose_backbone`), else the one of ``ds``.

    Returns:
        Metrics, the selected model, URIs and training seconds.
    """
    return fine_tune(CHURN, root, ds, config, champion_uri, backbone_uri)


def fine_tune_repurchase(
    root: str,
    ds: str,
    config: HeadConfig = DEFAULT_CONFIG,
    champion_uri: str | None = None,
    backbone_uri: str | None = None,
) -> dict:
    """The repurchase-propensity head (and expected orders); see :func:`fine_tune_churn`."""
    return fine_tune(REPURCHASE, root, ds, config, champion_uri, backbone_uri)


def _load_backbone(uri: str):
    from ecom_tasks.retrieval.backbone import load_backbone

    if not remote.uri_exists(f"{uri}/{WEIGHTS_FILE}"):
        raise FileNotFoundError(
            f"{uri}: no pretrained retrieval model (run pretrain_retrieval for this ds first)"
        )
    return load_backbone(uri)


def choose_backbone(root: str, ds: dt.date, cutoff_end: pd.Timestamp) -> str:
    """The backbone a head starts from: the retrieval model of the cutoff day when the pipeline
    ran that day, else the one of ``ds``.

    The backbone of ``ds`` learned its item vectors from interactions in the label window after
    the cutoff, which can flatter the head on its own test customers against the baselines (which
    see data before the cutoff only); the cutoff's backbone saw nothing after it.
    """
    cutoff_day = (cutoff_end - pd.Timedelta(days=1)).date()
    at_cutoff = data.backbone_uri(root, cutoff_day)
    if remote.uri_exists(f"{at_cutoff}/{WEIGHTS_FILE}"):
        return at_cutoff
    log.warning(
        "no retrieval model of the cutoff day %s; starting from the one of %s, whose item vectors saw "
        "the label window (head metrics may be optimistic against the baselines)",
        cutoff_day,
        ds,
    )
    return data.backbone_uri(root, ds)


def _score_now(
    trained: Trained,
    inputs: dict[str, np.ndarray],
    profiles: pd.DataFrame,
    reference: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Probabilities, expected orders and (churn) occlusion effects of the customers to score."""
    x = inputs[PROFILE].astype(np.float64)
    if trained.selected == HEAD_MODEL:
        raw = predict_head(trained.head, inputs)
        p = trained.platt(raw[LOGIT])
        orders = expected_orders(raw[LOG_RATE]) if LOG_RATE in raw else None
        query = tower_vectors(trained.head.tower, inputs)

        def predict(m: np.ndarray) -> np.ndarray:
            return trained.platt(trained.head.head(query, m.astype(np.float32))[LOGIT].numpy())
    else:
        model = trained.baselines[trained.selected]
        p, orders = model.predict(profiles), model.predict_orders(profiles)

        def predict(m: np.ndarray) -> np.ndarray:
            return model.predict(pd.DataFrame(m, columns=list(STABLE_FEATURES)))

    effects = explain.occlusion_effects(predict, x, reference) if trained.task == CHURN and len(x) else None
    return p, orders, effects


def fine_tune(
    task: str,
    root: str,
    ds: str,
    config: HeadConfig = DEFAULT_CONFIG,
    champion_uri: str | None = None,
    backbone_uri: str | None = None,
) -> dict:
    """The shared body of the two task functions (``task`` is ``churn`` or ``repurchase``)."""
    if task not in LABELS:
        raise ConfigError(f"task: {task!r} is not one of {list(LABELS)}")
    if champion_uri and not os.path.isdir(champion_uri):
        raise ConfigError(f"champion_uri: {champion_uri} is not a folder")
    started = time.perf_counter()
    root, day = storage.data_root(root), storage.as_date(ds)
    ds_text = day.isoformat()
    inp = data.load_inputs(root, day, config)
    ex = inp.examples
    y = ex[LABELS[task]].to_numpy(np.float64)
    orders = ex[fc.LABEL_ORDERS].to_numpy(np.float64) if task == REPURCHASE else None
    data.check_labels(y, inp.split, task, inp.uris[EXAMPLES_TABLE])
    bb_uri = backbone_uri or choose_backbone(root, day, inp.cutoff_end)
    backbone = _load_backbone(bb_uri)
    train_in = tower_inputs(backbone, inp.interactions, ex, inp.cutoff_end, config)
    trained = train_candidates(task, backbone, ex, train_in, y, orders, inp.split, config)
    metrics = trained.metrics
    out = storage.partition_uri(root, MODELS_STAGE, task, day)
    test = np.flatnonzero(inp.split == data.TEST)
    model_metrics = dict(trained.model_metrics)
    test_frame = ex.iloc[test].reset_index(drop=True)
    champion_p: list[np.ndarray] = []

    def score(uri: str) -> dict:
        p_c, o_c = export.score_artifact(uri, task, test_frame, train_in[SERVING_HISTORY][test])
        champion_p.append(p_c)
        return evaluate(task, trained.y_test, p_c, trained.orders_test, o_c, config)

    champ = champions.evaluate(champion_uri, score)
    champions.record(out, champ)
    if champ is not None:
        model_metrics["champion"] = champ
    evaluation.write(out, _test_scores(task, trained, champion_p[0] if champ is not None else None))
    if trained.selected == HEAD_MODEL:
        spec = {
            "task": task,
            "tower_feature_names": list(backbone.feature_columns),
            "profile_features": list(STABLE_FEATURES),
            "use_user_id": config.use_user_id,
            "platt": {"a": trained.platt.a, "b": trained.platt.b},
            "backbone_uri": bb_uri,
        }
        artifact = export.export_head(trained.head, trained.platt, task, out, spec)
    else:
        artifact = export.export_baseline(trained.baselines[trained.selected], out)
    storage.write_json(metrics, f"{out}/{METRICS_FILE}")
    # Score every active customer as of ds, with features as of ds.
    version = candidate_version(
        task,
        ds_text,
        trained.selected,
        config=config.to_dict(),
        backbone_uri=bb_uri,
        input_uris=inp.uris.values(),
    )
    prof = inp.profiles
    now_in = tower_inputs(backbone, inp.interactions, prof, inp.ds_end, config)
    reference = np.median(train_in[PROFILE][inp.split == data.TRAIN].astype(np.float64), axis=0)
    p_now, orders_now, effects = _score_now(trained, now_in, prof, reference)
    frame = pd.DataFrame({USER_ID: pd.array(prof[USER_ID].astype(str), dtype="string")})
    frame[export.probability_name(task)] = p_now.astype(np.float64)
    if task == REPURCHASE:
        frame[tables.EXPECTED_ORDERS] = (orders_now if orders_now is not None else p_now).astype(np.float64)
    frame[fc.SEGMENT] = pd.array(prof[fc.SEGMENT].astype(str), dtype="string")
    reasons_summary = None
    if task == CHURN:
        names = list(STABLE_FEATURES)
        x_now = now_in[PROFILE].astype(np.float64)
        fx = effects if effects is not None else np.zeros((0, len(names)))
        frame[tables.CHURN_REASONS] = pd.array(
            explain.reasons(fx, x_now, names, config.top_reasons), dtype="string"
        )
        reasons_summary = explain.summary(fx, names)
    frame[tables.MODEL_VERSION] = pd.array([version] * len(frame), dtype="string")
    table_uri = write_output(root, OUTPUT_TABLES[task], ds_text, frame, source=f"heads.{task}")
    # Reliability plot and report.
    folder = report.report_folder(root, ds_text)
    curves = {
        ("fine-tuned head" if n == HEAD_MODEL else n): (trained.y_test, s[0])
        for n, s in trained.test_scores.items()
    }
    plot = f"{folder}/{task}_reliability.png"
    with remote.staged_path(plot) as local_plot:  # matplotlib writes local files
        hm.reliability_plot(curves, local_plot, title=f"{task} ({ds_text})", bins=config.ece_bins)
        remote.upload(local_plot, f"{out}/{RELIABILITY_PLOT}")
    counts = {
        "cutoff (features before)": str(inp.cutoff_end),
        **inp.horizons,
        "active labelled customers": len(ex),
        "train / validation / test": " / ".join(str(int((inp.split == c).sum())) for c in (0, 1, 2)),
        "test positive rate": round(float(trained.y_test.mean()), 4),
        "customers scored as of ds": len(frame),
        "model version": version,
    }
    table = report.metrics_table(task, model_metrics, trained.seconds, trained.selected)
    uris = report.write_report(
        root,
        ds_text,
        task,
        table=table,
        reason=str(metrics["selection"]),
        counts=counts,
        plot=plot,
        reasons=reasons_summary,
    )
    history = {
        "ds": ds_text,
        "task": task,
        "cutoff_end": str(inp.cutoff_end),
        "horizons": inp.horizons,
        "config": config.to_dict(),
        "backbone_uri": bb_uri,
        "selected": trained.selected,
        "phases": trained.fit.phases,
        "train_seconds": trained.seconds,
        "model_version": version,
        "champion_uri": champion_uri,
    }
    storage.write_json(history, f"{out}/{HISTORY_FILE}")
    result = {
        "ds": ds_text,
        "task": task,
        "selected": trained.selected,
        "finetuned_beats_baselines": trained.selected == HEAD_MODEL,
        **{
            k: metrics.get(f"{p}{task}_roc_auc")
            for k, p in (
                ("roc_auc", ""),
                ("finetuned_roc_auc", "finetuned_"),
                ("rfm_logreg_roc_auc", "rfm_logreg_"),
                ("gbdt_roc_auc", "gbdt_"),
            )
        },
        "ece": metrics.get(f"{task}_ece"),
        "champion_roc_auc": model_metrics.get("champion", {}).get(f"{task}_roc_auc"),
        "train_seconds": trained.seconds,
        "seconds": round(time.perf_counter() - started, 3),
        "customers_scored": len(frame),
        "model_version": version,
        "backbone_uri": bb_uri,
        "model_uri": out,
        "artifact_uri": artifact,
        "metrics_uri": f"{out}/{METRICS_FILE}",
        "output_uri": table_uri,
        "report_uri": uris["html"],
    }
    log.info("%s head for %s: %s", task, ds_text, {k: v for k, v in result.items() if not k.endswith("uri")})
    return result


def _test_scores(task: str, trained: Trained, champion_p: np.ndarray | None) -> pd.DataFrame:
    """Each test customer's label and every model's probability, for the gate's paired bootstrap.

    Unprefixed scores are the published (selected) model's, as the unprefixed metrics are.
    """
    metric = f"{task}_roc_auc"
    frame = pd.DataFrame({evaluation.LABEL: trained.y_test.astype(np.float64)})
    frame[evaluation.score_column(metric)] = trained.test_scores[trained.selected][0]
    for name in BASELINES:
        frame[evaluation.score_column(metric, f"{name}_")] = trained.test_scores[name][0]
    frame[evaluation.score_column(metric, FINETUNED_PREFIX)] = trained.test_scores[HEAD_MODEL][0]
    if champion_p is not None:
        frame[evaluation.score_column(metric, evaluation.CHAMPION_PREFIX)] = np.asarray(
            champion_p, np.float64
        )
    return frame
