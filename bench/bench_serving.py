"""Latency of MLflow's model server (``mlflow models serve``) on the retrieval and churn champions.

Builds a registry with the serving test's champions (tests/publish/served.py: a tiny two-tower
SavedModel, 12 items, and a pickled churn baseline), starts one server per champion on loopback
(``--env-manager local``, one worker) and sends sequential ``POST /invocations`` requests, in the
formats README documents:

- retrieval: one user's history in, top 10 items out;
- churn: one customer's features in, one probability out; and a batch of 100 customers.

Prints p50 / p95 / mean in milliseconds per request (client-side: HTTP, JSON, the pyfunc wrapper and
the model), after ``--warmup`` requests. Nothing is asserted.

Usage: python bench/bench_serving.py [--requests 300] [--warmup 20] [--root DIR]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from ecom_tasks import catalog  # noqa: E402
from tests.ops.services import free_port  # noqa: E402
from tests.publish.served import build_served_registry, invoke, request, serve  # noqa: E402

log = logging.getLogger("bench_serving")


def _time(port: int, body: dict, n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        assert invoke(port, body).status_code == 200
    out = []
    for _ in range(n):
        started = time.perf_counter()
        response = invoke(port, body)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return out


def _report(name: str, ms: list[float]) -> None:
    q = statistics.quantiles(ms, n=100)
    mean = statistics.fmean(ms)
    print(f"{name:32s} p50 {q[49]:7.1f} ms   p95 {q[94]:7.1f} ms   mean {mean:7.1f} ms   n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--root", default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    root = args.root or tempfile.mkdtemp(prefix="bench-serving-")
    started = time.perf_counter()
    folders = build_served_registry(root)
    print(f"registry built in {time.perf_counter() - started:.1f} s under {root}")
    body = request(folders[catalog.RETRIEVAL])
    width = len(body["inputs"]["user_features"][0])
    user = {
        "inputs": {
            "user_id": ["u1"],
            "history": [["i3", "i4", "i5"]],
            "user_features": [[0.0] * width],
            "k": 10,
        }
    }
    columns = request(folders[catalog.CHURN])["dataframe_split"]["columns"]
    one = {"dataframe_split": {"columns": columns, "data": [[40.0, 1.0]]}}
    batch = {"dataframe_split": {"columns": columns, "data": [[float(i), float(i % 7)] for i in range(100)]}}
    plan = {
        catalog.RETRIEVAL: {"retrieval: one user's top 10": user},
        catalog.CHURN: {"churn: one customer": one, "churn: 100 customers": batch},
    }
    for model, cases in plan.items():
        port = free_port()
        started = time.perf_counter()
        proc = serve(root, model, port, Path(root) / f"serve-{model}.log")
        print(f"{model}: server answered /ping after {time.perf_counter() - started:.1f} s")
        try:
            for name, case in cases.items():
                _report(name, _time(port, case, args.requests, args.warmup))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
