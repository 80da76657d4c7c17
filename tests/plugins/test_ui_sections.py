"""Model stages' own sections on the page (``ModelStage.ui``), through the toy stage registered
from outside the package: shown with the generic template, fed by the page's query string,
answered as JSON, and a bad query value reported in the section while the page still renders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import stages
from ecom_tasks.publish.outputs import move_pointer, write_output
from tests.toy_stage.entry import NAME, OUTPUT_TABLE, STAGE

DS = "2024-01-21"


@pytest.fixture
def toy_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(stages.ENV, "tests.toy_stage.entry:STAGE")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    return str(tmp_path)


def _client(root: str):
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    return TestClient(create_app(root, auth=False), raise_server_exceptions=False)


def _publish(root: str) -> None:
    frame = pd.DataFrame(
        {"user_id": [f"u{i}" for i in range(8)], "predicted_spend": [float(i) for i in range(8)]}
    )
    write_output(root, OUTPUT_TABLE, DS, frame, source="test")
    move_pointer(root, STAGE.publication, "1", DS, require_outputs=True)


def test_a_stage_section_follows_the_query_and_answers_as_json(toy_root: str) -> None:
    _publish(toy_root)
    with _client(toy_root) as client:
        page = client.get("/", params={"basket_top": "2"})
        assert page.status_code == 200, page.text[:2000]
        assert f'<section id="stage-{NAME}">' in page.text and "Basket value (toy)" in page.text
        assert "The 2 customers with the highest predicted spend (GBP)." in page.text
        assert "<td>u7</td>" in page.text and "<td>u5</td>" not in page.text
        data = client.get(f"/api/stages/{NAME}", params={"basket_top": "3"}).json()
        assert [r[0] for r in data["tables"][0]["rows"]] == ["u7", "u6", "u5"]
        assert client.get("/api/stages/no_such_model").status_code == 404


def test_a_bad_query_value_is_reported_in_its_section_and_the_page_still_renders(toy_root: str) -> None:
    _publish(toy_root)
    with _client(toy_root) as client:
        page = client.get("/", params={"basket_top": "<b>"})
        assert page.status_code == 422
        assert "basket_top: expected a whole number from 1 to 50" in page.text
        assert "<b>" not in page.text and 'id="models"' in page.text
        assert client.get(f"/api/stages/{NAME}", params={"basket_top": "0"}).status_code == 422


def test_nothing_published_yet_is_a_note_not_an_error(toy_root: str) -> None:
    with _client(toy_root) as client:
        page = client.get("/")
        assert page.status_code == 200, page.text[:2000]
        assert "no basket-value predictions are published yet" in page.text
