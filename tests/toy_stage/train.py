"""The toy stage's train function: spend per customer from the order count, against the mean.

Follows the registry's contract (``ecom_tasks.stages``): ``train(root, ds, config, champion_uri)``
writes the artifact, ``metrics.json`` (candidate and ``mean_`` baseline), the champion's figures on
the same test customers and an output table into the data root, and returns a small dict.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.features.columns import FREQUENCY, MONETARY
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation
from ecom_tasks.publish.outputs import write_output
from tests.toy_stage.entry import NAME, OUTPUT_TABLE

WEIGHTS = "weights.json"


@dataclass(frozen=True)
class ToyConfig:
    test_share: float = 0.3
    seed: int = 42

    @classmethod
    def from_run(cls, run: Any) -> ToyConfig:
        return cls(seed=run.seed)


class LinearSpend:
    def __init__(self, slope: float, intercept: float) -> None:
        self.slope, self.intercept = slope, intercept

    def predict(self, model_input: Any) -> np.ndarray:
        frame = pd.DataFrame(model_input)
        return self.intercept + self.slope * frame[FREQUENCY].to_numpy(dtype=float)


def load(path: str) -> LinearSpend:
    raw = storage.read_json(f"{path}/{WEIGHTS}")
    return LinearSpend(raw["slope"], raw["intercept"])


def _metrics(y: np.ndarray, predicted: np.ndarray, prefix: str = "") -> dict[str, float]:
    residual = float(np.sum((y - predicted) ** 2))
    total = float(np.sum((y - y.mean()) ** 2)) or 1.0
    return {
        f"{prefix}{NAME}_mae": float(np.mean(np.abs(y - predicted))),
        f"{prefix}{NAME}_r2": 1.0 - residual / total,
    }


def train(root: str, ds: str, config: ToyConfig, champion_uri: str | None) -> dict:
    profiles = storage.read_partition(
        storage.partition_uri(root, catalog.FEATURES, catalog.CUSTOMER_PROFILES, ds)
    )
    profiles = profiles.dropna(subset=[FREQUENCY, MONETARY])
    users = profiles[USER_ID].astype(str)
    test = np.array(
        [zlib.crc32(f"{config.seed}:{u}".encode()) % 1000 < config.test_share * 1000 for u in users]
    )
    x, y = profiles[FREQUENCY].to_numpy(float), profiles[MONETARY].to_numpy(float)
    slope, intercept = np.polyfit(x[~test], y[~test], 1)
    model = LinearSpend(float(slope), float(intercept))
    metrics = _metrics(y[test], model.predict({FREQUENCY: x[test]}))
    metrics |= _metrics(y[test], np.full(int(test.sum()), y[~test].mean()), prefix="mean_")

    out = storage.partition_uri(root, catalog.MODELS, NAME, ds)
    # Through storage, as every write under the data root: it may be an object store.
    storage.write_json({"slope": model.slope, "intercept": model.intercept}, f"{out}/model/{WEIGHTS}")
    storage.write_json(metrics, f"{out}/{catalog.METRICS_FILE}")
    storage.write_json({FREQUENCY: [1.0, 2.0]}, f"{out}/{catalog.SMOKE_INPUT_FILE}")

    errors = {
        f"{NAME}_mae": np.abs(y[test] - model.predict({FREQUENCY: x[test]})),
        f"mean_{NAME}_mae": np.abs(y[test] - y[~test].mean()),
    }

    def score(uri: str) -> dict[str, float]:
        predicted = load(f"{uri}/model").predict({FREQUENCY: x[test]})
        errors[f"champion_{NAME}_mae"] = np.abs(y[test] - predicted)
        return _metrics(y[test], predicted)

    champions.record(out, champions.evaluate(champion_uri, score))
    evaluation.write(out, pd.DataFrame(errors))  # per customer: the gate's paired bootstrap
    frame = pd.DataFrame({USER_ID: users.to_numpy(), "predicted_spend": model.predict({FREQUENCY: x})})
    table = write_output(root, OUTPUT_TABLE, ds, frame, source=f"toy.{NAME}")
    return {"ds": ds, "model_uri": out, "output_uri": table, **metrics}
