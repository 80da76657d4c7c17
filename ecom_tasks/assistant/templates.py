"""Answer templates per intent, derived from the support data's model answers, and their filling.

Each intent's template is one of its model answers (one without a tagged entity, so it quotes no
other customer's order, the one closest to the intent's median length). Its ``{{Placeholder}}``
slots are filled from the shop configuration (``config/assistant-shop.yaml``: name, contact hours,
delivery times, refund policy ...), from the message's slots, or with the placeholder's own words
(``{{Order History}}`` names a page of the shop's site).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import yaml

from ecom_tasks import remote
from ecom_tasks.assistant.data import ENTITY_TYPE, INTENT, RESPONSE
from ecom_tasks.errors import ConfigError

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# Placeholder -> key of the shop configuration.
SHOP_KEYS = {
    "Website Name": "name",
    "Company Name": "name",
    "Customer Support Phone Number": "phone",
    "Support Phone Number": "phone",
    "Customer Support Email": "email",
    "Email": "email",
    "Website URL": "website",
    "Customer Support Availability": "contact_hours",
    "Customer Support Hours": "contact_hours",
    "Live Chat": "live_chat",
}
# Placeholders that stand for the customer's own number: the message's slot, else a neutral phrase.
NUMBERS = {
    "Order Number": ("order_id", "your order"),
    "Order Number Anonymized": ("order_id", "your order"),
    "Purchase ID Anonymized": ("order_id", "your purchase"),
    "Bill Number Anonymized": ("invoice_id", "your invoice"),
    "Invoice Number": ("invoice_id", "your invoice"),
}
SHOP_FIELDS = ("name", "phone", "email", "website", "contact_hours", "live_chat", "delivery_times",
               "refund_policy")  # fmt: skip


def derive(frame: pd.DataFrame) -> dict[str, str]:
    """One template per intent from the model answers of ``frame`` (training rows)."""
    if RESPONSE not in frame.columns:
        return {}
    rows = frame[frame[RESPONSE].notna()]
    if ENTITY_TYPE in rows.columns:
        plain = rows[rows[ENTITY_TYPE].isna()]
        rows = pd.concat([plain, rows[~rows[INTENT].isin(plain[INTENT])]])
    out = {}
    for intent, group in rows.groupby(INTENT, sort=True):
        answers = sorted(set(group[RESPONSE].astype(str)))
        median = float(pd.Series([len(a) for a in answers]).median())
        out[str(intent)] = min(answers, key=lambda a: (abs(len(a) - median), a))
    return out


def load_shop(path: str) -> dict[str, str]:
    """The shop configuration file; :class:`ConfigError` naming the file and the missing key."""
    data = remote.read_uri(path)
    if data is None:
        raise ConfigError(f"assistant shop configuration {path}: no such file")
    raw = yaml.safe_load(data) or {}
    missing = [k for k in SHOP_FIELDS if not str(raw.get(k) or "").strip()]
    if missing:
        raise ConfigError(f"assistant shop configuration {path}: missing {missing}")
    return {k: str(raw[k]).strip() for k in SHOP_FIELDS}


def fill(template: str, shop: dict[str, str], slots: list[tuple[str, str]] | None = None) -> str:
    """``template`` with every ``{{Placeholder}}`` replaced; none is left."""
    found = dict((kind, text) for kind, text in slots or [])

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in SHOP_KEYS:
            return shop[SHOP_KEYS[name]]
        if name in NUMBERS:
            kind, default = NUMBERS[name]
            return found.get(kind, default)
        return name  # a page or button of the site ("Order History")

    return PLACEHOLDER.sub(one, template)


def shop_fact(intent: str, shop: dict[str, str]) -> str | None:
    """The shop's own fact an intent's answer must state (delivery times, refund policy, hours)."""
    facts: dict[str, Any] = {
        "delivery_period": f"At {shop['name']}, delivery takes {shop['delivery_times']}.",
        "delivery_options": f"At {shop['name']}, delivery takes {shop['delivery_times']}.",
        "check_refund_policy": f"Our refund policy: {shop['refund_policy']}",
        "get_refund": f"Our refund policy: {shop['refund_policy']}",
        "contact_customer_service": f"Our team is there {shop['contact_hours']} on {shop['phone']}.",
    }
    return facts.get(intent)
