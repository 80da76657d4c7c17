"""Validation of what a person types into the UI: customer ids and logical dates.

Messages describe what is wrong without echoing the input back, so nothing a visitor typed is
ever reflected into a page (no markup injection through an error message).
"""

from __future__ import annotations

import datetime as dt
import re

from ecom_tasks.ui.config import DEFAULT_UI, UIConfig

_DS = re.compile(r"\d{4}-\d{2}-\d{2}")
MAX_DS_LENGTH = 10


class BadInput(ValueError):  # noqa: N818 - mirrors HTTP's "bad request"
    """A parameter is malformed; ``param`` names it, the message says what is expected."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"{param}: {message}")


class NotFound(LookupError):  # noqa: N818 - mirrors HTTP's "not found"
    """Well-formed input that names nothing published (an unknown customer or day)."""


def customer_id(raw: str | None, config: UIConfig = DEFAULT_UI) -> str:
    """``raw`` stripped, if it is a well-formed customer id; :class:`BadInput` otherwise."""
    value = (raw or "").strip()
    if not value:
        raise BadInput("customer", "enter a customer id")
    if len(value) > config.max_id_length:
        raise BadInput("customer", f"a customer id has at most {config.max_id_length} characters")
    if not re.fullmatch(config.id_pattern, value):
        raise BadInput(
            "customer",
            "a customer id consists of letters, digits and . _ : @ - (starting with a letter or digit)",
        )
    return value


def logical_date(raw: str | None, param: str = "ds") -> dt.date:
    """A ``YYYY-MM-DD`` date; :class:`BadInput` naming ``param`` otherwise."""
    value = (raw or "").strip()
    if len(value) > MAX_DS_LENGTH or not _DS.fullmatch(value):
        raise BadInput(param, "expected a date in YYYY-MM-DD form")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadInput(param, "not a valid calendar date") from None
