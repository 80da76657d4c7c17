"""How the assistant is judged: intents with rejection, out-of-scope recall, and its threshold.

A message is *rejected* (not forced into an intent) when its most likely label is ``oos`` or its
highest probability is below the threshold. ``intent_accuracy`` counts in-scope messages answered
with the right intent and not rejected; ``oos_recall`` the out-of-scope messages rejected.
"""

from __future__ import annotations

import numpy as np

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.0, 0.96, 0.05))


def decide(probs: np.ndarray, labels: list[str], threshold: float, oos: str) -> tuple[np.ndarray, np.ndarray]:
    """The predicted label per message and whether it is rejected (then the label is ``oos``)."""
    best = probs.argmax(axis=1)
    predicted = np.asarray(labels, dtype=object)[best]
    rejected = (predicted == oos) | (probs.max(axis=1) < threshold)
    return np.where(rejected, oos, predicted), rejected


def probe_accuracy(
    probs: np.ndarray, labels: list[str], threshold: float, truth: np.ndarray, oos: str
) -> float:
    """Share of probe messages decided right: in-scope ones with their intent, out-of-scope ones rejected."""
    predicted, _ = decide(probs, labels, threshold, oos)
    return float(np.mean(predicted == np.asarray(truth, dtype=object))) if len(truth) else float("nan")


def scores(truth: np.ndarray, predicted: np.ndarray, oos: str) -> dict[str, float]:
    """Intent accuracy, macro F1 over the in-scope intents, out-of-scope recall and precision."""
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    inside = truth != oos
    rejected = predicted == oos
    f1s = []
    for label in sorted(set(truth[inside])):
        tp = float(np.sum((truth == label) & (predicted == label)))
        fp = float(np.sum((truth != label) & (predicted == label)))
        fn = float(np.sum((truth == label) & (predicted != label)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    outside = ~inside
    return {
        "intent_accuracy": float(np.mean(predicted[inside] == truth[inside])) if inside.any() else np.nan,
        "intent_macro_f1": float(np.mean(f1s)) if f1s else np.nan,
        "oos_recall": float(np.mean(rejected[outside])) if outside.any() else np.nan,
        "oos_precision": float(np.mean(outside[rejected])) if rejected.any() else np.nan,
        "in_scope_rejected": float(np.mean(rejected[inside])) if inside.any() else np.nan,
    }


def tradeoff(probs: np.ndarray, labels: list[str], truth: np.ndarray, oos: str) -> list[dict[str, float]]:
    """Per candidate threshold: in-scope accuracy, in-scope rejected and out-of-scope recall."""
    rows = []
    for t in THRESHOLDS:
        predicted, _ = decide(probs, labels, t, oos)
        s = scores(truth, predicted, oos)
        keep = ("intent_accuracy", "in_scope_rejected", "oos_recall")
        rows.append({"threshold": t, **{k: round(s[k], 4) for k in keep}})
    return rows


def choose_threshold(table: list[dict[str, float]], max_in_scope_rejected: float) -> float:
    """The threshold with the best out-of-scope recall that rejects at most ``max_in_scope_rejected``
    of the in-scope messages (then the best in-scope accuracy, then the lowest threshold)."""
    allowed = [r for r in table if r["in_scope_rejected"] <= max_in_scope_rejected]
    if not allowed:
        return float(min(r["threshold"] for r in table))
    best = max(allowed, key=lambda r: (np.nan_to_num(r["oos_recall"]), r["intent_accuracy"], -r["threshold"]))
    return float(best["threshold"])
