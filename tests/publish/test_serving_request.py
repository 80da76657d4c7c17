"""``serving_request.json``: the /invocations body of each kind of query, written at publication."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ecom_tasks import catalog
from ecom_tasks.publish import serving, stage
from tests.publish.candidates import CHURN, CONFIG, churn_candidate


def test_bodies_of_a_table_named_tensors_and_an_array() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 3.0]})
    assert serving.request_body(frame) == {
        "dataframe_split": {"columns": ["a", "b"], "data": [[1.0, 0.0], [2.0, 3.0]]}
    }
    tensors = {"user_id": np.array([b"u1"], dtype=object), "history": np.full((1, 2), "", dtype=object),
               "k": np.int32(10)}  # fmt: skip
    assert serving.request_body(tensors) == {"inputs": {"user_id": ["u1"], "history": [["", ""]], "k": 10}}
    assert serving.request_body(np.zeros((1, 2))) == {"inputs": [[0.0, 0.0]]}


def test_publication_writes_the_query_the_champion_answered(pub_root: str) -> None:
    folder = churn_candidate(pub_root, "2024-03-02")
    assert stage.gate_model(pub_root, "2024-03-02", CHURN, CONFIG)["blessed"]
    stage.publish_model(pub_root, "2024-03-02", CHURN, CONFIG)
    body = json.loads(Path(folder, catalog.SERVING_REQUEST_FILE).read_text())
    assert body == {"dataframe_split": {"columns": ["recency_days", "frequency"], "data": [[0.0, 0.0]]}}
