"""The request body MLflow's model server takes for a published model: ``serving_request.json``.

``mlflow models serve -m models:/ecom_<model>@champion`` answers ``POST /invocations`` with a JSON
body in one of MLflow's input formats. The models this project registers (the pyfunc wrapper of
:mod:`ecom_tasks.publish.pyfunc_model`, no signature) take:

- a table (the pickled baselines: one column per feature, ``feature_names_in_``):
  ``{"dataframe_split": {"columns": [...], "data": [[...], ...]}}``;
- named tensors (the TensorFlow SavedModels: retrieval, the fine-tuned heads):
  ``{"inputs": {"user_id": [...], "history": [[...]], ...}}``, one entry per input of the served
  signature, batch first (``k``, a scalar, is a plain number).

Publication writes the body of the query the serving check just sent (the candidate's
``smoke_input.json``, or the one derived from the model's signature) into the model folder, so a
consumer has a request the champion is known to answer. The server answers
``{"predictions": ...}``: a list (one probability per row) or, for named outputs, an object of
lists (``{"item_ids": [[...]], "scores": [[...]]}``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, storage

REQUEST_FILE = catalog.SERVING_REQUEST_FILE


def _plain(value: Any) -> Any:
    array = np.asarray(value)
    if array.dtype == object:
        array = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v, otypes=[object])(array)
    return array.tolist()


def request_body(query: Any) -> dict[str, Any]:
    """The ``/invocations`` body that carries ``query`` (a DataFrame, a dict of arrays, an array)."""
    if isinstance(query, pd.DataFrame):
        split = query.to_dict(orient="split")
        return {"dataframe_split": {"columns": list(split["columns"]), "data": split["data"]}}
    if isinstance(query, dict):
        return {"inputs": {str(k): _plain(v) for k, v in query.items()}}
    return {"inputs": _plain(query)}


def write_request(folder: str, query: Any) -> str:
    """Write ``serving_request.json`` for ``query`` into the model ``folder``; returns its URI."""
    return storage.write_json(request_body(query), f"{folder}/{REQUEST_FILE}")
