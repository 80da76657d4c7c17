"""Answering a customer: the published assistant, the shop's own data, and hand-over tickets.

:func:`answer` understands the message (intent with rejection, slots), then answers from what the
shop knows, never from a guess:

- a product question ("do you sell lunch bags?") searches the catalogue and lists items with prices;
  "what should I buy" lists the customer's published recommendations;
- ``track_order`` names the customer's last order (or the order they quote) with its date, items and
  whether anything was returned; ``get_refund`` / ``track_refund`` list their returns;
- any other intent gets its template filled from the shop configuration;
- out-of-scope and unsure messages, intents that need a person (complaints, asking for an agent),
  an order number that is not the customer's and an unknown customer are handed over: a ticket is
  written under ``{root}/handover/tickets/`` and the answer says so. With ``file_ticket=False`` (the
  page's GET, which must never write) the reply only says why it would be handed over
  (``handover_reason``); :func:`file_handover` files the ticket later (the page's POST button).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from ecom_tasks import catalog, contract, storage
from ecom_tasks.assistant import catalogue, templates
from ecom_tasks.assistant.answer_log import logged
from ecom_tasks.assistant.config import shop_config_path
from ecom_tasks.assistant.model import MAX_CHARS, Assistant
from ecom_tasks.assistant.slots import ORDER_ID
from ecom_tasks.errors import EcomError
from ecom_tasks.ui.cache import TableCache
from ecom_tasks.ui.config import DEFAULT_UI

log = logging.getLogger(__name__)

HANDOVER_INTENTS = {
    "contact_human_agent": "the customer asks for a person",
    "complaint": "complaints are handled by a person",
}
GROUNDED = ("track_order", "get_refund", "track_refund")
# A product question: always searched in the catalogue ...
PRODUCT = re.compile(
    r"\b(do you (sell|have|stock|carry)|have you got|are there any|(i(')?m )?looking for|in stock)\b",
    re.I,
)
# ... and a price question, only when the intent model does not take it as a shop question ("how much is
# the cancellation fee" is one).
PRICE = re.compile(r"\b(how much (is|are|does|do|for)|price of|what does .* cost)\b", re.I)
RECOMMEND = re.compile(
    r"\b(what should i buy|recommend|suggest|gift ideas?|what (else )?(can|could) i buy)\b", re.I
)
TOP_ITEMS = 3


class AssistantUnavailable(EcomError):  # noqa: N818 - reads as the condition it reports
    """No assistant is published under the data root yet."""

    retryable = False


@dataclass
class Reply:
    """What the assistant says, and what it did."""

    message: str
    customer: str | None
    intent: str | None = None
    confidence: float | None = None
    out_of_scope: bool = False
    slots: list[dict[str, str]] = field(default_factory=list)
    answer: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    ticket: dict[str, Any] | None = None
    handover_reason: str | None = None  # set when a person should take over (ticket filed or not)
    intent_guess: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {
            "handover": self.handover_reason is not None
        }


def champion(root: str) -> Assistant:
    """The published assistant (the registry's champion); :class:`AssistantUnavailable` otherwise."""
    from ecom_tasks.assistant.model import load
    from ecom_tasks.publish.stage import champion_info

    info = champion_info(root, catalog.ASSISTANT)
    if info is None:
        raise AssistantUnavailable(
            f"no assistant is published under {root}: configure support_data and run the nightly"
        )
    return load(f"{info['folder']}/{catalog.ASSISTANT_DIR}")


def latest_day(root: str) -> dt.date | None:
    """The newest day with validated events: what "the customer's last order" is read up to."""
    days = storage.list_partitions(root, catalog.VALIDATED, contract.EVENTS)
    return days[-1] if days else None


TICKET_ID = re.compile(r"T\d{14}-[0-9a-f]{6}")


def ticket_uri(root: str, ticket_id: str) -> str:
    """Where the ticket ``ticket_id`` is kept."""
    return f"{storage.data_root(root)}/{catalog.HANDOVER}/{catalog.TICKETS}/{ticket_id}.json"


def write_ticket(root: str, reply: dict[str, Any]) -> dict[str, Any]:
    """Record the hand-over of ``reply`` (an :func:`answer` dict) under
    ``{root}/handover/tickets/<id>.json``; returns the ticket."""
    now = dt.datetime.now(dt.UTC)  # serving, not a nightly task: the ticket's own time
    ticket = {
        "ticket_id": f"T{now:%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}",
        "time": now.isoformat(timespec="seconds"),
        "customer": reply["customer"],
        "message": reply["message"],
        "intent_guess": reply["intent_guess"],
        "confidence": reply["confidence"],
        "reason": reply["handover_reason"],
    }
    storage.write_json(ticket, ticket_uri(root, ticket["ticket_id"]))
    log.info("hand-over ticket %s: %s", ticket["ticket_id"], ticket["reason"])
    return ticket


def file_handover(root: str | None, reply: dict[str, Any]) -> dict[str, Any]:
    """File the ticket of a reply that should be handed over (``reply["handover"]``) and say so in its
    answer; a reply that needs no person, or already has its ticket, is returned as it is."""
    if not reply["handover"] or reply["ticket"] is not None:
        return reply
    shop = templates.load_shop(shop_config_path())
    ticket = write_ticket(storage.data_root(root), reply)
    said = reply["answer"]
    return reply | {
        "ticket": ticket,
        "answer": f"{said + ' ' if said else ''}I have passed your message to a member of our team "
        f"(ticket {ticket['ticket_id']}); they will reply {shop['contact_hours']}.",
    }


def _hand_over(reply: Reply, reason: str, guess: str | None) -> Reply:
    reply.handover_reason, reply.intent_guess = reason, guess
    return reply


def _purchases(root: str, day: dt.date, customer: str, cache: TableCache) -> list[dict[str, Any]]:
    from ecom_tasks.ui.customers import item_titles, purchase_index, with_titles

    lines = purchase_index(root, day, cache, DEFAULT_UI).records(customer, 10_000)
    return with_titles(lines, item_titles(root, day, cache))


def _orders(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The customer's orders, newest first: date, item titles, whether anything was returned."""
    orders: dict[str, dict[str, Any]] = {}
    for line in lines:  # newest first
        order = orders.setdefault(str(line[contract.ORDER_ID]), {"date": None, "items": [], "returned": []})
        title = line.get(contract.TITLE) or str(line[contract.ITEM_ID])
        if line[contract.EVENT_TYPE] == contract.RETURN:
            order["returned"].append(title)
        else:
            order["date"] = order["date"] or str(line[contract.TS])[:10]
            order["items"].append(title)
    return orders  # returns of orders older than the purchase window keep a date of None


def _grounded(root: str, reply: Reply, customer: str, day: dt.date, cache: TableCache) -> str | None:
    """The customer's own facts for a grounded intent; None when there is nothing to say (hand over)."""
    orders = _orders(_purchases(root, day, customer, cache))
    if not orders:
        return None
    quoted = [s["value"].lstrip("0") for s in reply.slots if s["type"] == ORDER_ID]
    if reply.intent == "track_order":
        if quoted:
            wanted = {k.lstrip("0"): k for k in orders}
            if quoted[0] not in wanted:
                return None
            key = wanted[quoted[0]]
        else:
            key = next((k for k, v in orders.items() if v["date"]), None)
            if key is None:
                return None
        order = orders[key]
        reply.facts = {"order_id": key, **order}
        returned = (
            f"; returned: {', '.join(order['returned'])}" if order["returned"] else "; nothing was returned"
        )
        return f"Your last order {key} of {order['date']} holds {', '.join(order['items'])}{returned}."
    returns = {k: v["returned"] for k, v in orders.items() if v["returned"]}
    reply.facts = {"returns": returns}
    if not returns:
        return "I see no returns on your account, so no refund is under way."
    listed = "; ".join(f"order {k}: {', '.join(v)}" for k, v in returns.items())
    return f"Your returns: {listed}. The refund goes to your original payment method."


@logged  # each answer that acts is logged for the hand-over rate (ecom_tasks/assistant/answer_log.py)
def answer(
    message: str,
    customer_id: str | None = None,
    *,
    root: str | None = None,
    day: dt.date | None = None,
    assistant: Assistant | None = None,
    cache: TableCache | None = None,
    file_ticket: bool = True,
) -> dict[str, Any]:
    """The assistant's answer to ``message`` from ``customer_id`` (None: not signed in), as a dict:
    message, customer, intent, confidence, out_of_scope, slots, answer, items, facts, ticket, handover,
    handover_reason, intent_guess. ``file_ticket=False``: a hand-over is only reported, nothing is written."""
    root = storage.data_root(root)

    def done(reply: Reply) -> dict[str, Any]:
        out = reply.to_dict()
        return file_handover(root, out) if file_ticket else out

    shop = templates.load_shop(shop_config_path())
    text = " ".join(str(message or "").split())[:MAX_CHARS]
    reply = Reply(message=text, customer=customer_id)
    if not text:
        reply.answer = "Please type your question."
        return reply.to_dict()
    assistant = assistant or champion(root)
    cache = cache or TableCache()
    day = day or latest_day(root)
    understood = assistant.understand(text)
    reply.intent, reply.confidence = understood["intent"], understood["confidence"]
    reply.out_of_scope, reply.slots = understood["out_of_scope"], understood["slots"]
    if day is not None and RECOMMEND.search(text):
        return _recommend(root, reply, customer_id)
    if day is not None and (PRODUCT.search(text) or (reply.out_of_scope and PRICE.search(text))):
        reply.items = catalogue.search(root, day, text)[:TOP_ITEMS]
        if reply.items:
            listed = "; ".join(f"{i['title']} ({i['price']:.2f})" for i in reply.items)
            # Answered by the catalogue search, not the intent model: no intent confidence.
            reply.intent, reply.out_of_scope, reply.confidence = "product_question", False, None
            reply.answer = f"Yes, we have: {listed}."
            return reply.to_dict()
        if reply.out_of_scope:
            reply.answer = "I could not find that in our catalogue."
            return done(_hand_over(reply, "product not found in the catalogue", understood["intent_guess"]))
    if reply.out_of_scope:
        reason = "out of scope" if understood["intent_guess"] == "oos" else "low confidence"
        reply.answer = f"I am not sure I can help with that at {shop['name']}."
        return done(_hand_over(reply, reason, understood["intent_guess"]))
    if reply.intent in HANDOVER_INTENTS:
        return done(_hand_over(reply, HANDOVER_INTENTS[reply.intent], reply.intent))
    if reply.intent in GROUNDED and customer_id:
        facts = _grounded(root, reply, customer_id, day, cache) if day else None
        if facts is None:
            reply.answer = "I cannot find that order on your account."
            return done(_hand_over(reply, "order or customer not found in the shop's data", reply.intent))
        reply.answer = facts
        return reply.to_dict()
    found = [(s["type"], s["value"]) for s in reply.slots]
    template = assistant.templates.get(reply.intent or "", "")
    parts = [
        templates.shop_fact(reply.intent or "", shop),
        templates.fill(template, shop, found) if template else None,
    ]
    if reply.intent in GROUNDED:
        parts.insert(0, "Tell me your customer number and I can look up your orders.")
    reply.answer = "\n\n".join(p for p in parts if p)
    return reply.to_dict()


def _recommend(root: str, reply: Reply, customer: str | None) -> dict[str, Any]:
    from ecom_tasks.publish import outputs

    reply.intent, reply.out_of_scope, reply.confidence = "recommendation", False, None
    if not customer:
        reply.answer = "Tell me your customer number and I can suggest items picked for you."
        return reply.to_dict()
    try:
        recs = outputs.read_current(root, catalog.RECOMMENDATIONS)
    except FileNotFoundError:
        recs = None
    mine = recs[recs[contract.USER_ID].astype(str) == customer] if recs is not None else None
    if mine is None or mine.empty:
        reply.answer = "I have no suggestions for you yet."
        return reply.to_dict()
    mine = mine.sort_values("rank").head(TOP_ITEMS)
    titles = mine[contract.TITLE] if contract.TITLE in mine.columns else mine[contract.ITEM_ID]
    reply.items = [
        {"item_id": str(i), "title": str(t)} for i, t in zip(mine[contract.ITEM_ID], titles, strict=True)
    ]
    reply.answer = "Picked for you: " + "; ".join(i["title"] for i in reply.items) + "."
    return reply.to_dict()
