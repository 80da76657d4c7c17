"""Realized WAPE by horizon and the hand-over rate on tiny hand-computed inputs; the answers log."""

from __future__ import annotations

import ast
import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks.assistant import answer_log, answers
from ecom_tasks.errors import ConfigError
from ecom_tasks.monitoring import forecast_realized as fr
from ecom_tasks.monitoring import handover
from ecom_tasks.monitoring.config import MonitorConfig


def _rows(items: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["item_id", "p50", "p10", "p90"])


def test_wape_by_horizon_bucket_and_coverage() -> None:
    forecasts = [
        (1, _rows([("a", 2, 1, 3), ("b", 1, 0, 2)])),  # errors 1 (a sold 3), 1 (b sold 0)
        (9, _rows([("a", 4, 2, 5), ("b", 0, 0, 1)])),  # errors 1, 0
        (20, _rows([("a", 1, 0, 2)])),  # error 2, 3 outside [0, 2]
    ]
    actual = pd.Series({"a": 3.0, "c": 2.0})  # c: sold, forecast by nobody
    judged = fr.judged_rows(forecasts, actual)
    assert judged["actual"].tolist() == [3, 0, 3, 0, 3]
    out = fr.figures(judged, (7, 14, 28))
    assert out["wape"] == pytest.approx(5 / 9)
    assert out["wape_days_1_7"] == pytest.approx(2 / 3)
    assert out["wape_days_8_14"] == pytest.approx(1 / 3)
    assert out["wape_days_15_28"] == pytest.approx(2 / 3)
    assert out["coverage_80"] == pytest.approx(0.8) and out["coverage_80_gap"] == pytest.approx(0.0)
    assert out["item_days"] == 5 and out["actual_units"] == 9


def test_a_bucket_without_sales_has_no_wape() -> None:
    judged = fr.judged_rows([(3, _rows([("a", 1, 0, 2)]))], pd.Series({"a": 0.0}))
    out = fr.figures(judged, (7, 14))
    assert math.isnan(out["wape"]) and math.isnan(out["wape_days_8_14"]) and out["coverage_80"] == 1.0
    assert [c for c, _, _ in fr.bucket_columns((7, 14))] == ["wape_days_1_7", "wape_days_8_14"]


def test_bad_buckets_and_bounds_are_refused() -> None:
    with pytest.raises(ConfigError, match="forecast_buckets"):
        MonitorConfig(forecast_buckets=(14, 7))
    with pytest.raises(ConfigError, match="handover_bound"):
        MonitorConfig(handover_bound=1.5)


def _answer(reason: str | None) -> dict:
    return {"handover": reason is not None, "reason": reason}


def test_hand_over_rate_by_reason() -> None:
    person = ["the customer asks for a person", "complaints are handled by a person"]
    reasons = [None, None, "out of scope", *person]
    logged = [_answer(r) for r in reasons]
    out = handover.figures(logged)
    assert out["messages"] == 5 and out["handed_over"] == 3 and out["handover_rate"] == pytest.approx(0.6)
    assert out["handover_out_of_scope_rate"] == pytest.approx(0.2)
    assert out["handover_human_asked_rate"] == pytest.approx(0.4)
    assert out["handover_low_confidence_rate"] == 0 and out["handover_other_rate"] == 0
    assert handover.figures([_answer("a reason nobody knows")])["handover_other_rate"] == 1.0
    assert handover.breach(out, 0.6) == []
    (text,) = handover.breach(out, 0.5)
    assert "messages handed over to a person: 60.0% above the configured bound 50.0%" in text
    assert "most: customer asked for a person, 40.0% of messages" in text
    assert math.isnan(handover.figures([])["handover_rate"])


def test_every_reason_the_assistant_hands_over_with_is_a_known_category() -> None:
    # The reason texts passed to _hand_over in answers.py (literals and the hand-over intents' texts).
    tree = ast.parse(Path(answers.__file__).read_text())
    texts = set(answers.HANDOVER_INTENTS.values())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_hand_over":
            texts |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        if isinstance(node, ast.IfExp) and isinstance(node.body, ast.Constant):  # "out of scope" if ... else
            texts |= {node.body.value, getattr(node.orelse, "value", None)} - {None}
    assert len(texts) >= 6
    assert {t: handover.category(t) for t in texts if handover.category(t) == handover.OTHER} == {}


def test_the_answers_log_keeps_only_answers_that_act(tmp_path) -> None:
    root = str(tmp_path)

    @answer_log.logged
    def fake(message: str, customer_id: str | None = None, *, root: str | None = None,
             file_ticket: bool = True) -> dict:  # fmt: skip
        return {"message": message, "customer": customer_id, "intent": None, "intent_guess": "oos",
                "confidence": 0.2, "handover": True, "handover_reason": "out of scope"}  # fmt: skip

    fake("where is my parcel", "u1", root=root)
    fake("a preview", "u1", root=root, file_ticket=False)  # the page's GET: never written
    fake("", root=root)  # nothing asked
    (line,) = answer_log.read(root, dt.datetime.now(dt.UTC).date())
    assert line["handover"] and line["reason"] == "out of scope" and line["customer"] == "u1"
    assert "message" not in line
    when = dt.datetime(2024, 1, 2, 9, tzinfo=dt.UTC)
    answer_log.record(root, {"handover": False}, now=when)
    with open(answer_log.log_uri(root, "2024-01-02"), "a") as fh:
        fh.write("not json\n")
    assert [r["handover"] for r in answer_log.read(root, "2024-01-02")] == [False]
    assert answer_log.read(root, "2024-01-03") == []
