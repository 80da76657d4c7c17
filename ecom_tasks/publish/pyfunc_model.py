"""An MLflow pyfunc wrapper around a model artifact: logged as "models from code".

MLflow copies this file into every logged model and runs it when the model is loaded, so it is
self-contained: it imports nothing from ``ecom_tasks``, and TensorFlow only for the ``tensorflow``
flavor. The artifact is ``context.artifacts["model"]``; ``model_config`` says how to open it:

- ``tensorflow``: a SavedModel directory; ``predict`` feeds the named signature (default
  ``serving_default``) from a DataFrame (one column per input; list cells for vector inputs) or a
  dict of arrays, and returns a dict of NumPy arrays (strings decoded);
- ``pickle``: a pickled or joblib model file (or a directory holding ``model.pkl``); ``predict``
  returns the positive-class probability where the model has ``predict_proba``;
- ``callable``: ``loader`` (``"module:function"``) opens the artifact into an object with ``predict``.

``smoke_input()`` builds a minimal query from the model itself (signature, ``feature_names_in_``),
which the publisher's serving check sends through ``predict`` the way a consumer would.
"""

from __future__ import annotations

import importlib
import os
import pickle
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


def _open_pickle(path: str) -> Any:
    if os.path.isdir(path):
        path = os.path.join(path, "model.pkl")
    if path.endswith(".joblib"):
        import joblib

        return joblib.load(path)
    with open(path, "rb") as fh:
        return pickle.load(fh)


def _tf_value(spec: Any, model_input: Any, name: str) -> Any:
    import tensorflow as tf

    if isinstance(model_input, pd.DataFrame):
        if name not in model_input.columns:
            raise KeyError(f"input {name!r} of the SavedModel signature is missing from the query")
        column = model_input[name]
        rank = spec.shape.rank
        value = (
            column.iloc[0]
            if rank == 0
            else np.stack(column.to_list())
            if rank and rank > 1
            else column.to_numpy()
        )
    else:
        if name not in model_input:
            raise KeyError(f"input {name!r} of the SavedModel signature is missing from the query")
        value = model_input[name]
    if spec.dtype == tf.string:
        value = np.asarray(value, dtype=object)
    return tf.constant(value, dtype=spec.dtype)


def _decode(value: Any) -> Any:
    array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
    if array.dtype == object:
        return np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b, otypes=[object])(array)
    return array


class ArtifactModel(PythonModel):
    """Serves one artifact (see the module docstring for the flavors)."""

    def load_context(self, context: Any) -> None:
        self.config = dict(context.model_config or {})
        self.flavor = self.config.get("flavor", "pickle")
        path = context.artifacts["model"]
        if self.flavor == "tensorflow":
            os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # TFRS 0.7.7 needs tf-keras
            import tensorflow as tf

            self.model = tf.saved_model.load(path)
            self.signature = self.model.signatures[self.config.get("signature", "serving_default")]
        elif self.flavor == "pickle":
            self.model = _open_pickle(path)
        elif self.flavor == "callable":
            module, _, func = str(self.config["loader"]).partition(":")
            self.model = getattr(importlib.import_module(module), func)(path)
        else:
            raise ValueError(f"unknown flavor {self.flavor!r}")

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> Any:
        if self.flavor == "tensorflow":
            specs = self.signature.structured_input_signature[1]
            feeds = {name: _tf_value(spec, model_input, name) for name, spec in specs.items()}
            return {k: _decode(v) for k, v in self.signature(**feeds).items()}
        if self.flavor == "pickle":
            frame = pd.DataFrame(model_input) if isinstance(model_input, dict) else model_input
            names = getattr(self.model, "feature_names_in_", None)
            if names is not None and isinstance(frame, pd.DataFrame):
                frame = frame[list(names)]
            if hasattr(self.model, "predict_proba"):
                proba = np.asarray(self.model.predict_proba(frame))
                return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba
            return self.model.predict(frame)
        if hasattr(self.model, "predict"):
            return self.model.predict(model_input)
        return self.model(model_input)

    def smoke_input(self) -> Any:
        """A one-row query built from the model itself, or None when it does not say its inputs."""
        if self.flavor == "tensorflow":
            import tensorflow as tf

            out = {}
            for name, spec in self.signature.structured_input_signature[1].items():
                shape = [
                    1 if d is None else d
                    for d in (spec.shape.as_list() if spec.shape.rank is not None else [1])
                ]
                if spec.dtype == tf.string:
                    out[name] = np.full(shape, "", dtype=object)
                elif spec.dtype.is_integer:
                    out[name] = np.ones(shape, dtype=spec.dtype.as_numpy_dtype)  # k=1 asks for one answer
                else:
                    out[name] = np.zeros(shape, dtype=spec.dtype.as_numpy_dtype)
            return out
        if self.flavor == "pickle":
            names = getattr(self.model, "feature_names_in_", None)
            if names is not None:
                return pd.DataFrame([[0.0] * len(names)], columns=list(names))
            width = getattr(self.model, "n_features_in_", None)
            return None if width is None else np.zeros((1, int(width)))
        build = getattr(self.model, "smoke_input", None)
        return build() if callable(build) else None


mlflow.models.set_model(ArtifactModel())
