"""The assistant's hand-over rate: the share of a day's answered messages handed over to a person.

Read from the answers log of ``ds`` (:mod:`ecom_tasks.assistant.answer_log`, one line per message
the assistant answered that day), overall and by reason:

- ``out_of_scope``: the message is outside what the shop's assistant handles;
- ``low_confidence``: in scope, but the intent model is not sure enough (below its threshold);
- ``human_asked``: the customer asks for a person, or complains (a person handles complaints);
- ``unknown_order``: the order quoted, or the customer, is not in the shop's data;
- ``product_not_found``: a product question the catalogue has no answer to;
- ``other``: a reason this list does not know (a newer assistant's), counted, never dropped.

Each share is of all the day's answered messages, so the reasons add up to ``handover_rate``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ecom_tasks.assistant import answer_log
from ecom_tasks.ui import labels

MESSAGES, HANDED_OVER, HANDOVER_RATE = "messages", "handed_over", "handover_rate"
# The assistant's reason texts (ecom_tasks/assistant/answers.py) by the category monitored.
REASONS: dict[str, tuple[str, ...]] = {
    "out_of_scope": ("out of scope",),
    "low_confidence": ("low confidence",),
    "human_asked": ("the customer asks for a person", "complaints are handled by a person"),
    "unknown_order": ("order or customer not found in the shop's data",),
    "product_not_found": ("product not found in the catalogue",),
}
OTHER = "other"
CATEGORIES = (*REASONS, OTHER)
LABELS = {
    "out_of_scope": "out of scope",
    "low_confidence": "low confidence",
    "human_asked": "customer asked for a person",
    "unknown_order": "order or customer not found",
    "product_not_found": "product not in the catalogue",
    OTHER: "other reason",
}


def category(reason: str | None) -> str:
    """The monitored category of an assistant's hand-over reason text."""
    for name, texts in REASONS.items():
        if reason in texts:
            return name
    return OTHER


def rate_column(name: str) -> str:
    """The column of one category's share: ``handover_<category>_rate``."""
    return f"handover_{name}_rate"


def figures(answers: list[dict[str, Any]]) -> dict[str, float]:
    """``messages``, ``handed_over``, ``handover_rate`` and one share per category (of all messages)."""
    handed = [a for a in answers if a.get("handover")]
    n = len(answers)
    out = {MESSAGES: float(n), HANDED_OVER: float(len(handed)),
           HANDOVER_RATE: len(handed) / n if n else float("nan")}  # fmt: skip
    for name in CATEGORIES:
        count = sum(category(a.get("reason")) == name for a in handed)
        out[rate_column(name)] = count / n if n else float("nan")
    return out


def judge(root: str, day: dt.date, min_messages: int) -> tuple[dict[str, float], str | None]:
    """The figures of ``day``'s answers log, and why they are not judged (None when they are)."""
    answers = answer_log.read(root, day)
    out = figures(answers)
    if len(answers) < min_messages:
        return out, f"{len(answers)} messages answered on {day}, fewer than {min_messages}"
    return out, None


def breach(row: dict[str, Any], bound: float) -> list[str]:
    """The hand-over rate above ``bound``, described (empty when within)."""
    rate = row.get(HANDOVER_RATE)
    if rate is None or math.isnan(rate) or rate <= bound:
        return []
    worst = max(CATEGORIES, key=lambda c: row.get(rate_column(c)) or 0.0)
    said = f"{labels.metric_label(HANDOVER_RATE)}: {labels.metric_value(HANDOVER_RATE, rate)}"
    bound_said = labels.metric_value(HANDOVER_RATE, bound)
    return [f"{said} above the configured bound {bound_said} (most: {LABELS[worst]}, "
            f"{row[rate_column(worst)]:.1%} of messages)"]  # fmt: skip
