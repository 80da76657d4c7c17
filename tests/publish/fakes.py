"""A tiny directory artifact opened by a loader (the ``callable`` flavor), standing in for a
SavedModel directory in tests that must not import TensorFlow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

WEIGHTS = "weights.json"


class FakeModel:
    """Scores ``x`` by a fixed scale."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def predict(self, model_input: dict) -> np.ndarray:
        return np.asarray(model_input["x"], dtype=float) * self.scale

    def smoke_input(self) -> dict:
        return {"x": [1.0, 2.0]}


def save_fake(folder: Path, scale: float = 2.0, *, corrupt: bool = False) -> Path:
    """Write the fake artifact directory (``corrupt``: a weights file that is not JSON)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / WEIGHTS).write_text("{not json" if corrupt else json.dumps({"scale": scale}))
    return folder


def load_fake(path: str) -> FakeModel:
    """The loader named in the ``ModelSpec`` (``tests.publish.fakes:load_fake``)."""
    return FakeModel(float(json.loads((Path(path) / WEIGHTS).read_text())["scale"]))
