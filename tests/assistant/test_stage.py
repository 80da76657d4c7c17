"""The nightly train function on the public support data, the served network, and ``ecom ask``."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import catalog, nightly, stages
from ecom_tasks.assistant import answers, features, network
from ecom_tasks.assistant.config import AssistantConfig
from ecom_tasks.assistant.model import load
from ecom_tasks.assistant.stage import train_assistant
from ecom_tasks.cli import main
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.params import RunParams
from tests.assistant.shop import write_shop

DS = "2024-01-03"


def test_without_support_data_the_stage_steps_aside_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("ECOM_SUPPORT_DATA", raising=False)
    config = stages.get(catalog.ASSISTANT).make_config(RunParams())
    assert config.support_data is None
    with pytest.raises(NotEnoughDataError, match="no support data is configured: set the run parameter"):
        nightly.train(str(tmp_path), DS, catalog.ASSISTANT, {})
    assert nightly.read_skip(str(tmp_path), catalog.ASSISTANT, DS)["step"] == "train"


def test_run_parameter_and_environment_configure_the_support_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ECOM_SUPPORT_DATA", str(tmp_path))
    assert AssistantConfig.from_run(RunParams(epochs=2)).support_data == str(tmp_path)
    assert AssistantConfig.from_run(RunParams(epochs=2)).pretrain_epochs == 2
    with pytest.raises(ValueError, match="support_data: '/nope' does not exist"):
        RunParams(support_data="/nope")


def test_the_numpy_forward_pass_equals_the_keras_network():
    import tf_keras as keras

    config = AssistantConfig(buckets=64, max_ids=8, embedding_dim=4, hidden_dim=5)
    encoder = network.build_encoder(config)
    output = keras.layers.Dense(3, activation="softmax")
    model = keras.Model(encoder.model.input, output(encoder.model.output))
    ids = features.id_matrix(["where is my order", "refund", "x"], config.buckets, config.max_ids)
    arrays = [encoder.embedding.get_weights()[0], *encoder.hidden.get_weights(), *output.get_weights()]
    weights = dict(zip(network.WEIGHT_NAMES, arrays, strict=True))
    assert np.allclose(network.forward(weights, ids), model.predict(ids, verbose=0), atol=1e-5)


@pytest.fixture(scope="module")
def trained(support_folder, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("assistant"))
    write_shop(root)
    config = AssistantConfig(support_data=str(support_folder), epochs=3, pretrain_epochs=2)
    return root, train_assistant(root, DS, config, None)


def test_train_writes_the_candidate_its_metrics_and_per_message_results(trained):
    root, _ = trained
    folder = f"{root}/models/assistant/ds={DS}"
    metrics = json.loads(Path(f"{folder}/metrics.json").read_text())
    for prefix in ("", "tfidf_", "nopretrain_", "pretrained_"):
        for key in ("intent_accuracy", "intent_macro_f1", "oos_recall", "oos_precision", "in_scope_rejected"):
            assert 0.0 <= metrics[f"{prefix}{key}"] <= 1.0, prefix + key
    assert metrics["selected"] in ("pretrained", "nopretrain", "tfidf") and metrics["selection"]
    assert metrics["intent_accuracy"] >= 0.9 and metrics["slot_f1"] >= 0.8 and metrics["p95_ms"] > 0
    assert metrics["probe_messages"] >= 30 and 0.0 <= metrics["probe_accuracy"] <= 1.0
    assert metrics["probe_accuracy"] == metrics[f"{metrics['selected']}_probe_accuracy"]
    assert metrics["support_log_messages"] == 0  # no landing source: no support log
    evaluation = pd.read_parquet(f"{folder}/evaluation.parquet")
    assert len(evaluation) == metrics["test_messages"]
    assert evaluation["intent_accuracy"].mean() == pytest.approx(metrics["intent_accuracy"], abs=1e-6)
    assert evaluation["tfidf_oos_recall"].mean() == pytest.approx(metrics["tfidf_oos_recall"], abs=1e-6)
    history = json.loads(Path(f"{folder}/history.json").read_text())
    assert history["item_titles"] == 3 and len(history["tradeoff"][metrics["selected"]]) > 5
    assert Path(f"{folder}/NOTICE.md").read_text() == Path(f"{folder}/assistant/NOTICE.md").read_text()
    table = pd.read_parquet(f"{root}/outputs/assistant_intents/ds={DS}")
    assert len(table) == 28 and set(table["intent"]) >= {"track_order", "get_refund", "oos"}
    assert table.loc[table["intent"] == "complaint", "answered_by"].item() == "handed over to a person"
    assert (
        table["test_messages"].sum() == metrics["test_messages"]
        and (table["threshold"] == metrics["threshold"]).all()
    )
    notice = Path(f"{folder}/assistant/NOTICE.md").read_text()
    assert "CDLA-Sharing" in notice and "Creative Commons Attribution 3.0" in notice


def test_the_trained_assistant_answers_and_the_cli_prints_it(trained, monkeypatch, capsys):
    root, result = trained
    assistant = load(result["artifact_uri"])
    reply = answers.answer("I want to track my order", "u1", root=root, assistant=assistant)
    assert reply["intent"] == "track_order" and reply["facts"]["order_id"] == "o20240102-000001"
    assert answers.answer("how much has the dow changed today", root=root, assistant=assistant)["handover"]
    monkeypatch.setattr(answers, "champion", lambda root: assistant)
    assert main(["ask", "track my order", "--customer", "u1", "--root", root]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Your last order o20240102-000001 of 2024-01-02 holds Heart candle holder")
    assert "intent: track_order" in printed
    assert main(["ask", "track my order", "--customer", "u1", "--root", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["intent"] == "track_order"
    assert main(["assistant", "ask", "track my order", "--customer", "u1", "--root", root, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["facts"]["order_id"] == "o20240102-000001"


def test_the_cli_says_when_no_assistant_is_published(tmp_path, capsys):
    assert main(["ask", "hello", "--root", str(tmp_path)]) == 1
    assert "no assistant is published" in capsys.readouterr().err


@pytest.fixture
def page(trained, monkeypatch):
    """A GET of the UI page with the trained assistant as the champion; returns a function of the query."""
    import sys

    from ecom_tasks.publish import stage as publish_stage

    root, result = trained
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins"))
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root}/mlflow.db")
    champion = {"version": "1", "ds": DS, "folder": result["model_uri"]}
    monkeypatch.setattr(
        publish_stage, "champion_info", lambda r, m, c=None: champion if m == "assistant" else None
    )

    def get(path: str = "/", body: dict | None = None, **query: str):
        with TestClient(create_app(root, auth=False), raise_server_exceptions=False) as client:
            return client.post(path, json=body) if body is not None else client.get(path, params=query)

    return get


def test_the_page_section_asks_and_shows_the_answer(page):
    shown = page(ask="I want to track my order", ask_customer="u1")
    assert shown.status_code == 200, shown.text[:2000]
    text = shown.text
    assert 'id="assistant-intent">track order' in text
    assert "Your last order o20240102-000001 of 2024-01-02 holds Heart candle holder" in text
    assert "Rejection threshold trade-off" in text and "TF-IDF + logistic regression" in text
    away = page(ask="<script>alert(1)</script> what is the capital of peru")
    assert "<script>alert(1)</script>" not in away.text and 'id="assistant-handover"' in away.text
    assert 'id="assistant-handover-form"' in away.text and 'id="assistant-ticket"' not in away.text
    assert page(ask="hello", ask_customer="bad id!").status_code == 422
    assert page(ask="x" * 2001).status_code == 422
    answered = page(
        "/api/stages/assistant", ask="track my order", ask_customer="u1"
    ).json()  # the same as JSON
    assert answered["reply"]["facts"]["order_id"] == "o20240102-000001" and answered["selected"]


def _csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page)
    assert found, "the hand-over form carries no token"
    return found.group(1)


def test_a_hand_over_post_without_this_sessions_token_or_from_another_site_is_refused(page, trained):
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    root, _ = trained
    asks = {"ask": "what is the capital of chile", "ask_customer": "u2"}
    before = len(_tickets(root))
    with TestClient(create_app(root, auth=False)) as other:
        stolen = _csrf_token(other.get("/", params=asks).text)  # another browser's token
    with TestClient(create_app(root, auth=False)) as client:
        shown = client.get("/", params=asks)
        assert "ecom_csrf" in shown.cookies and "httponly" in shown.headers["set-cookie"].lower()
        token = _csrf_token(shown.text)
        assert token != stolen
        for data, headers in (
            (asks, {}),  # no token
            (asks | {"csrf_token": stolen}, {}),  # a token of another session
            (asks | {"csrf_token": "0" * 64}, {}),  # a made-up token
            (asks | {"csrf_token": token}, {"origin": "https://evil.example"}),  # the right one, cross-site
            (asks | {"csrf_token": token}, {"origin": "null"}),
            (asks | {"csrf_token": token}, {"referer": "https://evil.example/page"}),
        ):
            refused = client.post("/assistant/handover", data=data, headers=headers, follow_redirects=False)
            assert refused.status_code == 403, (data, headers)
        assert len(_tickets(root)) == before
        same_site = {"origin": str(client.base_url)}
        data = asks | {"csrf_token": token}
        posted = client.post("/assistant/handover", data=data, headers=same_site, follow_redirects=False)
        assert posted.status_code == 303 and len(_tickets(root)) == before + 1
    with TestClient(create_app(root, auth=False)) as airflow_session:
        # Signed in to Airflow: the token is bound to the Airflow session cookie.
        airflow_session.cookies.set("_token", "jwt-of-this-session")
        token = _csrf_token(airflow_session.get("/", params=asks).text)
        assert "ecom_csrf" not in airflow_session.cookies
        airflow_session.cookies.set("_token", "jwt-of-another-session")
        stale = airflow_session.post("/assistant/handover", data=asks | {"csrf_token": token})
        assert stale.status_code == 403 and len(_tickets(root)) == before + 1


def test_the_json_api_takes_no_cross_site_simple_request(page, trained):
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    root, _ = trained
    before = len(_tickets(root))
    body = json.dumps({"message": "what is the capital of chile", "customer": "u2"})
    with TestClient(create_app(root, auth=False)) as client:
        # What another site's page can send without a CORS preflight: text/plain or a form.
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            sent = client.post("/api/assistant", content=body, headers={"content-type": content_type})
            assert sent.status_code == 422, content_type
        headers = {"origin": "https://evil.example", "content-type": "application/json"}
        cross = client.post("/api/assistant", content=body, headers=headers)
        assert cross.status_code == 403
    assert len(_tickets(root)) == before


def _files(root: str) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(root).rglob("*") if p.is_file()}


def _tickets(root: str) -> list[Path]:
    return sorted(Path(root, catalog.HANDOVER, catalog.TICKETS).glob("*.json"))


def test_asking_by_get_writes_nothing_and_the_post_button_files_one_ticket(page, trained):
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    root, _ = trained
    asks = {"ask": "what is the capital of peru", "ask_customer": "u1"}
    page(**asks)  # warm the caches (mlflow's database, the loaded model)
    before = _files(root)
    for query in (asks, {"ask": "I want to talk to a person"}):
        shown = page(**query)
        assert shown.status_code == 200 and 'id="assistant-handover-form"' in shown.text
    assert page("/api/stages/assistant", **asks).json()["reply"]["handover"]
    assert _files(root) == before  # a GET never writes, a hand-over included
    filed_before = len(_tickets(root))

    with TestClient(create_app(root, auth=False)) as client:
        token = _csrf_token(client.get("/", params=asks).text)
        refused = client.post("/assistant/handover", data={**asks, "ds": DS}, follow_redirects=False)
        assert refused.status_code == 403 and "security token is missing" in refused.text
        assert len(_tickets(root)) == filed_before  # no token: nothing filed
        asks |= {"csrf_token": token}
        posted = client.post("/assistant/handover", data={**asks, "ds": DS}, follow_redirects=False)
        assert posted.status_code == 303 and posted.headers["location"].startswith("../?ds=")
        new = [t for t in _tickets(root) if str(t) not in before]
        assert len(new) == 1  # exactly one ticket
        ticket = json.loads(new[0].read_text())
        assert ticket["message"] == asks["ask"] and ticket["customer"] == "u1"
        assert ticket["reason"] == "out of scope"
        shown = client.post("/assistant/handover", data=asks)  # follows the redirect to the page
    assert shown.status_code == 200 and 'id="assistant-ticket">ticket T' in shown.text
    assert len(_tickets(root)) == filed_before + 2
    refreshed = page(**asks, ticket=ticket["ticket_id"])
    assert f"ticket {ticket['ticket_id']}: out of scope" in refreshed.text
    other = page(ask="what is the capital of peru", ask_customer="u2", ticket=ticket["ticket_id"])
    assert ticket["ticket_id"] not in other.text  # a ticket shows only with its own message and customer
    assert (
        _files(root).keys() - before.keys() == {str(t) for t in _tickets(root)} - before.keys()
    )  # only tickets
    assert page("/assistant/handover").status_code in (404, 405)  # no GET that files


def test_the_api_answers_a_posted_question_and_refuses_bad_ones(page):
    reply = page("/api/assistant", body={"message": "track my order", "customer": "u1"}).json()
    assert reply["intent"] == "track_order" and reply["facts"]["order_id"] == "o20240102-000001"
    assert page("/api/assistant", body={"message": "   "}).json()["answer"] == "Please type your question."
    sql = page("/api/assistant", body={"message": "'; DROP TABLE orders; --", "customer": "u1"})
    assert sql.status_code == 200 and "o20240101" not in sql.text
    assert page("/api/assistant", body={"message": "x" * 10_000}).status_code == 422
    assert page("/api/assistant", body={"message": "hi", "customer": "<b>"}).status_code == 422
    assert page("/api/assistant", body={"customer": "u1"}).status_code == 422
    other = page("/api/assistant", body={"message": "¿dónde está mi pedido?", "customer": "u2"}).json()
    assert "Heart candle holder" not in json.dumps(other)  # never another customer's order


def test_answers_through_the_api_are_logged_for_the_hand_over_rate(page, trained):
    from ecom_tasks.assistant import answer_log

    root, _ = trained
    today = dt.datetime.now(dt.UTC).date()
    before = len(answer_log.read(root, today))
    page("/api/assistant", body={"message": "I want to talk to a person", "customer": "u1"})
    page("/api/assistant", body={"message": "   "})  # nothing asked: nothing logged
    (line,) = answer_log.read(root, today)[before:]
    assert line["handover"] and line["customer"] == "u1"
    assert line["reason"] == "the customer asks for a person"


def test_changed_support_files_change_the_configuration(tmp_path):
    (tmp_path / "s.csv").write_text("instruction,intent\n")
    before = AssistantConfig.from_run(RunParams(support_data=str(tmp_path)))
    (tmp_path / "s.csv").write_text("instruction,intent\nhi,greet\n")
    after = AssistantConfig.from_run(RunParams(support_data=str(tmp_path)))
    assert before.support_stamp.startswith("s.csv:19:") and before != after
