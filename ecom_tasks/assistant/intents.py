"""The assistant's intent catalogue: the output table a support lead reads (``outputs/assistant_intents``).

One row per intent the published model knows (and one for out of scope): its category, how the
assistant answers it (from the customer's own orders and returns, from an answer template, or by
handing over to a person), the answer template, how many messages it was trained and tested on, and
the model's precision, recall and F1 for it on the test split, with the rejection threshold in force.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecom_tasks.assistant import data
from ecom_tasks.assistant.config import OOS

CATEGORY = "category"  # the Bitext column, when the support CSV has it
COLUMNS = ("intent", "category", "answered_by", "template", "train_messages", "test_messages",
           "test_precision", "test_recall", "test_f1", "threshold", "model")  # fmt: skip


def answered_by(intent: str) -> str:
    """How :func:`ecom_tasks.assistant.answers.answer` answers an intent, in words."""
    from ecom_tasks.assistant.answers import GROUNDED, HANDOVER_INTENTS

    if intent == OOS:
        return "handed over to a person (out of scope)"
    if intent in HANDOVER_INTENTS:
        return "handed over to a person"
    if intent in GROUNDED:
        return "the customer's own orders and returns"
    return "answer template"


def catalogue(
    frame: pd.DataFrame, split: np.ndarray, predicted: np.ndarray, spec: dict, selected: str
) -> pd.DataFrame:
    """The table (see the module docstring) from the messages, their split, the selected model's decided
    intent on the test split (``predicted``, in test-row order) and the saved model's spec."""
    test = frame[split == data.TEST]
    truth = test[data.INTENT].to_numpy(dtype=object)
    decided = np.asarray(predicted, dtype=object)
    trained = frame[split == data.TRAIN][data.INTENT].value_counts()
    categories = (
        frame.dropna(subset=[CATEGORY]).groupby(data.INTENT)[CATEGORY].agg(lambda c: c.mode().iat[0])
        if CATEGORY in frame.columns
        else pd.Series(dtype=object)
    )
    rows = []
    for intent in spec["labels"]:
        tp = int(np.sum((truth == intent) & (decided == intent)))
        n_true, n_decided = int(np.sum(truth == intent)), int(np.sum(decided == intent))
        precision = tp / n_decided if n_decided else np.nan
        recall = tp / n_true if n_true else np.nan
        f1 = 2 * tp / (n_true + n_decided) if n_true + n_decided else np.nan
        rows.append({
            "intent": intent,
            "category": str(categories.get(intent, "OUT_OF_SCOPE" if intent == OOS else "")),
            "answered_by": answered_by(intent),
            "template": spec["templates"].get(intent, ""),
            "train_messages": int(trained.get(intent, 0)),
            "test_messages": n_true,
            "test_precision": precision,
            "test_recall": recall,
            "test_f1": f1,
        })  # fmt: skip
    out = pd.DataFrame(rows, columns=COLUMNS[:-2])
    out["threshold"] = float(spec["threshold"])
    out["model"] = selected
    for column in ("intent", "category", "answered_by", "template", "model"):
        out[column] = out[column].astype("string")
    for column in ("train_messages", "test_messages"):
        out[column] = out[column].astype(np.int64)
    return out[list(COLUMNS)].sort_values(["category", "intent"], ignore_index=True)
