"""A tiny validated shop for the assistant's answers, and an assistant whose understanding is fixed.

Customer ``u1`` ordered twice: ``o20240101-000001`` on 2024-01-01 (red lunch bag, blue mug) and
``o20240102-000001`` on 2024-01-02 (heart candle holder), and returned the candle holder on
2024-01-03. Customer ``u2`` ordered ``o20240102-000002`` (blue mug) on 2024-01-02. Three items.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ecom_tasks import contract as c
from ecom_tasks.assistant.model import Assistant
from tests.validated_shop import write_validated

START = dt.date(2024, 1, 1)
DAYS = 3
LAST = START + dt.timedelta(days=DAYS - 1)
SHOP = {"name": "Test Shop", "phone": "0100", "email": "help@test.example", "website": "https://test.example",
        "contact_hours": "weekdays 9 to 5", "live_chat": "our chat", "delivery_times": "3 days",
        "refund_policy": "30 days to return."}  # fmt: skip


def _line(i: int, day: int, user: str, item: str, kind: str, order: str) -> dict[str, Any]:
    return {
        c.EVENT_ID: f"e{i}",
        c.TS: pd.Timestamp(START + dt.timedelta(days=day), tz="UTC") + pd.Timedelta(hours=10 + i),
        c.USER_ID: user,
        c.SESSION_ID: f"s{i}",
        c.ITEM_ID: item,
        c.EVENT_TYPE: kind,
        c.QUANTITY: 1,
        c.UNIT_PRICE: 2.5,
        c.ORDER_ID: order,
        c.COUNTRY: "UK",
    }


def write_shop(root: str) -> None:
    events = pd.DataFrame(
        [
            _line(1, 0, "u1", "i1", c.PURCHASE, "o20240101-000001"),
            _line(2, 0, "u1", "i2", c.PURCHASE, "o20240101-000001"),
            _line(3, 1, "u1", "i3", c.PURCHASE, "o20240102-000001"),
            _line(4, 1, "u2", "i2", c.PURCHASE, "o20240102-000002"),
            _line(5, 2, "u1", "i3", c.RETURN, "o20240102-000001"),
            _line(6, 2, "u2", "i1", c.VIEW, None),
        ]
    )
    items = pd.DataFrame(
        {
            c.ITEM_ID: ["i1", "i2", "i3"],
            c.TITLE: ["Red lunch bag", "Blue mug", "Heart candle holder"],
            c.CATEGORY: ["bags", "kitchen", "home"],
            c.PRICE: [4.5, 3.25, 6.0],
            c.FIRST_SEEN: pd.Timestamp(START, tz="UTC"),
        }
    )
    users = pd.DataFrame(
        {c.USER_ID: ["u1", "u2"], c.FIRST_SEEN: pd.Timestamp(START, tz="UTC"), c.COUNTRY: "UK"}
    )
    write_validated(root, START, DAYS, c.conform(events, c.EVENTS), c.conform(items, c.ITEMS),
                    c.conform(users, c.USERS))  # fmt: skip


class FixedAssistant(Assistant):
    """Understands each message as told (intent, confidence, rejection), with the real slot extraction."""

    def __init__(self, intents: dict[str, tuple[str, float, bool]], templates: dict[str, str]) -> None:
        super().__init__({"labels": [], "threshold": 0.5, "gazetteer": {"premium": "account_type"},
                          "templates": templates})  # fmt: skip
        self.intents = intents

    def understand(self, text: str) -> dict[str, Any]:
        from ecom_tasks.assistant import slots

        intent, confidence, rejected = self.intents.get(text, ("oos", 0.9, True))
        return {
            "intent": "oos" if rejected else intent,
            "intent_guess": intent,
            "confidence": confidence,
            "out_of_scope": rejected,
            "slots": [{"type": k, "value": v} for k, v in slots.extract(text, self.spec["gazetteer"])],
        }
