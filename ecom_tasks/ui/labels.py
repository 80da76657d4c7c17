"""Plain words and units for what the page and the model cards show: metric keys of
``metrics.json`` (``churn_roc_auc``, ``rfm_logreg_churn_ece``, ``test_customers``), baseline and
model names, profile fields and dates. One table, used by the page (``ecom_tasks.ui``) and the
model card (``ecom_tasks.publish.card``), so both read the same.

A key missing from the tables still gets a readable label (underscores to spaces, ``_at_10`` to
"in the top 10") and a plain number: never a raw key with four decimals.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

# How a value is written: a share (0..1) as a percentage, a 0..1 score with 3 decimals, a count,
# a multiple ("1.96x"), days, or a plain number.
SHARE, SCORE, COUNT, TIMES, DAYS, NUMBER = "share", "score", "count", "times", "days", "number"
MONEY, DATE = "money", "date"

# Metric names without the model's prefix (``churn_``, ``ranking_``): (label, kind).
_METRICS: dict[str, tuple[str, str]] = {
    "roc_auc": ("ROC AUC (0.5 = chance, 1 = perfect)", SCORE),
    "pr_auc": ("precision-recall AUC (0-1)", SCORE),
    "ece": ("calibration error (lower is better)", SHARE),
    "log_loss": ("log loss (lower is better)", SCORE),
    "top_decile_lift": ("lift of the top 10% (times the average)", TIMES),
    "orders_mae": ("expected orders: mean absolute error (orders)", NUMBER),
    "test_customers": ("customers in the test set", COUNT),
    "test_positive_rate": ("share of test customers with the outcome", SHARE),
    "test_users": ("users in the test set", COUNT),
    "eval_users": ("users evaluated", COUNT),
    # the forecast stage (daily units per item)
    "wape": ("daily error per item (WAPE: absolute error / units sold; lower is better)", SHARE),
    "weekly_wape": ("weekly error per item (WAPE on weekly sums; lower is better)", SHARE),
    "mase": ("error relative to the seasonal-naive forecast (MASE; below 1 beats it)", SCORE),
    "bias": ("bias (forecast minus units sold, share of units sold)", SHARE),
    "coverage_80": ("item-days inside the 80% interval (target 80%)", SHARE),
    "coverage_95": ("item-days inside the 95% interval (target 95%)", SHARE),
    "coverage_80_gap": ("distance of the 80% interval's coverage from 80% (lower is better)", SHARE),
    "handover_rate": ("messages handed over to a person", SHARE),
    "pinball_90": ("pinball loss at the 90th percentile (units; lower is better)", NUMBER),
    "items_evaluated": ("items in the test window", COUNT),
    "inventory_coverage": ("items whose lead-time demand stayed within the plan", SHARE),
    "mean_bias": ("bias of the expected demand (share of units sold)", SHARE),
    # the anomaly stage (known anomalies injected into the test window)
    "injected_recall_at_budget": ("injected anomalies found within the daily review budget", SHARE),
    "injected_precision_at_budget": ("flagged orders within the budget that were injected", SHARE),
    "injected_roc_auc": ("ROC AUC on the injected anomalies (0.5 = chance, 1 = perfect)", SCORE),
    # the customer-service assistant
    "intent_accuracy": ("in-scope messages given the right intent", SHARE),
    "intent_macro_f1": ("macro F1 over the intents (0-1)", SCORE),
    "oos_recall": ("out-of-scope messages rejected", SHARE),
    "oos_precision": ("rejected messages that were out of scope", SHARE),
    "in_scope_rejected": ("in-scope messages rejected (lower is better)", SHARE),
    "slot_f1": ("slots extracted exactly (F1, 0-1)", SCORE),
    "probe_accuracy": ("common phrasings (held-out probe) given the right intent", SHARE),
}
_AT_K = {
    "recall": ("recall in the top {k}", SHARE),
    "hr": ("hit rate in the top {k}", SHARE),
    "ndcg": ("NDCG in the top {k} (0-1)", SCORE),
    "precision": ("precision in the top {k}", SHARE),
    "map": ("mean average precision in the top {k}", SCORE),
}
_MODELS = {
    "head": "fine-tuned head",
    "finetuned": "fine-tuned head",
    "rfm_logreg": "RFM logistic regression",
    "gbdt": "gradient-boosted trees",
    "popularity": "most popular items",
    "itemknn": "items bought together (item kNN)",
    "retrieval": "retrieval order (no re-ranking)",
    "retrieval_order": "retrieval order (no re-ranking)",
    "ranking_head": "ranking head",
    "snaive": "seasonal naive (same weekday last week)",
    "ets": "AutoETS (exponential smoothing)",
    "intermittent": "Croston SBA (intermittent demand)",
    "global": "LightGBM over all items, with item embeddings",
    "global_noemb": "LightGBM over all items, without embeddings",
    "rules": "rules (price, quantity, first order)",
    "iforest": "Isolation Forest",
    "ecod": "ECOD",
    "copod": "COPOD",
    "hbos": "HBOS",
    "ensemble": "ensemble of the detectors",
    "pretrained": "pretrained n-gram network",
    "nopretrain": "n-gram network without pretraining",
    "tfidf": "TF-IDF + logistic regression",
}
_TASKS = ("churn_", "repurchase_", "ranking_", "retrieval_")
# Profile fields of the explorer and the features of churn reasons: (label, kind).
FIELDS: dict[str, tuple[str, str]] = {
    "segment": ("segment", "text"),
    "country": ("country", "text"),
    "first_seen": ("first seen", DATE),
    "tenure_days": ("days since first seen", DAYS),
    "recency_days": ("days since the last purchase", DAYS),
    "frequency": ("orders", COUNT),
    "monetary": ("net spend", MONEY),
    "avg_order_value": ("average order value", MONEY),
    "r_score": ("recency score (1-5, 5 = most recent)", COUNT),
    "f_score": ("frequency score (1-5)", COUNT),
    "m_score": ("spend score (1-5)", COUNT),
    "top_category": ("most bought category", "text"),
    "return_rate": ("share of units returned", SHARE),
    "orders_recent": ("orders in the last 90 days", COUNT),
    "orders_prior": ("orders in the 90 days before", COUNT),
    "order_trend": ("order trend (recent vs. before; >0 = more)", NUMBER),
    "activity_trend": ("activity trend (recent vs. before; >0 = more)", NUMBER),
    "n_events": ("events (views, carts, purchases)", COUNT),
    "gap_mean_days": ("average days between orders", DAYS),
    "days_since_first_purchase": ("days since the first purchase", DAYS),
    "n_distinct_items": ("distinct items bought", COUNT),
    "n_distinct_categories": ("distinct categories bought", COUNT),
    "spend_recent": ("spend in the last 90 days", MONEY),
    "spend_prior": ("spend in the 90 days before", MONEY),
    "active_month_share": ("share of months with a purchase", SHARE),
    "n_active_months": ("months with a purchase", COUNT),
}


def readable(key: str) -> str:
    """A readable form of any key: ``ndcg_at_10`` -> "ndcg in the top 10", ``a_b`` -> "a b"."""
    text = re.sub(r"_at_(\d+)$", r" in the top \1", str(key))
    return text.replace("_", " ").strip()


def model_name(name: str | None) -> str:
    """A model or baseline in plain words (``gbdt`` -> "gradient-boosted trees")."""
    if not name:
        return "-"
    return _MODELS.get(name, readable(name))


def metric(key: str) -> tuple[str, str]:
    """``(label, kind)`` of a metric key (the model's task prefix and ``valid_`` understood)."""
    rest, where = str(key), ""
    if rest.startswith("valid_"):
        rest, where = rest.removeprefix("valid_"), ", validation split"
    if rest in _METRICS:
        label, kind = _METRICS[rest]
        return label + where, kind
    task = next((t for t in _TASKS if rest.startswith(t)), None)
    if task is not None and rest.removeprefix(task) in _METRICS:
        label, kind = _METRICS[rest.removeprefix(task)]
        return label + where, kind
    bare = rest.removeprefix(task) if task else rest
    found = re.fullmatch(r"([a-z]+)_at_(\d+)", bare)
    if found and found.group(1) in _AT_K:
        label, kind = _AT_K[found.group(1)]
        return label.format(k=found.group(2)) + where, kind
    # Another model's figure measured in the same run (``rfm_logreg_churn_roc_auc``,
    # ``global_noemb_wape``): the metric's own label and unit, naming the model.
    for name in sorted(_MODELS, key=len, reverse=True):
        if rest.startswith(f"{name}_"):
            inner = rest.removeprefix(f"{name}_")
            label, kind = metric(inner)
            if (label, kind) != (readable(inner), NUMBER):
                return f"{label} ({_MODELS[name]})" + where, kind
    return readable(key), NUMBER


def metric_label(key: str) -> str:
    """The plain label of a metric key."""
    return metric(key)[0]


def number(value: Any, kind: str = NUMBER, currency: str | None = None) -> str:
    """``value`` written for its kind: 0.0456 share -> "4.6%", 181.0 count -> "181"; "-" when absent."""
    if value is None or value == "":
        return "-"
    if kind == DATE:
        return date(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return str(value).replace("_", " ") if kind == "text" else str(value)
    v = float(value)
    if not math.isfinite(v):
        return "-"
    if kind == SHARE:
        return f"{v:.1%}" if abs(v) >= 0.001 or v == 0 else f"{v:.2%}"
    if kind == SCORE:
        return f"{v:.3f}"
    if kind == COUNT:
        return f"{v:,.0f}"
    if kind == TIMES:
        return f"{v:.2f}x"
    if kind == DAYS:
        return f"{v:,.0f} days" if abs(v) >= 10 else f"{v:,.1f} days"
    if kind == MONEY:
        return f"{v:,.2f}" + (f" {currency}" if currency else "")
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3g}"


def metric_value(key: str, value: Any) -> str:
    """A metric's value in its unit."""
    return number(value, metric(key)[1])


def field(key: str) -> tuple[str, str]:
    """``(label, kind)`` of a profile field or feature (``recency_days`` -> "days since ...")."""
    if key in FIELDS:
        return FIELDS[key]
    if key.startswith("cat_share_"):
        return f"share of spend in {key.removeprefix('cat_share_')}", SHARE
    return readable(key), NUMBER


def date(value: Any) -> str:
    """A day in plain words: ``2024-06-30`` or ``2024-06-30T00:00:00+00:00`` -> "30 Jun 2024"."""
    if value in (None, ""):
        return "-"
    try:
        day = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{day.day} {day:%b %Y}"


def timestamp(value: Any) -> str:
    """A point in time in plain words, in UTC: "30 Jun 2024, 14:05 UTC"."""
    if value in (None, ""):
        return "-"
    try:
        when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"{when.day} {when:%b %Y, %H:%M} UTC"


def data_window(window: Mapping[str, Any] | None) -> str:
    """The training data of a candidate in plain words, from the gate's ``data_window``.

    ``ds`` is the run's day: the candidate saw data up to its end. ``holdout_start`` (declared by
    the training stage) opens the test period; a declared ``train_start`` the training range.
    """
    w = dict(window or {})
    end = w.get("ds") or str(w.get("start") or "")[:10]
    if not end:
        return "-"
    start = w.get("train_start") or w.get("first_day")
    text = f"all data up to the end of {date(end)} (UTC)"
    if start:
        text = f"data from {date(start)} to the end of {date(end)} (UTC)"
    if w.get("holdout_start"):
        text += f"; from {date(w['holdout_start'])} on held out for testing"
    return text


def is_baseline(selected: str | None, baselines: Mapping[str, Any] | list[str] | tuple[str, ...]) -> bool:
    """Whether the model a stage published (``selected`` in ``metrics.json``) is one of its
    baselines (``gbdt``, ``retrieval_order`` for the baseline ``retrieval``) rather than its own model."""
    if not selected:
        return False
    names = [str(b).rstrip("_") for b in baselines]
    return any(selected == b or selected.startswith(f"{b}_") for b in names)
