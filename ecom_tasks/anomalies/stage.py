"""The train function of the anomaly stage: ``train_anomalies(root, ds, config, champion_uri)``.

For ``ds`` it reads every validated day up to ``ds`` and:

1. builds point-in-time order features (:mod:`~ecom_tasks.anomalies.features`);
2. fits the detectors on the orders before the validation window (:mod:`~ecom_tasks.anomalies.model`);
3. injects known anomalies into copies of the validation and test windows' orders, chooses the
   candidate (rules, a detector, the ensemble) with the best recall at the daily budget on
   validation and measures every candidate on test (``metrics.json``, ``evaluation.parquet``);
   the champion is scored on the same injected test orders (``champion_metrics.json``);
4. scores the real orders of ``ds`` and writes the top ``budget`` with their reasons to
   ``outputs/anomalies``, and the daily metrics of the test window with their band to
   ``outputs/metric_anomalies`` (:mod:`~ecom_tasks.anomalies.daily`);
5. sends one summary alert for ``ds`` when an order or a metric of ``ds`` is above the severity
   threshold (:mod:`~ecom_tasks.anomalies.alert`).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.anomalies import alert, daily, data, evaluate, inject, outputs
from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies import model as detectors
from ecom_tasks.anomalies import reference as ref
from ecom_tasks.anomalies.config import CANDIDATES, MODEL_DIR, NAME, AnomalyConfig
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation

log = logging.getLogger(__name__)

SELECTION_METRIC = evaluate.RECALL


def _window(lines: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    return lines[(lines[data.DAY] >= first) & (lines[data.DAY] <= last)].reset_index(drop=True)


def check_history(
    inputs: data.Inputs, ds: pd.Timestamp, config: AnomalyConfig, valid_start: pd.Timestamp
) -> None:
    """Raise :class:`NotEnoughDataError` when the shop is too young or has too few orders to learn from."""
    have = (ds.date() - inputs.days[0]).days + 1 if inputs.days else 0
    if have < config.history_days:
        raise NotEnoughDataError(
            f"needs {config.history_days} days of history (4 weeks to learn from, {config.valid_days} "
            f"days to choose on, anomaly_test_days={config.test_days} to test on), the shop has {have}"
        )
    orders = inputs.lines.loc[inputs.lines[data.DAY] < valid_start, "order_id"].nunique()
    if orders < config.min_train_orders:
        raise NotEnoughDataError(
            f"needs {config.min_train_orders} orders before {valid_start.date()} to learn what is usual, "
            f"the shop has {orders}"
        )


def evaluate_window(
    model: detectors.AnomalyModel,
    lines: pd.DataFrame,
    reference: ref.Reference,
    config: AnomalyConfig,
    seed: int,
    first: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Inject into ``injection_rounds`` copies of ``lines``, each with its own seed.

    Returns the order features of the copies' days from ``first`` on (end to end), every
    candidate's scores, the injected types and each order's review slot (round and day: the budget
    applies per day of each copy).
    """
    frames, types, slots = [], [], []
    for k in range(config.injection_rounds):
        injected, labels = inject.inject(lines, reference, config, seed + 1000 * k)
        frame = f.order_features(injected, reference, config)
        frame = frame[frame[data.DAY] >= first].reset_index(drop=True)
        frames.append(frame)
        types.append(evaluate.labels_of(frame, labels))
        slots.append((f"{k}|" + frame[data.DAY].astype(str)).to_numpy(dtype=object))
    frame = pd.concat(frames, ignore_index=True)
    return frame, model.scores(frame), np.concatenate(types), np.concatenate(slots)


def select(valid: dict[str, dict[str, float]]) -> tuple[str, str]:
    """The candidate with the best validation recall at budget (then ROC AUC); and why, in words."""

    def key(name: str) -> tuple[float, float]:
        m = valid[name]
        return (np.nan_to_num(m[evaluate.RECALL], nan=-1.0), np.nan_to_num(m[evaluate.AUC], nan=-1.0))

    best = max(CANDIDATES[::-1], key=key)  # ties: the later candidate in CANDIDATES (the ensemble)
    figures = ", ".join(f"{n} {valid[n][evaluate.RECALL]:.3f}" for n in CANDIDATES)
    return best, f"{best}: best injected recall at budget on the validation window ({figures})"


