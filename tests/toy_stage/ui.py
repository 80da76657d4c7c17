"""The toy stage's own UI section: its published customers with the highest predicted spend."""

from __future__ import annotations

from typing import Any

from ecom_tasks.publish.outputs import read_current
from ecom_tasks.ui import inputs
from ecom_tasks.ui.sections import SectionRequest
from tests.toy_stage.entry import OUTPUT_TABLE

TOP_PARAM = "basket_top"


def section(request: SectionRequest) -> dict[str, Any]:
    raw = request.query.get(TOP_PARAM) or "5"
    if not raw.isdigit() or not 1 <= int(raw) <= 50:
        raise inputs.BadInput(TOP_PARAM, "expected a whole number from 1 to 50")
    try:
        frame = read_current(request.root, OUTPUT_TABLE)
    except FileNotFoundError:
        raise inputs.NotFound("no basket-value predictions are published yet") from None
    top = frame.nlargest(int(raw), "predicted_spend")
    pairs = zip(top.iloc[:, 0], top["predicted_spend"], strict=True)
    return {
        "text": [f"The {len(top)} customers with the highest predicted spend (GBP)."],
        "tables": [
            {
                "caption": "Predicted spend",
                "columns": ["customer", "predicted spend (GBP)"],
                "rows": [[str(u), float(v)] for u, v in pairs],
            }
        ],
    }
