"""The anomaly stage's UI section: the day's orders with reasons and links, metrics with their band."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from ecom_tasks import stages
from ecom_tasks.anomalies.ui import section
from ecom_tasks.publish.outputs import move_pointer
from ecom_tasks.ui import inputs
from ecom_tasks.ui.config import UIConfig
from ecom_tasks.ui.sections import SectionRequest
from tests.anomalies.conftest import DS
from tests.conftest import PROJECT_ROOT


def _request(root: str, day: dt.date | None) -> SectionRequest:
    return SectionRequest(root=root, day=day, query={}, cache=None, config=UIConfig())


def test_the_section_lists_the_days_orders_and_metrics(stage_run, shop_root):
    data = section(_request(shop_root, dt.date.fromisoformat(DS)))
    assert data["day"] == DS and 0 < len(data["orders"]) <= 10
    assert [o["rank"] for o in data["orders"]] == list(range(1, len(data["orders"]) + 1))
    known = [o for o in data["orders"] if o["customer"]]
    assert known and known[0]["link"] == f"?customer={known[0]['customer']}&ds={DS}#explorer"
    assert all(o["reasons"] and o["reasons"][0] for o in data["orders"])
    metrics = {(m["segment"], m["metric"]) for m in data["metrics"]}
    assert ("all", "revenue") in metrics and ("all", "anonymous share of orders") in metrics
    assert all(m["lower"] <= m["expected"] <= m["upper"] for m in data["metrics"])
    assert len(data["charts"]) == 2 and all(
        c.startswith("<svg") and "<script" not in c for c in data["charts"]
    )


def test_a_day_without_findings_is_a_note_not_an_error(stage_run, shop_root):
    with pytest.raises(inputs.NotFound, match="no anomalies were computed for ds=2023-01-01"):
        section(_request(shop_root, dt.date(2023, 1, 1)))


def test_the_page_renders_the_section_with_its_own_template(stage_run, shop_root, tmp_path, monkeypatch):
    sys.path.insert(0, str(PROJECT_ROOT / "plugins"))
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    move_pointer(shop_root, stages.get("anomalies").publication, "1", DS, require_outputs=True)
    with TestClient(create_app(shop_root, auth=False), raise_server_exceptions=False) as client:
        page = client.get("/", params={"ds": DS})
    text = page.text
    assert '<section id="stage-anomalies">' in text and 'id="anomaly-orders"' in text, text[:3000]
    assert f"ds={DS}#explorer" in text and 'id="anomaly-metrics"' in text and "<svg" in text
    assert Path(PROJECT_ROOT, "plugins/ecom_ui/templates/stages/anomalies.html").exists()