def train_anomalies(root: str, ds: str, config: AnomalyConfig, champion_uri: str | None = None) -> dict:
    """Fit, evaluate and select the order detectors for ``ds``; write outputs and the day's alert."""
    started = time.perf_counter()
    root, day = storage.data_root(root), storage.as_date(ds)
    ds_text, ds_ts = day.isoformat(), pd.Timestamp(day)
    test_start = ds_ts - pd.Timedelta(days=config.test_days - 1)
    valid_start = test_start - pd.Timedelta(days=config.valid_days)
    inputs = data.load(root, day, view_days=config.metric_view_days)
    check_history(inputs, ds_ts, config, valid_start)
    lines = inputs.lines
    reference = ref.build(lines, config)
    history = f.order_features(lines[lines[data.DAY] < valid_start], reference, config)
    model = detectors.AnomalyModel(config).fit(history.tail(config.max_train_orders))

    # Orders of the days before each window come along so a repeat of one of them is recognised.
    lookback = pd.Timedelta(days=config.lookback_days)
    valid_lines = _window(lines, valid_start - lookback, test_start - pd.Timedelta(days=1))
    _, vs, vt, v_slots = evaluate_window(model, valid_lines, reference, config, config.seed, valid_start)
    model.choose_weight(vs, lambda s: evaluate.metrics(v_slots, s, vt, config.budget)[evaluate.RECALL])
    valid = {n: evaluate.metrics(v_slots, vs[n], vt, config.budget) for n in CANDIDATES}
    model.selected, selection = select(valid)

    test_lines = _window(lines, test_start - lookback, ds_ts)
    tf, ts_, tt, test_days = evaluate_window(
        model, test_lines, reference, config, config.seed + 1, test_start
    )
    if not (tt != "").any():
        raise NotEnoughDataError(
            f"no day of the test window {test_start.date()}..{ds_text} has {inject.MIN_DAY_ORDERS} orders "
            "to inject anomalies into"
        )
    metrics: dict = evaluate.metrics(test_days, ts_[model.selected], tt, config.budget)
    per_example = {evaluate.RECALL: evaluate.per_example(test_days, ts_[model.selected], tt, config.budget)}
    for name in CANDIDATES:
        metrics |= evaluate.metrics(test_days, ts_[name], tt, config.budget, prefix=f"{name}_")
        per_example[f"{name}_{evaluate.RECALL}"] = evaluate.per_example(
            test_days, ts_[name], tt, config.budget
        )

    def score(uri: str) -> dict[str, float] | None:
        try:
            champion = detectors.load(f"{uri}/{MODEL_DIR}")
        except (FileNotFoundError, TypeError, AttributeError) as exc:
            log.warning("champion %s cannot be rebuilt: %s", uri, exc)
            return None
        scores = champion.predict(tf)
        per_example[f"{evaluation.CHAMPION_PREFIX}{evaluate.RECALL}"] = evaluate.per_example(
            test_days, scores, tt, config.budget
        )
        return evaluate.metrics(test_days, scores, tt, config.budget)

    out = storage.partition_uri(root, catalog.MODELS, NAME, day)
    champions.record(out, champions.evaluate(champion_uri, score))
    evaluation.write(out, pd.DataFrame(per_example))
    metric_rows = daily.anomalies(lines, inputs.sessions, test_start, ds_ts, config)
    metrics |= outputs.metric_drop_recall(lines, inputs.sessions, test_start, ds_ts, config)
    metrics = {k: champions.clean({k: v})[k] for k, v in metrics.items()}
    metrics |= {"selected": model.selected, "selection": selection}
    detectors.save(model, f"{out}/{MODEL_DIR}")
    storage.write_json(metrics, f"{out}/{catalog.METRICS_FILE}")
    storage.write_json(detectors.smoke_input(model, history), f"{out}/{catalog.SMOKE_INPUT_FILE}")

    day_lines = _window(lines, ds_ts - lookback, ds_ts)
    day_orders = f.order_features(day_lines, reference, config)
    day_orders = day_orders[day_orders[data.DAY] == ds_ts].reset_index(drop=True)
    flagged = outputs.top_orders(model, day_orders, config)
    tables = outputs.write_tables(root, ds_text, flagged, metric_rows)
    sent = alert.send_summary(root, ds_text, flagged, metric_rows, ds_ts)
    storage.write_json(
        {
            "ds": ds_text,
            "config": config.to_dict(),
            "valid": {name: champions.clean(figures) for name, figures in valid.items()},  # NaN: null
            "selected": model.selected,
            "detector_weight": model.detector_weight,
        },
        f"{out}/{catalog.HISTORY_FILE}",
    )
    result = {
        "ds": ds_text,
        "selected": model.selected,
        "injected_recall_at_budget": metrics.get(evaluate.RECALL),
        "rules_injected_recall_at_budget": metrics.get(f"rules_{evaluate.RECALL}"),
        "orders_scored": len(day_orders),
        "orders_flagged": int(flagged["flagged"].sum()) if len(flagged) else 0,
        "metrics_flagged": int(metric_rows.loc[metric_rows[data.DAY] == ds_ts, daily.FLAGGED].sum()),
        "alert_sent": sent is not None,
        "seconds": round(time.perf_counter() - started, 3),
        "model_uri": out,
        **tables,
    }
    log.info("anomalies for %s: %s", ds_text, {k: v for k, v in result.items() if not k.endswith("uri")})
    return result
