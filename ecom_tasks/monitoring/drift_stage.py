"""Nightly drift: published scores and stable profile features against the champion's training day.

- Scores: each monitored score (churn risk, repurchase propensity) as the champion published it
  (the table current after the night of ``ds - 1``) against the same champion's scores on its
  own held-out customers on its training day (``evaluation.parquet`` in its model folder): are the
  customers it scores now like those it was judged on?
- Features: the stable customer-profile features (``STABLE_PROFILE_FEATURES``) of the buyers as of
  ``ds`` against those as of the training day of the oldest champion that reads the profiles
  (churn, repurchase, ranking): the one most exposed to drift.

One row per score or feature in ``monitoring/drift/ds=D`` (:mod:`ecom_tasks.monitoring.drift`),
worst PSI first, and one alert naming those above ``psi_bound`` whose KS test agrees (``ks_alpha``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import alerts, catalog, stages, storage
from ecom_tasks.features import columns as fc
from ecom_tasks.monitoring import drift
from ecom_tasks.monitoring.config import MonitorConfig
from ecom_tasks.monitoring.monitors import SCORES, active
from ecom_tasks.publish import evaluation, outputs
from ecom_tasks.ui import labels

log = logging.getLogger(__name__)

KIND = catalog.MONITORING  # the alerts' kind (as alerts.deliver documents it)
FEATURE, SCORE = "feature", "score"
Pair = tuple[str, str, str, np.ndarray, np.ndarray]  # kind, name, reference day, reference, current
PROFILE_MODELS = (catalog.CHURN, catalog.REPURCHASE, catalog.RANKING)  # the models that read profiles


def _profiles(root: str, day: str | dt.date) -> pd.DataFrame | None:
    uri = storage.partition_uri(root, catalog.FEATURES, catalog.CUSTOMER_PROFILES, day)
    if storage.read_manifest(uri) is None:
        return None
    frame = storage.read_partition(uri)
    return frame[frame[fc.HAS_PURCHASE] == 1] if fc.HAS_PURCHASE in frame.columns else frame


def score_pairs(root: str, as_of: dt.date) -> list[Pair]:
    """``(kind, name, reference_ds, reference, current)`` of each published score with a reference."""
    pairs = []
    for mon in active(stages.names()):
        if mon.kind != SCORES:
            continue
        entry = outputs.current_as_of(root, as_of, table=mon.table)
        if entry is None:
            continue
        folder = storage.partition_uri(root, catalog.MODELS, mon.model, entry["ds"])
        held_out = evaluation.read(folder)
        column = evaluation.score_column(f"{mon.model}_roc_auc")
        if held_out is None or column not in held_out.columns:
            log.info("drift: %s ds=%s has no held-out scores to compare with", mon.model, entry["ds"])
            continue
        current = storage.read_partition(outputs.output_uri(root, mon.table, entry["ds"]), [mon.score])
        reference = held_out[column].to_numpy()
        pairs.append((SCORE, mon.score, entry["ds"], reference, current[mon.score].to_numpy()))
    return pairs


def reference_day(root: str, as_of: dt.date) -> str | None:
    """The training day of the oldest champion (as of ``as_of``) among the models reading profiles."""
    days = [e["ds"] for m in PROFILE_MODELS if m in stages.names()
            if (e := outputs.current_as_of(root, as_of, model=m)) is not None]  # fmt: skip
    return min(days) if days else None


def feature_pairs(root: str, day: dt.date, ref_day: str) -> list[Pair]:
    """The stable profile features of ``day`` against ``ref_day`` (empty when either is missing)."""
    ref, cur = _profiles(root, ref_day), _profiles(root, day)
    if ref is None or cur is None:
        return []
    names = [c for c in fc.STABLE_PROFILE_FEATURES if c in ref.columns and c in cur.columns]
    return [(FEATURE, c, ref_day, ref[c].to_numpy(), cur[c].to_numpy()) for c in names]


def measure(root: str, day: dt.date, config: MonitorConfig) -> dict[str, Any]:
    """Write ``monitoring/drift/ds=D`` and alert beyond ``psi_bound``.

    Returns ``{"rows", "drifted": [name, ...], "worst": {name, psi}, "alert", "reason"}``.
    """
    as_of = day - dt.timedelta(days=1)
    ref_day = reference_day(root, as_of)
    if ref_day is None:
        return {"rows": 0, "reason": f"no champion reading the profiles by the night of {as_of}"}
    pairs = score_pairs(root, as_of) + feature_pairs(root, day, ref_day)
    if not pairs:
        return {"rows": 0, "reason": f"no profiles of {day} or of the training day {ref_day}"}
    table = drift.drift_table(pairs, config.drift_bins, config.psi_bound, config.ks_alpha)
    table.insert(0, "ds", day.isoformat())
    uri = storage.partition_uri(root, catalog.MONITORING, catalog.DRIFT, day)
    _, changed = storage.write_partition(table, uri, source="monitoring")
    drifted = table[table["drifted"]]
    worst = {"name": table["name"].iloc[0], "psi": float(table["psi"].iloc[0])}
    out: dict[str, Any] = {
        "rows": len(table),
        "uri": uri,
        "drifted": drifted["name"].tolist(),
        "worst": worst,
    }
    if len(drifted) and changed:
        worst_five = drifted.head(5).itertuples()
        listed = ", ".join(f"{labels.field(r.name)[0]} (PSI {r.psi:.2f})" for r in worst_five)
        rule = f"PSI above {config.psi_bound:g}, KS p below {config.ks_alpha:g}"
        text = (f"monitoring ds={day}: drift ({rule}) in {len(drifted)} of {len(table)} scores and "
                f"features against {ref_day}: {listed}")  # fmt: skip
        alert = {"kind": KIND, "model": catalog.DRIFT, "ds": day.isoformat(), "text": text}
        alerts.deliver(alert, root)
        out["alert"] = text
    return out
