"""The assistant's published artifact: the selected intent model, its threshold, slots and templates.

The folder ``assistant/`` inside the model folder holds ``assistant.json`` (which model, its labels,
rejection threshold, n-gram hashing, slot gazetteer and answer templates), the model itself
(``weights.npz``: the network's arrays; or ``tfidf.pkl``: the scikit-learn baseline) and the licence
notices of the support data it was derived from (``NOTICE.md`` and the licence texts).
:func:`load` opens it; serving needs NumPy (and scikit-learn for the baseline), not TensorFlow.
"""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote
from ecom_tasks.assistant import features, metrics, network, slots
from ecom_tasks.assistant.config import OOS

SPEC_FILE = "assistant.json"
WEIGHTS_FILE = catalog.WEIGHTS_FILE
PIPELINE_FILE = "tfidf.pkl"
TEXT_COLUMN = "text"  # the serving input: a frame or mapping with the messages under "text"
MAX_CHARS = 2000  # longer messages are read up to here (a wall of text is not a question)


@dataclass
class Assistant:
    """A loaded assistant: intent probabilities, the decision with rejection, slots, templates."""

    spec: dict[str, Any]
    weights: dict[str, np.ndarray] | None = None
    pipeline: Any = None

    @property
    def labels(self) -> list[str]:
        return list(self.spec["labels"])

    @property
    def threshold(self) -> float:
        return float(self.spec["threshold"])

    @property
    def templates(self) -> dict[str, str]:
        return dict(self.spec["templates"])

    def probabilities(self, texts: list[str]) -> np.ndarray:
        texts = [t[:MAX_CHARS] for t in texts]
        if self.weights is not None:
            ids = features.id_matrix(texts, int(self.spec["buckets"]), int(self.spec["max_ids"]))
            return network.forward(self.weights, ids)
        order = [list(self.pipeline.classes_).index(label) for label in self.labels]
        return self.pipeline.predict_proba(texts)[:, order]

    def understand(self, text: str) -> dict[str, Any]:
        """Intent, confidence, whether rejected (out of scope or unsure), and slots of one message."""
        probs = self.probabilities([text])
        predicted, rejected = metrics.decide(probs, self.labels, self.threshold, OOS)
        best = int(probs[0].argmax())
        return {
            "intent": str(predicted[0]),
            "intent_guess": self.labels[best],
            "confidence": round(float(probs[0, best]), 4),
            "out_of_scope": bool(rejected[0]),
            "slots": [
                {"type": k, "value": v} for k, v in slots.extract(text[:MAX_CHARS], self.spec["gazetteer"])
            ],
        }

    def smoke_input(self) -> dict[str, list[str]]:
        """The query the publisher's serving check sends."""
        return {TEXT_COLUMN: ["where is my order"]}

    def predict(self, model_input: Any) -> np.ndarray:
        """The decided intent (``oos`` when rejected) of each message under ``text``."""
        texts = [str(t) for t in pd.DataFrame(model_input)[TEXT_COLUMN]]
        predicted, _ = metrics.decide(self.probabilities(texts), self.labels, self.threshold, OOS)
        return predicted.astype(str)


def save(folder: str, spec: dict[str, Any], artifact: Any, notices: dict[str, bytes]) -> str:
    """Write the assistant into ``folder`` (through :mod:`ecom_tasks.remote`); returns the folder."""
    if isinstance(artifact, dict):
        buffer = io.BytesIO()
        np.savez(buffer, **artifact)
        remote.write_uri(f"{folder}/{WEIGHTS_FILE}", buffer.getvalue())
    else:
        remote.write_uri(f"{folder}/{PIPELINE_FILE}", pickle.dumps(artifact))
    for name, data in notices.items():
        remote.write_uri(f"{folder}/{name}", data)
    remote.write_uri(f"{folder}/{SPEC_FILE}", json.dumps(spec, indent=1, sort_keys=True).encode())
    return folder


def load(path: str) -> Assistant:
    """The assistant saved at ``path`` (the ``assistant/`` folder)."""
    raw = remote.read_uri(f"{path}/{SPEC_FILE}")
    if raw is None:
        raise FileNotFoundError(f"{path}/{SPEC_FILE}: no assistant here")
    spec = json.loads(raw)
    weights_raw = remote.read_uri(f"{path}/{WEIGHTS_FILE}")
    if weights_raw is not None:
        with np.load(io.BytesIO(weights_raw)) as data:
            weights = {k: data[k] for k in network.WEIGHT_NAMES}
        return Assistant(spec, weights=weights)
    pipeline_raw = remote.read_uri(f"{path}/{PIPELINE_FILE}")
    if pipeline_raw is None:
        raise FileNotFoundError(f"{path}: neither {WEIGHTS_FILE} nor {PIPELINE_FILE}")
    return Assistant(spec, pipeline=pickle.loads(pipeline_raw))
