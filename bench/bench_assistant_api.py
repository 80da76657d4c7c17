"""Benchmark: one assistant answer in process and through the UI's API (issue 21: p95 < 30 ms / < 60 ms).

Setup, through the real stage code: the assistant tests' small shop (tests/assistant/shop.py: a few
customers with orders and returns), the assistant trained on the public support data
(../shared/data/customer-service) as the nightly trains it, then gated and published into that root's
registry. Then, for a mix of messages (the probe's everyday phrasings and Bitext test-like utterances,
for a known customer, an unknown one and none):

1. in process: ``answers.answer(message, customer, root=root)`` as ``ecom ask`` calls it (the champion
   loaded once; the customer's orders, returns and recommendations read for grounded answers; tickets and
   the answers log written);
2. through the API: ``POST /ecom/api/assistant`` served by uvicorn on 127.0.0.1 (the plugin's FastAPI
   app, without Airflow's login in front), one request at a time over HTTP with a kept-alive connection.

Prints p50 / p95 / max milliseconds of each. Nothing is asserted.

Usage: python bench/bench_assistant_api.py [--epochs 30] [--requests 300]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "plugins"))
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
SUPPORT = SHARED / "customer-service"
DS = "2024-01-03"
CUSTOMERS = ("u1", "u2", "nobody-here", None)


def messages(n: int) -> list[str]:
    """``n`` messages: the probe's phrasings, then Bitext utterances, repeated to ``n``."""
    probe = pd.read_csv(ROOT / "tests" / "assistant" / "probe.csv")["instruction"].tolist()
    bitext = pd.read_csv(SUPPORT / "bitext_customer_support_train.csv")["instruction"].sample(
        200, random_state=1
    )
    pool = probe + bitext.tolist()
    return [pool[i % len(pool)] for i in range(n)]


def percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms"


def publish(root: str, epochs: int) -> None:
    """Train, gate and publish the assistant into ``root`` as the nightly does."""
    from ecom_tasks.assistant.config import AssistantConfig
    from ecom_tasks.assistant.stage import train_assistant
    from ecom_tasks.publish import stage
    from tests.assistant.shop import write_shop

    write_shop(root)
    t = time.perf_counter()
    result = train_assistant(root, DS, AssistantConfig(support_data=str(SUPPORT), epochs=epochs), None)
    print(f"trained in {time.perf_counter() - t:.1f} s: selected {result.get('selected')}")
    gate = stage.gate_model(root, DS, "assistant")
    if not gate["blessed"]:
        raise SystemExit(f"the gate held the assistant back: {gate['failing']}")
    print(f"published version {stage.publish_model(root, DS, 'assistant')['version']}")


def in_process(root: str, texts: list[str]) -> list[float]:
    from ecom_tasks.assistant import answers

    answers.answer("hello", root=root)  # loads the champion once, as a long-lived process would
    seconds = []
    for i, text in enumerate(texts):
        t = time.perf_counter()
        answers.answer(text, CUSTOMERS[i % len(CUSTOMERS)], root=root)
        seconds.append(time.perf_counter() - t)
    return seconds


def through_api(root: str, texts: list[str]) -> list[float]:
    import httpx
    import uvicorn
    from ecom_ui.app import create_app

    from tests.ops.services import LOOPBACK, free_port

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(root, auth=False), host=LOOPBACK, port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    seconds = []
    with httpx.Client(base_url=f"http://{LOOPBACK}:{port}") as client:
        client.post("/api/assistant", json={"message": "hello"}).raise_for_status()  # warm: champion loaded
        for i, text in enumerate(texts):
            body = {"message": text, "customer": CUSTOMERS[i % len(CUSTOMERS)]}
            t = time.perf_counter()
            client.post("/api/assistant", json=body).raise_for_status()
            seconds.append(time.perf_counter() - t)
    server.should_exit = True
    thread.join(timeout=10)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning epochs (the stage's default)")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not (SUPPORT / "bitext_customer_support_train.csv").exists():
        raise SystemExit(f"support data not found at {SUPPORT} (set ECOM_SHARED_DATA to ../shared/data)")
    with tempfile.TemporaryDirectory(prefix="bench_assistant_api_") as root:
        os.environ.pop("MLFLOW_TRACKING_URI", None)  # the root's own embedded registry
        publish(root, args.epochs)
        texts = messages(args.requests)
        print(f"in process, {len(texts)} answers: {percentiles(in_process(root, texts))}")
        api = percentiles(through_api(root, texts))
        print(f"through POST /ecom/api/assistant, {len(texts)} requests: {api}")


if __name__ == "__main__":
    main()
