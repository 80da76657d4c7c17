"""Model stages' own sections on the UI page (a forecast's product explorer, a day's anomalies).

A stage with more to show than its gate decisions and champion names a section function in its
registry entry (``ModelStage.ui = "module:function"``)::

    def section(request: SectionRequest) -> dict

It returns the section's data, JSON-safe: the same dict answers ``/ecom/api/stages/<name>``. The
page renders it with ``plugins/ecom_ui/templates/stages/<name>.html`` (the section's data is
``s``), or, for a stage without a template of its own (one registered from outside the package),
with ``stages/generic.html``, which shows ``s.tables`` (each ``{"caption", "columns", "rows"}``)
and ``s.text`` (a list of paragraphs). Query values the section reads come from the page's URL
(``?item=...``): a malformed one raises :class:`~ecom_tasks.ui.inputs.BadInput`, an unknown one
:class:`~ecom_tasks.ui.inputs.NotFound`; the section then shows the message and the rest of the
page still renders.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecom_tasks.ui import inputs
from ecom_tasks.ui.config import UIConfig

log = logging.getLogger(__name__)

GENERIC_TEMPLATE = "stages/generic.html"


@dataclass(frozen=True)
class SectionRequest:
    """What a section function gets: the data root, the day shown, the page's query, the cache."""

    root: str
    day: dt.date | None
    query: Mapping[str, str]
    cache: Any
    config: UIConfig


def section_stages() -> list[Any]:
    """The registered model stages that have a section of their own, in registry order."""
    from ecom_tasks import stages

    return [s for s in stages.registered() if s.ui]


def build(stage: Any, request: SectionRequest) -> dict[str, Any]:
    """One stage's section data (raises BadInput / NotFound for the caller to report)."""
    data = stage.ui_function()(request)
    if not isinstance(data, dict):
        raise TypeError(f"ModelStage({stage.name}).ui returned {type(data).__name__}, expected dict")
    return data


def page_sections(request: SectionRequest, templates: set[str]) -> tuple[list[dict[str, Any]], int]:
    """Every stage section for the page and the page's status (422 when a query was malformed).

    Args:
        templates: the template names the page's environment has (to pick a stage's own one).
    """
    status, out = 200, []
    for stage in section_stages():
        own = f"stages/{stage.name}.html"
        entry: dict[str, Any] = {
            "name": stage.name,
            "title": stage.title,
            "template": own if own in templates else GENERIC_TEMPLATE,
            "data": None,
            "note": None,
            "error": None,
        }
        try:
            entry["data"] = build(stage, request)
        except inputs.BadInput as exc:
            status, entry["error"] = 422, str(exc)
        except inputs.NotFound as exc:  # nothing published yet, or an unknown item: a note
            entry["note"] = str(exc)
        out.append(entry)
    return out, status
