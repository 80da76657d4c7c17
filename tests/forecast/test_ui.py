"""The product explorer on the UI page: the published forecast of one item, its plan and elasticity."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ecom_tasks import stages
from ecom_tasks.publish.outputs import move_pointer, read_current
from tests.forecast.conftest import DS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))  # as Airflow (and tests/plugins) do


@pytest.fixture
def published(trained: dict, data_root: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{data_root}/mlflow.db")
    move_pointer(data_root, stages.get("forecast").publication, "1", DS, require_outputs=True)
    return data_root


def _client(root: str):
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app(root, auth=False), raise_server_exceptions=False)


def test_the_explorer_shows_an_items_history_forecast_plan_and_elasticity(published: str) -> None:
    with _client(published) as client:
        page = client.get("/", params={"item": "i03"})
        assert page.status_code == 200, page.text[:2000]
        section = page.text.split('<section id="stage-forecast">', 1)[1].split("</section>", 1)[0]
        assert 'data-item="i03"' in section and "<svg" in section and "<script" not in section
        assert "Item i03: daily units sold and forecast" in section
        assert "order-up-to level (units)" in section and "no stock supplied" in section
        # the chart and the total show the expected demand (the mean the plan uses) beside the median day
        assert "expected demand (mean)" in section and "median day (p50)" in section
        assert "Price elasticity (its category)" in section
        data = client.get("/api/stages/forecast", params={"item": "i03"}).json()
        assert data["item"] == "i03" and len(data["plan"]) == 5 and data["horizon"] == 14
        forecast = read_current(published, "demand_forecast")
        assert data["forecast_total"] == pytest.approx(forecast[forecast["item_id"] == "i03"]["mean"].sum())


def test_with_stock_the_explorer_shows_the_order_and_the_days_of_cover(
    trained: dict, data_root: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from ecom_tasks.forecast.stage import train_forecast
    from tests.forecast.conftest import CONFIG

    day = tmp_path / "landing" / f"ds={DS}"
    day.mkdir(parents=True)
    (day / "stock.csv").write_text("item_id,on_hand,on_order\ni03,2,1\n")
    train_forecast(data_root, DS, dataclasses.replace(CONFIG, stock_folder=str(tmp_path / "landing")))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{data_root}/mlflow.db")
    move_pointer(data_root, stages.get("forecast").publication, "1", DS, require_outputs=True)
    with _client(data_root) as client:
        data = client.get("/api/stages/forecast", params={"item": "i03"}).json()
        plan = dict(data["plan"])
        assert plan["on hand (units)"] == 2.0 and plan["on order (units)"] == 1.0
        assert plan["suggested order today (units)"] == pytest.approx(
            max(plan["order-up-to level (units)"] - 3.0, 0.0)
        )
        assert "stock from the landing folder" in data["plan_note"]
        other = client.get("/api/stages/forecast", params={"item": "i04"}).json()
        assert (
            "not in the stock file" in other["plan_note"] and dict(other["plan"])["on hand (units)"] is None
        )


def test_an_unknown_or_malformed_item_is_a_note_or_an_error_and_the_page_renders(published: str) -> None:
    with _client(published) as client:
        page = client.get("/", params={"item": "nope"})
        assert page.status_code == 200 and "that item has no published forecast" in page.text
        page = client.get("/", params={"item": "<b>"})
        assert page.status_code == 422 and "item: an item id consists of" in page.text
        assert "<b>" not in page.text


def test_without_an_item_it_offers_the_items_with_most_expected_demand(published: str) -> None:
    with _client(published) as client:
        data = client.get("/api/stages/forecast").json()
        assert len(data["items"]) == 12 and data["item"] is None
