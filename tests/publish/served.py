"""A registry with a retrieval champion (a tiny two-tower SavedModel trained on the retrieval tests'
walks) and a churn champion (a pickled baseline), published by the real gate and publish stages:
what ``mlflow models serve`` is tested and benchmarked against. About half a minute to build.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from ecom_tasks import catalog, stages, storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.features import columns as fc
from ecom_tasks.publish import stage, tracking
from ecom_tasks.publish.config import PublishConfig
from ecom_tasks.publish.gate import GateConfig
from ecom_tasks.retrieval.config import (
    FEATURES_STAGE,
    INTERACTIONS_TABLE,
    ITEM_FEATURES_TABLE,
    USER_FEATURES_TABLE,
)
from ecom_tasks.retrieval.stage import pretrain_retrieval
from tests.publish.candidates import churn_candidate
from tests.retrieval.conftest import catalogue, tiny_config, walks

DS = "2024-03-04"  # the walks end on this day
LOOPBACK = "127.0.0.1"
# Serve whatever the tiny model learned: the retrieval gate's floors and baselines are not the subject.
_RETRIEVAL = dataclasses.replace(stages.get(catalog.RETRIEVAL).gate, thresholds=(), compare=(), baselines=())
CONFIG = PublishConfig(
    gate=GateConfig(
        models=tuple(_RETRIEVAL if g.model == catalog.RETRIEVAL else g for g in GateConfig().models)
    )
)


def build_served_registry(root: str) -> dict[str, str]:
    """Train, gate and publish both champions into ``root``; return their model folders."""
    items = catalogue()
    items[fc.TITLE_TOKENS] = items["title"].str.lower().str.replace(r"[\W_]+", " ", regex=True).str.strip()
    profiles = pd.DataFrame({USER_ID: [f"u{i}" for i in range(48)], fc.RECENCY_DAYS: np.arange(48.0)})
    for table, frame, day in (
        (INTERACTIONS_TABLE, walks(), DS),
        (ITEM_FEATURES_TABLE, items, DS),
        (USER_FEATURES_TABLE, profiles, "2024-03-03"),
    ):
        storage.write_partition(frame, storage.partition_uri(root, FEATURES_STAGE, table, day), source="test")
    pretrain_retrieval(root, DS, tiny_config(negatives="sampled", num_sampled=16, max_epochs=2))
    churn_candidate(root, DS)
    folders = {}
    for model in (catalog.RETRIEVAL, catalog.CHURN):
        assert stage.gate_model(root, DS, model, CONFIG)["blessed"], model
        assert stage.publish_model(root, DS, model, CONFIG)["promoted"], model
        folders[model] = storage.partition_uri(root, catalog.MODELS, model, DS)
    return folders


def request(folder: str) -> dict:
    """The ``serving_request.json`` publication wrote into a model folder."""
    return json.loads(Path(folder, catalog.SERVING_REQUEST_FILE).read_text())


def readme_serve_command(model: str, port: int) -> list[str]:
    """README's ``mlflow models serve`` command with ``model``'s alias and ``port`` in place."""
    from tests import readme

    argv = list(next(c.argv for c in readme.commands() if c.argv[:3] == ("mlflow", "models", "serve")))
    assert (
        argv[argv.index("-m") + 1] == "models:/ecom_retrieval@champion"
        and argv[argv.index("-h") + 1] == LOOPBACK
    )
    argv[argv.index("-m") + 1] = f"models:/ecom_{model}@champion"
    argv[argv.index("-p") + 1] = str(port)
    return argv


def serve(root: str, model: str, port: int, log: Path) -> subprocess.Popen:
    """Start ``mlflow models serve`` on the champion of ``model`` (loopback); wait until it answers /ping."""
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    env = {**os.environ, tracking.TRACKING_URI_ENV: tracking.tracking_uri(root), "TF_USE_LEGACY_KERAS": "1"}
    # README's command as written, on this model and a free port (one worker for the tests).
    args = [mlflow, *readme_serve_command(model, port)[1:], "-w", "1"]
    proc = subprocess.Popen(args, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"mlflow models serve exited with {proc.returncode}: {log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"http://{LOOPBACK}:{port}/ping", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"mlflow models serve did not answer within 180 s: {log.read_text()[-3000:]}")


def readme_curl(root: str, model_folder: str, port: int) -> dict:
    """README's ``curl ... -d @data/models/retrieval/ds=D/serving_request.json`` as written, on ``port`` and
    with ``data`` (the default data root, README's commands run in the project) standing for ``root``;
    returns the JSON answer."""
    from tests import readme

    (argv,) = [list(c.argv) for c in readme.commands() if c.argv[:1] == ("curl",)]
    url = argv.index(f"http://{LOOPBACK}:5001/invocations")  # the README server's address
    argv[url] = argv[url].replace(":5001/", f":{port}/")
    body = argv.index("-d") + 1
    assert argv[body].startswith("@data/"), argv
    readme_file = Path(root) / argv[body].removeprefix("@data/")
    # README's path is a published model folder's request: the same place under this root (another day).
    assert (
        readme_file.parent.parent == Path(model_folder).parent
        and readme_file.name == catalog.SERVING_REQUEST_FILE
    )
    argv[body] = f"@{Path(model_folder) / catalog.SERVING_REQUEST_FILE}"
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def invoke(port: int, body: dict) -> httpx.Response:
    return httpx.post(f"http://{LOOPBACK}:{port}/invocations", json=body, timeout=60)
