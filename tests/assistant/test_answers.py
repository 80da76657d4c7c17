"""Grounded answers, product questions, recommendations and hand-over tickets on a tiny shop."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import catalog
from ecom_tasks.assistant import answers
from ecom_tasks.assistant.config import ENV_SHOP_CONFIG
from tests.assistant.shop import LAST, SHOP, FixedAssistant, write_shop

TEMPLATES = {
    "track_order": "You can follow {{Order Number}} under {{Order History}} on {{Website Name}}.",
    "delivery_period": "Questions? Call {{Customer Support Phone Number}} ({{Customer Support Hours}}).",
}
INTENTS = {
    "where is my order": ("track_order", 0.97, False),
    "where is my order o20240102-000002": ("track_order", 0.95, False),
    "where is order o20240102-000001": ("track_order", 0.95, False),
    "i want my money back": ("get_refund", 0.9, False),
    "how long does delivery take": ("delivery_period", 0.92, False),
    "i want to speak to a person": ("contact_human_agent", 0.99, False),
    "mumble": ("place_order", 0.3, True),
    "do you sell lunch bags?": ("oos", 0.6, True),
    "do you sell garden gnomes?": ("oos", 0.6, True),
}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = str(tmp_path / "root")
    write_shop(root)
    config = tmp_path / "shop.yaml"
    config.write_text(json.dumps(SHOP))  # JSON is YAML
    monkeypatch.setenv(ENV_SHOP_CONFIG, str(config))
    return root


def ask(root: str, message: str, customer: str | None = None) -> dict:
    return answers.answer(message, customer, root=root, assistant=FixedAssistant(INTENTS, TEMPLATES))


def tickets(root: str) -> list[dict]:
    folder = Path(root) / catalog.HANDOVER / catalog.TICKETS
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_track_order_names_the_customers_last_order_with_its_items_and_returns(shop):
    reply = ask(shop, "where is my order", "u1")
    assert reply["intent"] == "track_order" and reply["ticket"] is None
    assert reply["answer"] == (
        "Your last order o20240102-000001 of 2024-01-02 holds Heart candle holder; "
        "returned: Heart candle holder."
    )
    assert reply["facts"]["order_id"] == "o20240102-000001"
    older = ask(shop, "where is order o20240102-000001", "u1")
    assert older["facts"]["date"] == "2024-01-02"


def test_an_order_number_that_is_not_the_customers_is_handed_over_without_its_facts(shop):
    reply = ask(shop, "where is my order o20240102-000002", "u1")  # o20240102-000002 is u2's
    assert reply["ticket"] is not None and "o20240102-000002" not in reply["answer"].replace(
        reply["message"], ""
    )
    assert "Blue mug" not in json.dumps(reply)  # nothing of another customer
    (ticket,) = tickets(shop)
    assert ticket["customer"] == "u1" and ticket["intent_guess"] == "track_order"
    assert ticket["reason"] == "order or customer not found in the shop's data"


def test_an_unknown_customer_is_handed_over(shop):
    reply = ask(shop, "where is my order", "u9")
    assert reply["handover"] and reply["facts"] == {}


def test_refunds_list_the_customers_returns(shop):
    assert ask(shop, "i want my money back", "u1")["answer"].startswith(
        "Your returns: order o20240102-000001: Heart candle holder."
    )
    assert ask(shop, "i want my money back", "u2")["answer"] == (
        "I see no returns on your account, so no refund is under way."
    )


def test_templates_are_filled_from_the_shop_configuration(shop):
    reply = ask(shop, "how long does delivery take")
    assert (
        reply["answer"] == "At Test Shop, delivery takes 3 days.\n\nQuestions? Call 0100 (weekdays 9 to 5)."
    )
    anonymous = ask(shop, "where is my order")
    assert (
        "{{" not in anonymous["answer"]
        and "your order under Order History on Test Shop" in anonymous["answer"]
    )


def test_hand_over_for_a_person_for_out_of_scope_and_for_unsure_messages(shop):
    person = ask(shop, "i want to speak to a person", "u1")
    unsure = ask(shop, "mumble")
    away = ask(shop, "what is the capital of peru")
    assert sorted(t["ticket_id"] for t in tickets(shop)) == sorted(
        r["ticket"]["ticket_id"] for r in (person, unsure, away)
    )
    assert person["ticket"]["reason"] == "the customer asks for a person"
    assert unsure["ticket"]["reason"] == "low confidence" and unsure["intent"] == "oos"
    assert away["ticket"]["reason"] == "out of scope" and away["out_of_scope"]
    assert "ticket " + away["ticket"]["ticket_id"] in away["answer"]
    assert set(away["ticket"]) == {
        "ticket_id",
        "time",
        "customer",
        "message",
        "intent_guess",
        "confidence",
        "reason",
    }


def test_product_questions_search_the_catalogue(shop):
    reply = ask(shop, "do you sell lunch bags?")
    assert reply["intent"] == "product_question" and not reply["handover"]
    assert reply["items"][0]["title"] == "Red lunch bag" and reply["items"][0]["price"] == 4.5
    assert reply["answer"].startswith("Yes, we have: Red lunch bag (4.50)")
    missing = ask(shop, "do you sell garden gnomes?")
    assert missing["items"] == [] and missing["handover"]


def test_recommendations_come_from_the_published_table(shop, monkeypatch):
    from ecom_tasks.publish import outputs

    recs = pd.DataFrame({"user_id": ["u1", "u1", "u2"], "rank": [2, 1, 1], "item_id": ["i2", "i1", "i3"],
                         "title": ["Blue mug", "Red lunch bag", "Heart candle holder"]})  # fmt: skip
    monkeypatch.setattr(outputs, "read_current", lambda root, table: recs)
    reply = ask(shop, "what should I buy?", "u1")
    assert reply["answer"] == "Picked for you: Red lunch bag; Blue mug."
    assert ask(shop, "what should I buy?")["answer"].startswith("Tell me your customer number")


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_an_empty_message_gets_a_clean_answer(shop, message):
    reply = ask(shop, message, "u1")
    assert reply["answer"] == "Please type your question." and reply["intent"] is None


def test_a_very_long_or_marked_up_message_is_answered_cleanly(shop):
    reply = ask(shop, "<script>alert(1)</script> " + "x" * 10_000, "u1")
    assert len(reply["message"]) == 2000 and reply["handover"]


def test_latest_day_is_the_newest_validated_day(shop):
    assert answers.latest_day(shop) == LAST


def test_a_price_question_is_searched_only_when_it_is_not_a_shop_question(shop):
    intents = {"how much is the cancellation fee": ("check_cancellation_fee", 0.9, False),
               "how much is a blue mug": ("oos", 0.8, True)}  # fmt: skip
    assistant = FixedAssistant(intents, {"check_cancellation_fee": "No fee at {{Website Name}}."})
    fee = answers.answer("how much is the cancellation fee", root=shop, assistant=assistant)
    assert fee["intent"] == "check_cancellation_fee" and fee["items"] == []
    mug = answers.answer("how much is a blue mug", root=shop, assistant=assistant)
    assert mug["intent"] == "product_question" and mug["items"][0]["title"] == "Blue mug"
