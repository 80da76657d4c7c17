"""The anomaly stage in the shared nightly run: trained, gated and published with its findings."""

from __future__ import annotations

import json

import pytest

from ecom_tasks import catalog, storage
from ecom_tasks.anomalies import evaluate, inject
from ecom_tasks.anomalies.config import CANDIDATES
from ecom_tasks.publish import outputs

from .conftest import RUN_DS

pytestmark = pytest.mark.slow


def test_the_anomaly_stage_measured_every_detector_and_published_the_days_findings(nightly_run):
    env, proc = nightly_run
    root = str(env.data_root)
    assert "train_anomalies" in proc.stdout + proc.stderr
    folder = env.data_root / catalog.MODELS / catalog.ANOMALIES / f"ds={RUN_DS}"
    metrics = json.loads((folder / catalog.METRICS_FILE).read_text())
    for name in CANDIDATES:
        assert metrics[f"{name}_{evaluate.RECALL}"] is not None, name
    assert metrics["selected"] in CANDIDATES
    assert set(metrics) >= {f"recall_{t}" for t in inject.ORDER_TYPES}
    checks = {c["name"]: c for c in json.loads((folder / catalog.BLESSING_FILE).read_text())["checks"]}
    assert f"beats_baselines:{evaluate.RECALL}" in checks  # against the rules, per injected example
    pointer = outputs.read_pointer(root)
    for table in (catalog.ORDER_ANOMALIES, catalog.METRIC_ANOMALIES):
        assert pointer["tables"][table] == {
            **pointer["tables"][table],
            "ds": RUN_DS,
            "model": catalog.ANOMALIES,
        }
    found = storage.read_partition(outputs.output_uri(root, catalog.ORDER_ANOMALIES, RUN_DS))
    assert 0 < len(found) <= 10 and found["reasons"].str.len().min() > 0
    # At most one alert for the day, and only of the anomaly kind.
    alerts_file = env.data_root / catalog.ALERTS_FILE
    lines = alerts_file.read_text().splitlines() if alerts_file.exists() else []
    mine = [json.loads(line) for line in lines if json.loads(line).get("kind") == catalog.ANOMALIES]
    assert len(mine) <= 1 and all(a["ds"] == RUN_DS for a in mine)
