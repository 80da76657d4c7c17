"""The answers log: one JSON line per message the assistant answered for a customer, for monitoring.

``{root}/handover/answers/<YYYY-MM-DD>.jsonl`` (the UTC day of the answer), one line per answer:
``{"time", "customer", "intent", "intent_guess", "confidence", "handover", "reason"}``: what the
nightly monitor needs for the hand-over rate (:mod:`ecom_tasks.monitoring.handover`). The message
text is not kept here (the hand-over ticket keeps it when a person needs it).

Only answers that act are logged (``answer(..., file_ticket=True)``: the ``ecom ask`` command and
any service calling it); the page's GET preview (``file_ticket=False``) writes nothing, as a GET
must not.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from ecom_tasks import catalog, remote, storage

log = logging.getLogger(__name__)


def log_uri(root: str, day: str | dt.date) -> str:
    """``{root}/handover/answers/<day>.jsonl``."""
    return f"{storage.data_root(root)}/{catalog.HANDOVER}/{catalog.ANSWERS}/{storage.as_date(day)}.jsonl"


def record(root: str | None, reply: dict[str, Any], now: dt.datetime | None = None) -> None:
    """Append the outcome of ``reply`` (an ``answer`` dict) to the log of its day."""
    now = now or dt.datetime.now(dt.UTC)  # serving, not a nightly task: the answer's own time
    line = {
        "time": now.isoformat(timespec="seconds"),
        "customer": reply.get("customer"),
        "intent": reply.get("intent"),
        "intent_guess": reply.get("intent_guess"),
        "confidence": reply.get("confidence"),
        "handover": bool(reply.get("handover")),
        "reason": reply.get("handover_reason"),
    }
    remote.append_line(log_uri(storage.data_root(root), now.date()), json.dumps(line, sort_keys=True))


def read(root: str, day: str | dt.date) -> list[dict[str, Any]]:
    """The answers logged on ``day`` (empty when none); a line that is not JSON is skipped, logged."""
    body = remote.read_uri(log_uri(root, day))
    if body is None:
        return []
    rows = []
    for number, line in enumerate(body.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            log.warning("%s line %d: not JSON, skipped", log_uri(root, day), number)
    return rows


def logged(answer: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Wrap ``answer`` so each answer that acts (``file_ticket`` true, the default) is logged."""

    @functools.wraps(answer)
    def wrapper(*args: Any, **kwargs: Any) -> dict[str, Any]:
        reply = answer(*args, **kwargs)
        if kwargs.get("file_ticket", True) and reply.get("message"):
            record(kwargs.get("root"), reply)
        return reply

    return wrapper
