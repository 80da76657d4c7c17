"""A small published shop for the UI tests: validated days, real features (profiles, analytics,
the behaviour report), a validation summary with quarantined rows, and churn, repurchase and
ranking models gated and published through the real publish stage with their output tables.

Built once per session (publishing logs to a real SQLite MLflow registry); the UI only reads it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
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
RETURNED = "i5"  # an item CUSTOMER returned on DS: in their published list, never shown
# A 2x2 PNG: the churn candidate's reliability plot, linked from its model card.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg=="
)
# GE's Data Docs pages name their scripts and styles on public CDNs (as GE 1.x writes them).
DOCS_PAGE = """<!doctype html><html><head><title>Data Docs</title>
<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>
<link rel="stylesheet" href="https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css">
<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js"></script>
<style>.x{background:url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/d.png')}</style>
</head><body><h1>Great Expectations Data Docs</h1>
<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=1">
<i class="fas fa-check-circle"></i> <a href="https://greatexpectations.io">GX</a>
<button id="clear" onclick="document.title='cleared'">Clear</button>
<table id="runs" data-toggle="table"></table>
<script>
  $('#runs').bootstrapTable({columns: [{field: 'suite', title: 'Suite'}], data: [{suite: 'events'}]});
</script>
</body></html>"""
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
    (path / "reliability.png").write_bytes(PNG)
    metrics = {k: v * scale if not k.startswith(("rfm", "gbdt", "retrieval")) else v
               for k, v in MODEL_METRICS[model].items()}  # fmt: skip
    if model == "repurchase":  # the head lost to a baseline: the baseline is published
        metrics |= {
            "selected": "gbdt",
            "selection": "the fine-tuned head does not beat the best baseline gbdt",
        }
    (path / METRICS_FILE).write_text(json.dumps(metrics))
    if champion is not None:
        (path / CHAMPION_METRICS_FILE).write_text(json.dumps(champion))


def _outputs(root: str, ds: str, users: list[str], items: pd.DataFrame, unscored: str) -> None:
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
    # Rank follows the score, as the ranking stage writes it (ecom_tasks/ranking/outputs.py top_lists).
    scores = -np.sort(-rng.random((n, 3)), axis=1)
    recs = pd.DataFrame(
        [(u, r + 1, ids[(i + r) % len(ids)], float(scores[i, r]), r + 1) for i, u in enumerate(users)
         for r in range(3)],
        columns=[USER_ID, out.RANK, ITEM_ID, out.SCORE, out.RETRIEVAL_RANK],
    )  # fmt: skip
    recs.loc[(recs[USER_ID] == CUSTOMER) & (recs[out.RANK] == 1), ITEM_ID] = "i1"  # the markup title
    recs.loc[(recs[USER_ID] == CUSTOMER) & (recs[out.RANK] == 2), ITEM_ID] = RETURNED
    recs.loc[(recs[USER_ID] == CUSTOMER) & (recs[out.RANK] == 3), ITEM_ID] = "i4"
    recs[out.MODEL_VERSION] = "test"
    recs = outputs.with_item_titles(recs, items)
    churn, rep = churn[churn[USER_ID] != unscored], rep[rep[USER_ID] != unscored]  # e.g. never bought
    for table, frame in ((CHURN_SCORES, churn), (REPURCHASE_SCORES, rep), (RECOMMENDATIONS, recs)):
        outputs.write_output(root, table, ds, frame, source="test")


def _validation(root: str, ds: str, events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame) -> None:
    """The summary, quarantine partitions and a Data Docs index of ``ds``, as validation writes them."""
    day = dt.date.fromisoformat(ds)
    bad = events.head(2).copy()
    bad[REASON] = "unit_price_not_negative"
    tables = {
        contract.EVENTS: TableReport(contract.EVENTS, len(events) + 2, clean=events, quarantined=bad,
                                     reasons={"unit_price_not_negative": 2, "event_id_unique": 0},
                                     row_checks_ran=True),
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
        fh.write(DOCS_PAGE)
    os.makedirs(f"{docs}/static/images", exist_ok=True)
    with open(f"{docs}/static/images/logo-long.png", "wb") as fh:
        fh.write(PNG)


def build_published_shop(root: str) -> dict[str, str]:
    """Write everything the page reads into ``root``; return the names tests look for."""
    ev, it, us = random_shop()
    it.loc[it[ITEM_ID] == "i1", TITLE] = MARKUP_TITLE
    back = ev[(ev[USER_ID] == CUSTOMER) & (ev[contract.EVENT_TYPE] == contract.PURCHASE)].head(1).copy()
    back[[contract.EVENT_ID, contract.ITEM_ID, contract.EVENT_TYPE]] = [
        "e-returned",
        RETURNED,
        contract.RETURN,
    ]
    back[contract.TS] = pd.Timestamp(DS, tz="UTC") + pd.Timedelta(hours=12)
    back[contract.QUANTITY] = -back[contract.QUANTITY].abs()  # a return line: negative units
    ev = (
        pd.concat([ev, back], ignore_index=True)
        .sort_values(contract.TS, kind="stable")
        .reset_index(drop=True)
    )
    write_shop(root, ev, it, us, DAYS)
    for ds in (PREV, DS):
        build_features(root, ds)
        day = dt.date.fromisoformat(ds)
        day_events = storage.read_partition(storage.partition_uri(root, "validated", contract.EVENTS, day))
        _validation(root, ds, day_events, it, us)
    old_events = storage.read_partition(storage.partition_uri(root, "validated", contract.EVENTS, DAYS[-3]))
    _validation(root, OLD, old_events, it, us)  # a day validated but never built: data quality only
    profiles = storage.read_partition(storage.partition_uri(root, "features", PROFILES, DS))
    users = profiles[USER_ID].astype(str).tolist()
    never = profiles.loc[profiles[fc.FREQUENCY].fillna(0) == 0, USER_ID].astype(str).tolist()
    for ds in (PREV, DS):
        _outputs(root, ds, users, it, never[0] if never else users[-1])
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
    return {"ds": DS, "customer": CUSTOMER, "unscored": never[0] if never else users[-1]}
