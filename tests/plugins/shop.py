"""A small published shop for the UI tests: validated days, real features (profiles, analytics,
the behaviour report), a validation summary with quarantined rows, and churn, repurchase and
ranking models gated and published through the real publish stage with their output tables.

Built once per session (publishing logs to a real SQLite MLflow registry); the UI only reads it.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle

import numpy as np
import pandas as pd

from ecom_tasks import contract, storage
from ecom_tasks.contract import ITEM_ID, TITLE, USER_ID
from ecom_tasks.features import build_features
from ecom_tasks.features import columns as fc
from ecom_tasks.features.stage import PROFILES
from ecom_tasks.publish import outputs, stage
from ecom_tasks.publish import tables as out
from ecom_tasks.publish.config import (
    CHAMPION_METRICS_FILE,
    CHURN_SCORES,
    METRICS_FILE,
    RECOMMENDATIONS,
    REPURCHASE_SCORES,
)
from ecom_tasks.validation.history import summary_uri
from ecom_tasks.validation.report import TableReport, ValidationReport
from ecom_tasks.validation.rowchecks import REASON
from tests.features.conftest import random_shop, shop_days, write_shop
from tests.publish.candidates import folder, tiny_classifier

DAYS = shop_days(12)
DS = DAYS[-1].isoformat()  # 2024-01-12: the published day
PREV = DAYS[-2].isoformat()  # the previous champion's day
OLD = DAYS[-3].isoformat()  # a backfill candidate the gate blocks
CUSTOMER = "u03"  # a customer with purchases, scores and recommendations
MARKUP_TITLE = "Mug <b>bold</b> & <script>alert('x')</script>"
MODEL_METRICS = {
    "churn": {"churn_roc_auc": 0.80, "churn_ece": 0.03, "rfm_logreg_churn_roc_auc": 0.72,
              "gbdt_churn_roc_auc": 0.70},
    "repurchase": {"repurchase_roc_auc": 0.75, "repurchase_ece": 0.04, "rfm_logreg_repurchase_roc_auc": 0.70,
                   "gbdt_repurchase_roc_auc": 0.69},
    "ranking": {"ranking_ndcg_at_10": 0.21, "retrieval_ranking_ndcg_at_10": 0.15},
}  # fmt: skip


def _candidate(root: str, model: str, ds: str, scale: float = 1.0, champion: dict | None = None) -> None:
    path = folder(root, model, ds)
    (path / "model.pkl").write_bytes(pickle.dumps(tiny_classifier()))
    metrics = {k: v * scale if not k.startswith(("rfm", "gbdt", "retrieval")) else v
               for k, v in MODEL_METRICS[model].items()}  # fmt: skip
    (path / METRICS_FILE).write_text(json.dumps(metrics))
    if champion is not None:
        (path / CHAMPION_METRICS_FILE).write_text(json.dumps(champion))


def _outputs(root: str, ds: str, users: list[str], items: pd.DataFrame) -> None:
    n = len(users)
    rng = np.random.default_rng(3)
    f, v, e = out.REASON_FEATURE, out.REASON_VALUE, out.REASON_EFFECT
    reasons = [
        json.dumps([{f: fc.RECENCY_DAYS, v: 40.0 + i, e: 0.21}, {f: fc.FREQUENCY, v: 2.0, e: -0.08}])
        for i in range(n)
    ]
    churn = pd.DataFrame({USER_ID: users, out.CHURN_RISK: np.linspace(0.1, 0.9, n), fc.SEGMENT: "loyal",
                          out.CHURN_REASONS: reasons, out.MODEL_VERSION: "test"})  # fmt: skip
    rep = pd.DataFrame({USER_ID: users, out.REPURCHASE_PROPENSITY: np.linspace(0.7, 0.2, n),
                        out.EXPECTED_ORDERS: np.linspace(1.5, 0.1, n), fc.SEGMENT: "loyal",
                        out.MODEL_VERSION: "test"})  # fmt: skip
    ids = items[ITEM_ID].tolist()
    recs = pd.DataFrame(
        [(u, r + 1, ids[(i + r) % len(ids)], float(rng.random()), r + 1) for i, u in enumerate(users)
         for r in range(3)],
        columns=[USER_ID, out.RANK, ITEM_ID, out.SCORE, out.RETRIEVAL_RANK],
    )  # fmt: skip
    recs.loc[(recs[USER_ID] == CUSTOMER) & (recs[out.RANK] == 1), ITEM_ID] = "i1"  # the markup title
    recs[out.MODEL_VERSION] = "test"
    recs = outputs.with_item_titles(recs, items)
    for table, frame in ((CHURN_SCORES, churn), (REPURCHASE_SCORES, rep), (RECOMMENDATIONS, recs)):
        outputs.write_output(root, table, ds, frame, source="test")


def _validation(root: str, ds: str, events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame) -> None:
    """The summary, quarantine partitions and a Data Docs index of ``ds``, as validation writes them."""
    day = dt.date.fromisoformat(ds)
    bad = events.head(2).copy()
    bad[REASON] = "unit_price_not_negative"
    tables = {
        contract.EVENTS: TableReport(contract.EVENTS, len(events) + 2, clean=events, quarantined=bad,
                                     reasons={"unit_price_not_negative": 2}, row_checks_ran=True),
        contract.ITEMS: TableReport(contract.ITEMS, len(items), clean=items, quarantined=items.head(0),
                                    row_checks_ran=True),
        contract.USERS: TableReport(contract.USERS, len(users), clean=users, quarantined=users.head(0),
                                    row_checks_ran=True),
    }  # fmt: skip
    report = ValidationReport(day, tables)
    storage.write_json(
        report.summary(data_docs=f"file://{root}/data_docs/index.html"), summary_uri(root, day)
    )
    for name, t in tables.items():
        storage.write_partition(
            t.quarantined, storage.partition_uri(root, "quarantine", name, day), source="test"
        )
    docs = storage.data_root(root) + "/data_docs"
    storage.write_json({"site": "test"}, f"{docs}/validations/x.json")
    with open(f"{docs}/index.html", "w") as fh:
        fh.write("<!doctype html><title>Data Docs</title><h1>Great Expectations Data Docs</h1>")


def build_published_shop(root: str) -> dict[str, str]:
    """Write everything the page reads into ``root``; return the names tests look for."""
    ev, it, us = random_shop()
    it.loc[it[ITEM_ID] == "i1", TITLE] = MARKUP_TITLE
    write_shop(root, ev, it, us, DAYS)
    for ds in (PREV, DS):
        build_features(root, ds)
        day = dt.date.fromisoformat(ds)
        day_events = storage.read_partition(storage.partition_uri(root, "validated", contract.EVENTS, day))
        _validation(root, ds, day_events, it, us)
    profiles = storage.read_partition(storage.partition_uri(root, "features", PROFILES, DS))
    users = profiles[USER_ID].astype(str).tolist()
    for ds in (PREV, DS):
        _outputs(root, ds, users, it)
    # Two nights of churn (a champion replacing the previous one), one of the other heads.
    _candidate(root, "churn", PREV, scale=0.97)
    assert stage.gate_model(root, PREV, "churn")["blessed"]
    assert stage.publish_model(root, PREV, "churn")["promoted"]
    for model in MODEL_METRICS:
        gated = [k for k in MODEL_METRICS[model] if not k.startswith(("rfm", "gbdt", "retrieval"))]
        previous = {k: MODEL_METRICS[model][k] * 0.97 for k in gated} if model == "churn" else None
        _candidate(root, model, DS, champion=previous)
        assert stage.gate_model(root, DS, model)["blessed"]
        assert stage.publish_model(root, DS, model)["promoted"]
    _candidate(root, "churn", OLD, scale=0.7)
    assert not stage.gate_model(root, OLD, "churn")["blessed"]  # an older day, and worse: blocked
    return {"ds": DS, "customer": CUSTOMER}
