"""Benchmark of the ranking head on UCI Online Retail II, temporal protocol.

The last 90 days are the test window (as in the retrieval benchmark). Before it, the last
``--label-days`` days label the head's training lists, and the retrieval backbone trains on the
purchases before those (the retrieval benchmark's configuration, ``stage.train_and_evaluate``):

    backbone training data | label window (train the head) | last 90 days (evaluate)

Evaluated: customers with purchases before the test window who buy in it; each gets the
backbone's top 100 candidates as of the window's start; targets: the distinct items bought in
the window (items bought before are allowed). Printed (nothing asserted): ranking_ndcg_at_10 /
ranking_recall_at_10 of the head's order against retrieval_* (the backbone's own order) on the
same lists (target: the head's NDCG@10 above the retrieval order's), the selection, and the
training time of the backbone and of the head.

Usage: python bench/bench_ranking_online_retail.py [--label-days 30] [--backbone-epochs 20]
       [--config '{"candidates": 100}'] [--schedule '{"frozen_epochs": 6}']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_retrieval_online_retail import RETAIL_CONFIG  # noqa: E402

from ecom_tasks.contract import CATEGORY, ITEM_ID, PRICE, TITLE, TS  # noqa: E402
from ecom_tasks.features.config import TrainingDataConfig  # noqa: E402
from ecom_tasks.features.training import interactions as retrieval_interactions  # noqa: E402
from ecom_tasks.ranking import core  # noqa: E402
from ecom_tasks.ranking.config import FreezeSchedule, RankingConfig  # noqa: E402
from ecom_tasks.retrieval import stage  # noqa: E402
from ecom_tasks.retrieval.backbone import Backbone  # noqa: E402
from ecom_tasks.sources.online_retail import read_online_retail  # noqa: E402

log = logging.getLogger("bench_ranking_online_retail")
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
ONLINE_RETAIL = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
TEST_DAYS = 90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label-days", type=int, default=30, help="days labelling the head's training lists")
    parser.add_argument("--backbone-epochs", type=int, default=RETAIL_CONFIG.max_epochs)
    parser.add_argument("--config", default="{}", help="JSON overrides of RankingConfig fields")
    parser.add_argument("--schedule", default="{}", help="JSON overrides of FreezeSchedule fields")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    schedule = FreezeSchedule(**json.loads(args.schedule))
    config = RankingConfig(**{"schedule": schedule, **json.loads(args.config)})
    retrieval_config = dataclasses.replace(
        RETAIL_CONFIG, holdout_days=args.label_days, max_epochs=args.backbone_epochs
    )

    tables = read_online_retail(ONLINE_RETAIL)
    inter = retrieval_interactions(tables.events, TrainingDataConfig())
    end = inter[TS].max().normalize() + pd.Timedelta(days=1)
    eval_cutoff = end - pd.Timedelta(days=TEST_DAYS)
    train_cutoff = eval_cutoff - pd.Timedelta(days=args.label_days)
    items = tables.items[[ITEM_ID, TITLE, CATEGORY, PRICE]]

    t0 = time.perf_counter()
    trained = stage.train_and_evaluate(
        inter, items[[ITEM_ID, TITLE, CATEGORY]], None, retrieval_config, cutoff=train_cutoff, end=eval_cutoff
    )
    backbone_seconds = time.perf_counter() - t0
    backbone = Backbone(trained.model, trained.vocabs, retrieval_config, [])
    log.info("backbone trained in %.0f s (best epoch %d)", backbone_seconds, trained.fit.best_epoch)

    t1 = time.perf_counter()
    result = core.train_and_evaluate(
        backbone, inter, items, lambda ts: None, config,
        train_cutoff=train_cutoff, eval_cutoff=eval_cutoff, end=end,
    )  # fmt: skip
    head_seconds = time.perf_counter() - t1
    m = result.metrics
    out = {
        "windows": {
            "backbone_train_before": str(train_cutoff),
            "label_window": [str(train_cutoff), str(eval_cutoff)],
            "test_window": [str(eval_cutoff), str(end)],
        },
        "config": config.to_dict(),
        "backbone": {
            "config": {
                k: getattr(retrieval_config, k)
                for k in ("target", "negatives", "embedding_dim", "max_history")
            },
            "best_epoch": trained.fit.best_epoch,
            "train_seconds": round(trained.fit.train_seconds, 1),
            "seconds_total": round(backbone_seconds, 1),
            "retrieval_metrics_on_label_window": {
                k: round(v, 4) for k, v in trained.metrics.items() if k in ("recall_at_20", "ndcg_at_10")
            },
        },
        "head": {
            "selected": result.selected,
            "reason": result.reason,
            "best_epoch": result.fit.best_epoch,
            "train_seconds": round(result.fit.train_seconds, 1),
            "seconds_total": round(head_seconds, 1),
            "epochs": [
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.items()}
                for e in result.fit.history
            ],
        },
        "data": result.summary,
        "metrics": {k: round(v, 4) for k, v in m.items()},
        "checks": {
            "ranking_ndcg_at_10": round(m["head_ndcg_at_10"], 4),
            "retrieval_ndcg_at_10": round(m["retrieval_ndcg_at_10"], 4),
            "head_over_retrieval": round(m["head_ndcg_at_10"] / max(m["retrieval_ndcg_at_10"], 1e-9), 3),
            "target_met": bool(m["head_ndcg_at_10"] > m["retrieval_ndcg_at_10"]),
        },
    }
    print(json.dumps(out, indent=2, default=lambda o: o.item() if isinstance(o, np.generic) else str(o)))


if __name__ == "__main__":
    main()
