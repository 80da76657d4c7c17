"""MLflow's own model server answers for the retrieval and churn champions, with the bodies
publication writes (``serving_request.json``) and the formats README documents."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ecom_tasks import catalog
from ecom_tasks.publish import tracking
from tests.ops.services import free_port
from tests.publish.conftest import _new_root
from tests.publish.served import build_served_registry, invoke, readme_curl, request, serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(fast_tmp: Path, mlflow_template: Path) -> dict[str, str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.TRACKING_URI_ENV, raising=False)
        root = _new_root(fast_tmp, mlflow_template)
        return {"root": root, **build_served_registry(root)}


@pytest.fixture
def server(served, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    proc = serve(served["root"], request.param, port, tmp_path / "serve.log")
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("server", [catalog.RETRIEVAL], indirect=True)
def test_retrieval_a_users_history_in_top_10_items_out(served, server) -> None:
    body = request(served[catalog.RETRIEVAL])
    assert set(body["inputs"]) == {"user_id", "history", "user_features", "k"}
    published = invoke(server, body)
    assert published.status_code == 200  # the published body as it is
    # README's curl line, as written but for the port and the data root, gets the same answer.
    assert readme_curl(served["root"], served[catalog.RETRIEVAL], server) == published.json()
    assert published.json()["predictions"]["item_ids"][0]
    # A user's history (oldest first) in, ten items out: the walks step +1, so after i3, i4 comes i5.
    width = len(body["inputs"]["user_features"][0])
    query = {
        "inputs": {"user_id": ["u1"], "history": [["i3", "i4"]], "user_features": [[0.0] * width], "k": 10}
    }
    answer = invoke(server, query)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions["item_ids"][0]) == 10 and len(set(predictions["item_ids"][0])) == 10
    assert all(item.startswith("i") for item in predictions["item_ids"][0])
    scores = predictions["scores"][0]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("server", [catalog.CHURN], indirect=True)
def test_churn_a_table_of_features_in_one_probability_per_customer_out(served, server) -> None:
    body = request(served[catalog.CHURN])
    assert body == {"dataframe_split": {"columns": ["recency_days", "frequency"], "data": [[0.0, 0.0]]}}
    rows = {"dataframe_split": {"columns": ["recency_days", "frequency"], "data": [[40.0, 1.0], [2.0, 9.0]]}}
    answer = invoke(server, rows)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == 2 and all(0.0 <= p <= 1.0 for p in predictions)
    assert invoke(server, {"dataframe_split": {"columns": ["frequency"], "data": [[1.0]]}}).status_code >= 400
