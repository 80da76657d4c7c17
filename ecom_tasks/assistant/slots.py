"""Slots of a message: order and invoice numbers, amounts, and the entities the training data names.

Patterns find the numbers (an invoice ``#85632``, an amount ``$1499`` or ``160 dollars``, an order
number of six or more digits); a gazetteer built from the training messages' tagged values finds
the rest (account types, names, cities, countries). Judged by exact-match F1 over (type, text) pairs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from ecom_tasks.assistant.data import END, ENTITY_TYPE, START, TEXT

ORDER_ID, INVOICE_ID, REFUND_AMOUNT = "order_id", "invoice_id", "refund_amount"
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (INVOICE_ID, re.compile(r"#\d+")),
    (REFUND_AMOUNT, re.compile(r"\$\s?(\d+(?:\.\d{1,2})?)")),
    (REFUND_AMOUNT, re.compile(r"\b(\d+(?:\.\d{1,2})?)\s*(?:dollars|usd|euros?|pounds|gbp)\b", re.I)),
    # Bitext's "00004587345", Online Retail's "489434" / "C489449", the built-in shop's "o20240115-0000123".
    (ORDER_ID, re.compile(r"(?<![#\w-])([A-Za-z]{0,2}\d[\d-]{4,}\d)(?![\w-])")),
)
Slot = tuple[str, str]  # (type, text as written in the message)


def gold(frame: pd.DataFrame) -> list[list[Slot]]:
    """The tagged slot of each message (its text at the offsets), or none."""
    out: list[list[Slot]] = []
    has = ENTITY_TYPE in frame.columns and START in frame.columns
    for row in frame.itertuples(index=False):
        kind = getattr(row, ENTITY_TYPE) if has else None
        start, end = (getattr(row, START), getattr(row, END)) if has else (None, None)
        if isinstance(kind, str) and pd.notna(start) and pd.notna(end):
            out.append([(kind, getattr(row, TEXT)[int(start) : int(end)])])
        else:
            out.append([])
    return out


def gazetteer(frame: pd.DataFrame) -> dict[str, str]:
    """``{value (lower case): type}`` of the tagged values that are words, from training messages."""
    found: dict[str, str] = {}
    for slots in gold(frame):
        for kind, text in slots:
            if kind not in {ORDER_ID, INVOICE_ID, REFUND_AMOUNT} and text.strip() and not text.isdigit():
                found.setdefault(text.strip().lower(), kind)
    return found


def extract(text: str, words: dict[str, str]) -> list[Slot]:
    """The slots of one message, in order of appearance, without overlaps."""
    spans: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    for kind, pattern in PATTERNS:
        for match in pattern.finditer(text):
            group = 1 if pattern.groups else 0
            a, b = match.span(group)
            if free(*match.span()):
                spans.append((a, b, kind))
    lower = text.lower()
    for value in sorted(words, key=len, reverse=True):
        # Long values also inside a run-together word ("aPlatinum"): typos drop spaces.
        bounded = rf"(?<!\w){re.escape(value)}(?!\w)" if len(value) < 5 else re.escape(value)
        for match in re.finditer(bounded, lower):
            if free(*match.span()):
                spans.append((*match.span(), words[value]))
    return [(kind, text[a:b]) for a, b, kind in sorted(spans)]


def f1(truth: Iterable[list[Slot]], predicted: Iterable[list[Slot]]) -> float:
    """Exact-match F1 over (type, text) pairs of all messages (1.0 when neither has any)."""
    tp = fp = fn = 0
    for t, p in zip(truth, predicted, strict=True):
        remaining = list(t)
        for slot in p:
            if slot in remaining:
                remaining.remove(slot)
                tp += 1
            else:
                fp += 1
        fn += len(remaining)
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
