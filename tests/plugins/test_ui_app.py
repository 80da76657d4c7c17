"""The plugin's FastAPI app in-process (TestClient) on a shop published through the real publish
stage: the page, the JSON endpoints, bad input, read-only GETs and the auth requirement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.plugins.shop import CUSTOMER, DS, MARKUP_TITLE, OLD, PREV

pytestmark = pytest.mark.slow  # builds and publishes a shop (MLflow) once per session

UNKNOWN_DS = "2030-01-01"
SCRIPT = "<script>alert(1)</script>"


def _no_internals(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text and "<script" not in text.lower()


def test_the_page_shows_models_gates_quality_and_analytics(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 200, resp.text[:2000]
    page = resp.text
    assert "E-commerce ML" in page and f"showing ds={DS}" in page
    assert "script-src" not in resp.headers["content-security-policy"]  # no scripts at all
    for model in ("churn", "repurchase", "ranking"):
        assert f'id="model-{model}"' in page
    # The churn champion replaced the previous one; the backfill candidate was blocked.
    assert "version 2</b>, trained on ds=2024-01-12" in page
    assert f"<td>{OLD}</td>" in page and "BLOCKED" in page and "backfill" in page
    assert "0.7760" in page  # the previous champion's churn_roc_auc on the same data
    assert "model card" in page and f"models/churn/{DS}/card" in page
    assert 'id="quality-status">passed<' in page and 'href="data-docs/index.html"' in page
    assert "unit_price_not_negative: 2" in page
    assert f'href="reports/{DS}"' in page
    assert page.count("<svg") >= 6  # a chart per model plus funnel, conversion and cohorts


def test_explorer_answers_for_a_known_customer_with_escaped_titles(client) -> None:
    resp = client.get("/", params={"customer": CUSTOMER})
    assert resp.status_code == 200
    page = resp.text
    assert f'data-customer="{CUSTOMER}"' in page
    for part in ("profile", "scores", "churn-reasons", "recommendations", "purchases"):
        assert f'id="{part}"' in page, part
    assert "recency_days" in page and "Item 4 Mug" in page
    assert MARKUP_TITLE not in page and "Mug &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in page
    _no_internals(page)


def test_customer_json(client) -> None:
    found = client.get(f"/api/customers/{CUSTOMER}").json()
    assert found["customer"] == CUSTOMER and found["ds"] == DS
    assert found["churn"]["version"] == "2" and found["churn"]["reasons"][0]["feature"] == "recency_days"
    assert found["repurchase"]["repurchase_propensity"] > 0
    assert [r["rank"] for r in found["recommendations"]] == [1, 2, 3]
    stamps = [p["ts"] for p in found["purchases"]]
    assert stamps == sorted(stamps, reverse=True) and stamps
    previous = client.get(f"/api/customers/{CUSTOMER}", params={"ds": PREV}).json()
    assert previous["ds"] == PREV


def test_models_quality_analytics_days_json(client) -> None:
    models = {m["model"]: m for m in client.get("/api/models").json()}
    churn = models["churn"]
    assert churn["champion"]["version"] == "2" and churn["champion"]["ds"] == DS
    assert [d["ds"] for d in churn["decisions"]] == [DS, PREV, OLD]
    assert "backfill" in churn["decisions"][-1]["failing"]
    assert [v["version"] for v in churn["versions"]] == ["1", "2"] and churn["versions"][1]["champion"]
    assert models["retrieval"]["champion"] is None
    quality = client.get("/api/quality").json()
    assert quality["tables"]["events"]["quarantine_partition_rows"] == 2
    assert client.get("/api/quality", params={"ds": PREV}).json()["ds"] == PREV
    analytics = client.get("/api/analytics").json()
    assert analytics["funnel"]["days"][-1] == DS and analytics["retention"]["cohorts"]
    assert client.get("/api/days").json()["reports"] == [PREV, DS]


def test_report_card_and_data_docs(client) -> None:
    report = client.get(f"/reports/{DS}")
    assert report.status_code == 200 and "<img" in report.text
    assert client.get(f"/models/churn/{DS}/card").status_code == 200
    assert client.get("/data-docs/index.html").status_code == 200
    for path in (
        "/data-docs/..%2F..%2Fmlflow%2Fmlflow.db",
        "/data-docs/missing.html",
        f"/models/nope/{DS}/card",
    ):
        resp = client.get(path)
        assert resp.status_code == 404, path
        _no_internals(resp.text)


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/customers/u404", {}, 404, "customer 'u404' is not in the customer profiles"),
        ("/api/customers/%3Cimg%20src=x%20onerror=alert(1)%3E", {}, 422, "letters, digits"),
        ("/api/customers/%3Cscript%3Ealert(1)%3C%2Fscript%3E", {}, 404, "Not Found"),  # the / splits the path
        ("/api/customers/" + "9" * 500, {}, 422, "at most 64 characters"),
        ("/api/customers/" + CUSTOMER, {"ds": UNKNOWN_DS}, 404, f"no customer profiles for ds={UNKNOWN_DS}"),
        ("/api/customers/" + CUSTOMER, {"ds": SCRIPT}, 422, "ds: expected a date"),
        ("/api/quality", {"ds": UNKNOWN_DS}, 404, "no validation summary"),
        ("/api/analytics", {"ds": "2024-13-01"}, 422, "ds: not a valid calendar date"),
        ("/", {"customer": "u404"}, 404, "customer &#39;u404&#39; is not in"),
        ("/", {"customer": SCRIPT}, 422, "a customer id consists of letters"),
        ("/", {"customer": "x" * 5000}, 422, "at most 64 characters"),
        ("/", {"ds": UNKNOWN_DS}, 404, "nothing is published for that ds"),
        ("/", {"ds": SCRIPT}, 422, "ds: expected a date"),
        (f"/reports/{UNKNOWN_DS}", {}, 404, f"no behaviour report for ds={UNKNOWN_DS}"),
        ("/reports/%3Cb%3E2024", {}, 422, "ds: expected a date"),
    ],
)
def test_bad_input_gets_a_clear_message_and_status(client, path, params, status, message) -> None:
    resp = client.get(path, params=params)
    assert resp.status_code == status, resp.text[:1000]
    assert message in resp.text
    _no_internals(resp.text)
    for value in params.values():
        assert value not in resp.text or value in (UNKNOWN_DS, "u404")  # bad input is never reflected


def test_gets_write_nothing(client, ui_root: str) -> None:
    def tree() -> dict[str, tuple[int, int]]:
        out = {}
        for p in Path(ui_root).rglob("*"):
            if p.is_file():
                st = p.stat()
                out[str(p)] = (st.st_size, st.st_mtime_ns)
        return out

    client.get("/api/models")  # warm the caches, then compare a round of every kind of GET
    before = tree()
    for path in ("/", f"/?customer={CUSTOMER}", "/api/models", "/api/quality", "/api/analytics",
                 f"/api/customers/{CUSTOMER}", f"/reports/{DS}", "/data-docs/index.html"):  # fmt: skip
        assert client.get(path).status_code == 200
    assert tree() == before


def test_with_auth_on_anonymous_requests_are_refused(ui_root: str) -> None:
    from ecom_ui.app import create_app
    from ecom_ui.auth import require_user
    from fastapi.testclient import TestClient

    app = create_app(ui_root)
    with TestClient(app, raise_server_exceptions=False) as anon:
        data = anon.get(f"/api/customers/{CUSTOMER}")
        assert data.status_code == 401 and "log in to Airflow" in data.json()["detail"]
        page = anon.get("/", params={"customer": CUSTOMER})
        assert page.status_code == 401 and "recommendations" not in page.text
        assert anon.get(f"/reports/{DS}").status_code == 401
    app.dependency_overrides[require_user] = lambda: "a logged-in user"
    with TestClient(app) as user:
        assert user.get(f"/api/customers/{CUSTOMER}").status_code == 200


def test_the_plugin_registers_the_app_and_the_page() -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    import ecom_ml_plugin

    plugin = ecom_ml_plugin.EcomMLPlugin
    assert plugin.fastapi_apps[0]["url_prefix"] == "/ecom"
    view = plugin.external_views[0]
    assert view["href"] == "ecom/" and view["url_route"] == "ecom-ml" and view["destination"] == "nav"
