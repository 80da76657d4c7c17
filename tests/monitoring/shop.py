"""Two nights of a small published shop, for the monitoring tests and the page's section.

Night A publishes recommendations (with hits planted among the next day's purchases) and churn
scores through the real gate and publish stages; the monitor of night B judges them; night B then
publishes lists that miss every purchase of day C (a planted drop), which the monitor of night C
judges and alerts on. Labels windows of one day (``churn_horizon_days=1``) let two nights judge the
churn scores too. Demand forecasts published on A (for B and C) and on B (for C, a planted
over-forecast), and the assistant's answers logs of B and C (C with most messages handed over),
give the forecast and assistant monitors a good night B and a bad night C.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle

import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.assistant import answer_log
from ecom_tasks.contract import ITEM_ID, USER_ID
from ecom_tasks.features import build_features
from ecom_tasks.features import columns as fc
from ecom_tasks.monitoring.config import MonitorConfig
from ecom_tasks.monitoring.stage import monitor
from ecom_tasks.publish import evaluation, outputs, stage
from ecom_tasks.publish import tables as out
from ecom_tasks.publish.config import CHAMPION_METRICS_FILE, METRICS_FILE, ModelSpec
from tests.features.conftest import random_shop, shop_days, write_shop
from tests.publish.candidates import folder, tiny_classifier

A, B, C = "2024-01-13", "2024-01-14", "2024-01-15"  # night A publishes; B and C are judged
CONFIG = MonitorConfig(churn_horizon_days=1, repurchase_days=1, min_examples=1, drift_bins=4)
# Who bought on B (random_shop(16), seed 7): u00 i8; u02 i7, i8; u05 i1. On C: u05 i3; u10 i1, i2.
LISTS_A = {"u00": ["i8", "i0", "i1"], "u02": ["i0", "i7", "i1"], "u05": ["i4", "i0", "i6"]}
BUYERS_B = ("u00", "u02", "u05")
METRICS = {
    catalog.RANKING: {"ranking_ndcg_at_10": 0.21, "retrieval_ranking_ndcg_at_10": 0.15},
    catalog.CHURN: {"churn_roc_auc": 0.80, "churn_ece": 0.03, "rfm_logreg_churn_roc_auc": 0.72,
                    "gbdt_churn_roc_auc": 0.70},
}  # fmt: skip


def _publish(root: str, model: str, ds: str, champion: bool) -> None:
    path = folder(root, model, ds)
    (path / "model.pkl").write_bytes(pickle.dumps(tiny_classifier()))
    (path / METRICS_FILE).write_text(json.dumps(METRICS[model]))
    if champion:
        gated = {k: v for k, v in METRICS[model].items() if not k.startswith(("rfm", "gbdt", "retrieval"))}
        (path / CHAMPION_METRICS_FILE).write_text(json.dumps(gated))
    assert stage.gate_model(root, ds, model)["blessed"]
    assert stage.publish_model(root, ds, model)["promoted"]


def _lists(root: str, ds: str, lists: dict[str, list[str]], default: list[str]) -> None:
    users = storage.read_partition(storage.partition_uri(root, "features", catalog.CUSTOMER_PROFILES, ds))
    rows = [(u, r + 1, item, 1.0 - r / 10, r + 1, f"v-{ds}")
            for u in users[USER_ID].astype(str) for r, item in enumerate(lists.get(u, default))]  # fmt: skip
    cols = [USER_ID, out.RANK, ITEM_ID, out.SCORE, out.RETRIEVAL_RANK, out.MODEL_VERSION]
    outputs.write_output(root, catalog.RECOMMENDATIONS, ds, pd.DataFrame(rows, columns=cols), source="test")


def _churn(root: str, ds: str) -> None:
    profiles = storage.read_partition(storage.partition_uri(root, "features", catalog.CUSTOMER_PROFILES, ds))
    users = profiles.loc[profiles[fc.HAS_PURCHASE] == 1, USER_ID].astype(str).tolist()
    risk = [0.05 if u in BUYERS_B else 0.95 for u in users]  # right and calibrated on B's window
    frame = pd.DataFrame({USER_ID: users, out.CHURN_RISK: risk, fc.SEGMENT: "loyal", out.MODEL_VERSION: "t"})
    outputs.write_output(root, catalog.CHURN_SCORES, ds, frame, source="test")


# Units sold (validated purchases, anonymous ones included) on B: i1 1, i7 5, i8 4; on C: i1 1, i2 2,
# i3 1, i4 3. Forecast rows: item -> (p50, p10, p90) per day forecast.
FORECAST_A = {
    B: {"i1": (1, 0, 2), "i7": (4, 2, 6), "i8": (2, 1, 3), "i2": (0, 0, 1), "i3": (0, 0, 1)},
    C: {"i1": (1, 0, 2), "i7": (4, 2, 6), "i8": (2, 1, 3), "i2": (0, 0, 1), "i3": (0, 0, 1)},
}
FORECAST_B = {C: {"i1": (9, 8, 10), "i2": (9, 8, 10), "i3": (9, 8, 10)}}  # the planted over-forecast
# Hand-over reasons of each answered message (None: answered without a person).
ANSWERS = {B: [None, None, None, None, "low confidence"],
           C: [None, None, "out of scope", "the customer asks for a person",
               "order or customer not found in the shop's data"]}  # fmt: skip


def _forecast(root: str, ds: str, days: dict[str, dict[str, tuple[int, int, int]]]) -> None:
    rows = [(item, dt.date.fromisoformat(day), *q, f"f-{ds}") for day, per in days.items()
            for item, q in per.items()]  # fmt: skip
    frame = pd.DataFrame(rows, columns=[ITEM_ID, "day", "p50", "p10", "p90", out.MODEL_VERSION])
    outputs.write_output(root, catalog.DEMAND_FORECAST, ds, frame, source="test")
    spec = ModelSpec(catalog.FORECAST, output_tables=(catalog.DEMAND_FORECAST,))
    outputs.move_pointer(root, spec, "1" if ds == A else "2", ds, require_outputs=True)


def _answers(root: str, ds: str) -> None:
    for n, reason in enumerate(ANSWERS[ds]):
        reply = {"customer": f"u{n:02d}", "intent": "delivery_time", "intent_guess": None,
                 "confidence": 0.9, "handover": reason is not None, "handover_reason": reason}  # fmt: skip
        answer_log.record(root, reply, now=dt.datetime.fromisoformat(f"{ds}T10:{n:02d}:00+00:00"))


def build_two_nights(root: str) -> dict[str, dict]:
    """Build the shop, publish night A, monitor B, publish B's drop, monitor C; return the results."""
    ev, it, us = random_shop(16)
    write_shop(root, ev, it, us, shop_days(16))
    for ds in (A, B, C):
        build_features(root, ds)
    _lists(root, A, LISTS_A, ["i0", "i1", "i2"])
    _churn(root, A)
    _publish(root, catalog.RANKING, A, champion=False)
    _publish(root, catalog.CHURN, A, champion=False)
    # The churn champion's scores on its held-out customers (its training day's distribution).
    scores = [0.1, 0.9, 0.8, 0.2, 0.7]
    labels = [0.0, 1.0, 1.0, 0.0, 1.0]
    held_out = pd.DataFrame({evaluation.LABEL: labels, evaluation.score_column("churn_roc_auc"): scores})
    evaluation.write(str(folder(root, catalog.CHURN, A)), held_out)
    _forecast(root, A, FORECAST_A)
    for ds in (B, C):
        _answers(root, ds)
    night_b = monitor(root, B, CONFIG)
    _lists(root, B, {}, ["i4", "i5", "i6"])  # nobody buys these on C: the planted drop
    _forecast(root, B, FORECAST_B)
    _publish(root, catalog.RANKING, B, champion=True)
    night_c = monitor(root, C, CONFIG)
    return {"b": night_b, "c": night_c}


def read_row(root: str, model: str, ds: str) -> dict:
    frame = storage.read_partition(storage.partition_uri(root, catalog.MONITORING, model, ds))
    assert len(frame) == 1
    return frame.iloc[0].to_dict()
