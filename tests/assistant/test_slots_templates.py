"""Slots (patterns and gazetteer, exact-match F1) and answer templates, on hand-made cases."""

from __future__ import annotations

import pandas as pd
import pytest

from ecom_tasks.assistant import slots, templates
from ecom_tasks.assistant.data import END, ENTITY_TYPE, INTENT, RESPONSE, START, TEXT
from ecom_tasks.errors import ConfigError
from tests.assistant.shop import SHOP

WORDS = {"premium": "account_type", "anna freeman": "person_name"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cancel order 00004587345 please", [("order_id", "00004587345")]),
        ("where is o20240115-000123?", [("order_id", "o20240115-000123")]),
        (
            "check invoice #12588 from Anna Freeman",
            [("invoice_id", "#12588"), ("person_name", "Anna Freeman")],
        ),
        ("i paid $1499 for this", [("refund_amount", "1499")]),
        ("reimburse 160 dollars", [("refund_amount", "160")]),
        ("open a Premium account", [("account_type", "Premium")]),
        ("editingPremium account", [("account_type", "Premium")]),  # run-together words: long values
        ("order 123 is late", []),  # too short for an order number
        ("nothing here", []),
    ],
)
def test_extract(text, expected):
    assert slots.extract(text, WORDS) == expected


def test_gold_and_gazetteer_from_tagged_rows():
    frame = pd.DataFrame(
        {
            TEXT: ["a Gold account", "order 1234567", "hi"],
            ENTITY_TYPE: ["account_type", "order_id", None],
            START: [2, 6, None],
            END: [6, 13, None],
        }
    )
    assert slots.gold(frame) == [[("account_type", "Gold")], [("order_id", "1234567")], []]
    assert slots.gazetteer(frame) == {"gold": "account_type"}  # numbers are found by patterns


def test_f1_by_hand():
    truth = [[("order_id", "123456")], [("account_type", "Gold")], []]
    predicted = [[("order_id", "123456")], [("account_type", "gold")], [("order_id", "999999")]]
    # tp 1, fp 2 (case differs; a slot where none is tagged), fn 1: 2 / (2 + 2 + 1)
    assert slots.f1(truth, predicted) == pytest.approx(0.4)
    assert slots.f1([[]], [[]]) == 1.0


def test_templates_are_derived_from_plain_answers_and_filled():
    frame = pd.DataFrame(
        {
            INTENT: ["a", "a", "a", "b"],
            RESPONSE: ["Call {{Customer Support Phone Number}}.", "Order 123 is on {{Website Name}}.",
                       "Visit {{Website Name}} or {{Order History}} now", "See {{Order Number}}."],
            ENTITY_TYPE: [None, "order_id", None, "order_id"],
        }
    )  # fmt: skip
    derived = templates.derive(frame)
    # Intent a: the rows without an entity (lengths 39 and 46, median 42.5: both 3.5 away; the first by
    # text wins); intent b has only a tagged answer, which is used.
    assert derived == {"a": "Call {{Customer Support Phone Number}}.", "b": "See {{Order Number}}."}
    assert templates.fill(frame[RESPONSE][2], SHOP) == "Visit Test Shop or Order History now"
    assert templates.fill(derived["b"], SHOP, [("order_id", "o1-123456")]) == "See o1-123456."
    assert templates.fill(derived["b"], SHOP) == "See your order."


def test_shop_configuration_must_name_every_fact(tmp_path):
    path = tmp_path / "shop.yaml"
    path.write_text("name: X\n")
    with pytest.raises(ConfigError, match="missing \\['phone'"):
        templates.load_shop(str(path))
    assert set(templates.load_shop("config/assistant-shop.yaml")) == set(templates.SHOP_FIELDS)
