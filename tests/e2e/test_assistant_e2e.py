"""The customer-service assistant in the shared nightly run: trained on the public support data,
gated, published, and answering through ``ecom ask`` and the UI page on the run's shop."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ecom_tasks import catalog, contract, nightly, storage

from .conftest import (
    AIRFLOW_DB,
    ASSISTANT_COMMAND,
    NIGHTLY_CONF,
    PROJECT,
    RUN_DS,
    SHARED_PREFIX,
    SUPPORT_DATA,
)

pytestmark = pytest.mark.slow


def _customer_with_an_order(root: str) -> str:
    events = storage.read_partition(storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, RUN_DS))
    bought = events[(events[contract.EVENT_TYPE] == contract.PURCHASE) & events[contract.USER_ID].notna()]
    return str(bought[contract.USER_ID].iloc[0])


def test_the_assistant_trained_and_was_published_or_stepped_aside(nightly_run):
    env, proc = nightly_run
    root = str(env.data_root)
    folder = env.data_root / catalog.MODELS / catalog.ASSISTANT / f"ds={RUN_DS}"
    assert "train_assistant" in proc.stdout + proc.stderr
    if "support_data" not in NIGHTLY_CONF:
        skip = nightly.read_skip(root, catalog.ASSISTANT, RUN_DS)
        assert skip is not None and "no support data is configured" in skip["reason"]
        pytest.skip("the support data (../shared/data/customer-service) is absent: the stage stepped aside")
    metrics = json.loads((folder / catalog.METRICS_FILE).read_text())
    for prefix in ("", "tfidf_", "nopretrain_"):
        assert metrics[f"{prefix}intent_accuracy"] > 0.5 and metrics[f"{prefix}intent_macro_f1"] > 0.5
    assert metrics["selected"] in ("pretrained", "nopretrain", "tfidf")
    assert json.loads((folder / catalog.BLESSING_FILE).read_text())["blessed"] is True
    assert (folder / catalog.ASSISTANT_DIR / catalog.NOTICE_FILE).exists()
    card = (folder / catalog.CARD_MARKDOWN).read_text()
    assert "## Licences and notices" in card and "CDLA-Sharing" in card  # the card names the licences
    pointer = json.loads((env.data_root / "outputs" / catalog.POINTER_FILE).read_text())
    assert pointer["tables"][catalog.ASSISTANT_INTENTS]["ds"] == RUN_DS  # the intent catalogue is published
    assert metrics["support_example_messages"] > 50  # the built-in examples were trained on
    history = json.loads((folder / catalog.HISTORY_FILE).read_text())
    assert history["item_titles"] > 0  # pretrained on the shop's own titles too
    assert history["seconds"] < 90, history[
        "seconds"
    ]  # about 15 s on a quiet 2-core machine, 49 s at load 11


def test_readme_assistant_command_is_the_shared_run(nightly_run):
    # README's `airflow dags test ecom_nightly 2024-03-31 -c '{"source": "synthetic", "support_data": ...}'`
    # is the shared run's command: its parameters on the small shop and the run's day (the test above
    # shows the assistant trained on them), its support_data the public data's folder.
    env, _ = nightly_run
    assert ASSISTANT_COMMAND is not None, "README has no `airflow dags test` with support_data"
    assert ASSISTANT_COMMAND.section == "The customer-service assistant", ASSISTANT_COMMAND
    argv = ASSISTANT_COMMAND.argv
    assert argv[:4] == ("airflow", "dags", "test", "ecom_nightly") and argv[5:] == ("-c", argv[6]), argv
    conf = json.loads(ASSISTANT_COMMAND.option("-c"))
    assert conf["support_data"] == f"{SHARED_PREFIX}{SUPPORT_DATA.name}", conf  # relative to the project
    if not SUPPORT_DATA.is_dir():
        pytest.skip(f"{SUPPORT_DATA} (README: {conf['support_data']}) is absent")
    with sqlite3.connect(env.home / AIRFLOW_DB) as db:
        runs = db.execute(
            "SELECT conf FROM dag_run WHERE dag_id = 'ecom_nightly' AND logical_date LIKE ?", (f"{RUN_DS}%",)
        ).fetchall()
    assert runs, "no run of the day in the Airflow database"
    for (recorded,) in runs:  # the run had README's parameters, support_data where the data is
        assert json.loads(recorded) == json.loads(recorded) | conf | {"support_data": str(SUPPORT_DATA)}


def test_ecom_ask_answers_from_the_published_assistant_and_the_shop(nightly_run):
    env, _ = nightly_run
    if "support_data" not in NIGHTLY_CONF:
        pytest.skip("the support data is absent: no assistant is published")
    root = str(env.data_root)
    customer = _customer_with_an_order(root)
    ask = [sys.executable, "-m", "ecom_tasks.cli", "ask", "--root", root, "--json"]
    proc = subprocess.run([*ask, "I want to track my order", "--customer", customer], env=env.env,
                          capture_output=True, text=True, timeout=120, cwd=PROJECT)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    reply = json.loads(proc.stdout)
    assert reply["intent"] == "track_order" and reply["answer"].startswith("Your last order ")
    assert reply["facts"]["order_id"] and reply["facts"]["items"]
    proc = subprocess.run([*ask, "how much has the dow changed today"], env=env.env, capture_output=True,
                          text=True, timeout=120, cwd=PROJECT)  # fmt: skip
    reply = json.loads(proc.stdout)
    assert reply["handover"] and reply["ticket"]["reason"] == "out of scope"
    ticket = env.data_root / catalog.HANDOVER / catalog.TICKETS / f"{reply['ticket']['ticket_id']}.json"
    assert json.loads(ticket.read_text())["message"] == "how much has the dow changed today"


def test_ecom_assistant_evaluate_judges_the_published_champion(nightly_run, tmp_path):
    env, _ = nightly_run
    if "support_data" not in NIGHTLY_CONF:
        pytest.skip("the support data is absent: no assistant is published")
    import pandas as pd

    sample = tmp_path / "sample.csv"
    messages = pd.read_csv(next(Path(NIGHTLY_CONF["support_data"]).glob("*.csv")))
    messages.iloc[::90].head(40).to_csv(sample, index=False)  # a few messages in the Bitext format
    out = tmp_path / "figures.json"
    command = [sys.executable, "-m", "ecom_tasks.cli", "assistant", "evaluate", "--root", str(env.data_root),
               "--data", str(sample), "--json", str(out)]  # fmt: skip
    proc = subprocess.run(command, env=env.env, capture_output=True, text=True, timeout=180, cwd=PROJECT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "the published champion on 40 messages" in proc.stdout
    figures = json.loads(out.read_text())
    assert figures["messages"] == 40 and figures["intent_accuracy"] > 0.5 and figures["p95_ms"] > 0


def test_the_page_shows_the_assistant_and_its_answer(nightly_run, monkeypatch):
    env, _ = nightly_run
    if "support_data" not in NIGHTLY_CONF:
        pytest.skip("the support data is absent: no assistant is published")
    sys.path.insert(0, str(PROJECT / "plugins"))
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env.env["MLFLOW_TRACKING_URI"])
    root = str(env.data_root)
    with TestClient(create_app(root, auth=False), raise_server_exceptions=False) as client:
        page = client.get(
            "/", params={"ask": "I want a refund", "ask_customer": _customer_with_an_order(root)}
        )
    assert page.status_code == 200, page.text[:3000]
    assert 'id="assistant-form"' in page.text and 'id="assistant-reply"' in page.text
    assert 'id="assistant-intent">get refund' in page.text
