"""The assistant's section on the UI page: ask it a question, see how it understood and answered.

A GET form (the page allows no scripts) sends ``?ask=<message>&ask_customer=<id>``: the section shows
the intent, its confidence, the slots, the answer and whether it would be handed over to a person, and
the published model's figures with its rejection threshold's trade-off. A GET never writes (link
prefetchers, crawlers and a refreshed page would file tickets): the hand-over is a POST button to the
plugin app (:func:`hand_over`), which files the ticket and redirects back with ``&ticket=<id>`` for the
section to show.
"""

from __future__ import annotations

from typing import Any

from ecom_tasks import catalog, storage
from ecom_tasks.assistant.model import MAX_CHARS, load
from ecom_tasks.ui import inputs
from ecom_tasks.ui.sections import SectionRequest

ASK, CUSTOMER = "ask", "ask_customer"  # not "customer": that one drives the customer explorer
TICKET = "ticket"
FIGURES = (
    ("intent_accuracy", "in-scope messages answered with the right intent"),
    ("intent_macro_f1", "macro F1 over the intents"),
    ("oos_recall", "out-of-scope messages rejected"),
    ("oos_precision", "rejected messages that were out of scope"),
    ("in_scope_rejected", "in-scope messages rejected"),
    ("probe_accuracy", "common phrasings (probe) answered right"),
    ("slot_f1", "slot exact-match F1"),
)
MODEL_NAMES = {"pretrained": "pretrained network", "nopretrain": "network without pretraining",
               "tfidf": "TF-IDF + logistic regression"}  # fmt: skip


def section(request: SectionRequest) -> dict[str, Any]:
    """The published assistant's figures, and its answer to ``?ask=`` (see the module docstring)."""
    from ecom_tasks.assistant.answers import answer
    from ecom_tasks.publish.stage import champion_info

    info = champion_info(request.root, catalog.ASSISTANT)
    if info is None:
        raise inputs.NotFound("no assistant is published yet (it trains when support_data is configured)")
    folder = info["folder"]
    metrics = storage.read_json(f"{folder}/{catalog.METRICS_FILE}")
    try:
        history = storage.read_json(f"{folder}/{catalog.HISTORY_FILE}")
    except FileNotFoundError:
        history = {}
    selected = str(metrics.get("selected", ""))
    rows = [[label] + [_pct(metrics.get(f"{m}_{key}")) for m in MODEL_NAMES] for key, label in FIGURES[:6]]
    data: dict[str, Any] = {
        "ds": info["ds"],
        "selected": MODEL_NAMES.get(selected, selected),
        "threshold": metrics.get("threshold"),
        "figures": {"columns": ["test messages", *MODEL_NAMES.values()], "rows": rows},
        "slot_f1": _pct(metrics.get("slot_f1")),
        "tradeoff": [
            [r["threshold"], _pct(r["intent_accuracy"]), _pct(r["in_scope_rejected"]), _pct(r["oos_recall"])]
            for r in history.get("tradeoff", {}).get(selected, [])
        ],
        "ask": "",
        "customer": "",
        "reply": None,
    }
    raw = request.query.get(ASK)
    if raw is None:
        return data
    if len(raw) > MAX_CHARS:
        raise inputs.BadInput(ASK, f"a message has at most {MAX_CHARS:,} characters")
    customer_raw = (request.query.get(CUSTOMER) or "").strip()
    customer = inputs.customer_id(customer_raw, request.config) if customer_raw else None
    assistant = request.cache.memo(
        ("assistant", folder), folder, lambda: load(f"{folder}/{catalog.ASSISTANT_DIR}")
    )
    data |= {"ask": raw, "customer": customer or ""}
    reply = answer(
        raw,
        customer,
        root=request.root,
        day=request.day,
        assistant=assistant,
        cache=request.cache,
        file_ticket=False,
    )
    reply["ticket"] = _filed(request, reply)
    reply["confidence_pct"] = _pct(reply["confidence"])
    data["reply"] = reply
    return data


def hand_over(request: SectionRequest) -> dict[str, Any]:
    """POST only: answer ``request.query``'s message and file its hand-over ticket when it needs a person;
    returns the reply (with ``ticket`` when one was filed)."""
    from ecom_tasks.assistant.answers import file_handover

    reply = section(request)["reply"]
    if reply is None:
        raise inputs.BadInput(ASK, "no message to hand over")
    return file_handover(request.root, reply)


def _filed(request: SectionRequest, reply: dict[str, Any]) -> dict[str, Any] | None:
    """The ticket named by ``?ticket=`` (the POST button's redirect), read, not written; only when it
    holds this very message and customer, so a link cannot show another customer's ticket."""
    from ecom_tasks.assistant.answers import TICKET_ID, ticket_uri

    ticket_id = request.query.get(TICKET) or ""
    if not reply["handover"] or not TICKET_ID.fullmatch(ticket_id):
        return None
    try:
        ticket = storage.read_json(ticket_uri(request.root, ticket_id))
    except FileNotFoundError:
        return None
    same = ticket.get("message") == reply["message"] and ticket.get("customer") == reply["customer"]
    return ticket if same else None


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * float(value):.1f} %"
