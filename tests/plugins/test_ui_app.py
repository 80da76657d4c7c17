"""The plugin's FastAPI app in-process (TestClient) on a shop published through the real publish
stage: the page, the JSON endpoints, bad input, read-only GETs and the auth requirement."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecom_tasks.ui.datadocs import external_refs
from tests.plugins.shop import CUSTOMER, DS, MARKUP_TITLE, OLD, PREV, RETURNED

pytestmark = pytest.mark.slow  # builds and publishes a shop (MLflow) once per session

UNKNOWN_DS = "2030-01-01"
SCRIPT = "<script>alert(1)</script>"


def _no_internals(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text and "<script" not in text.lower()


def test_the_page_shows_models_gates_quality_and_analytics(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 200, resp.text[:2000]
    page = resp.text
    assert "Shop ML" in page and f"showing ds={DS}" in page
    assert "script-src" not in resp.headers["content-security-policy"]  # no scripts at all
    for model in ("churn", "repurchase", "ranking"):
        assert f'id="model-{model}"' in page
    # The churn champion replaced the previous one; the backfill candidate was blocked.
    assert "version 2</b>, trained on ds=2024-01-12" in page
    assert f"<td>{OLD}</td>" in page and "BLOCKED" in page and "backfill" in page
    assert ">0.776<" in page  # the previous champion's churn_roc_auc on the same data
    # Plain words and units, never raw keys or raw timestamps.
    assert "ROC AUC (0.5 = chance, 1 = perfect)" in page and ">churn_roc_auc<" not in page
    assert "Training data: all data up to the end of 12 Jan 2024 (UTC)." in page
    assert "T00:00:00" not in page and "None" not in page and "e+0" not in page
    # The best baseline measured in the same run, named in plain words.
    assert "0.720</td>" not in page and "RFM logistic regression" in page
    # Repurchase published a baseline: the page says so and why.
    assert 'id="selection-repurchase"' in page and "gradient-boosted trees" in page
    assert "does not beat the best baseline gbdt" in page
    assert "model card" in page and f"models/churn/{DS}/card" in page
    assert 'id="quality-status">passed<' in page and 'href="data-docs/index.html"' in page
    quality = page.split('id="quality-tables"', 1)[1].split("</table>", 1)[0]
    assert "unit price not negative: 2 rows" in quality and ": 0" not in quality  # only rules that fired
    assert "other rule(s), none fired</summary>" in page
    assert f'href="reports/{DS}"' in page
    assert page.count("<svg") >= 6  # a chart per model plus funnel, conversion and cohorts
    assert f'<option value="{OLD}">{OLD} (data quality only)</option>' in page


def test_a_day_with_data_quality_only_says_nothing_was_built(client) -> None:
    page = client.get("/", params={"ds": OLD}).text
    assert 'id="analytics-note"' in page and f"Nothing was built for ds={OLD}" in page
    assert "Sessions by furthest step" not in page and "None" not in page


def test_explorer_answers_for_a_known_customer_with_escaped_titles(client) -> None:
    resp = client.get("/", params={"customer": CUSTOMER})
    assert resp.status_code == 200
    page = resp.text
    assert f'data-customer="{CUSTOMER}"' in page
    for part in ("profile", "scores", "churn-reasons", "recommendations", "purchases"):
        assert f'id="{part}"' in page, part
    assert "days since the last purchase" in page and "Item 4 Mug" in page
    assert "+21.0 points" in page and "typical customer" in page  # the effect, with unit and baseline
    assert " UTC</td>" in page and "+00:00" not in page  # purchase times in plain words
    assert "unit price (currency units)" in page  # the test shop's source defines no currency
    recs = page.split('id="recommendations"', 1)[1].split("</table>", 1)[0]
    assert f"<td>{RETURNED}</td>" not in recs  # returned: never recommended
    assert MARKUP_TITLE not in page and "Mug &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in page
    _no_internals(page)


def test_customer_json(client) -> None:
    found = client.get(f"/api/customers/{CUSTOMER}").json()
    assert found["customer"] == CUSTOMER and found["ds"] == DS
    assert found["churn"]["version"] == "2" and found["churn"]["reasons"][0]["feature"] == "recency_days"
    assert found["repurchase"]["repurchase_propensity"] > 0
    ranks = [r["rank"] for r in found["recommendations"]]
    assert ranks[0] == 1 and 2 not in ranks and ranks == sorted(ranks)  # rank 2 was returned
    shown = [r["score"] for r in found["recommendations"]]
    assert shown == sorted(shown, reverse=True)  # "ranked by the model's score", as the page says
    assert RETURNED not in [r["item_id"] for r in found["recommendations"]]
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
    repurchase = models["repurchase"]["champion"]
    assert repurchase["baseline_published"] and repurchase["selected"] == "gbdt"
    auc = next(c for c in repurchase["comparison"] if c["metric"] == "repurchase_roc_auc")
    assert auc["best_baseline_name"] == "rfm_logreg"  # the published gbdt is the champion, not its baseline
    quality = client.get("/api/quality").json()
    assert quality["tables"]["events"]["quarantine_partition_rows"] == 2
    assert client.get("/api/quality", params={"ds": PREV}).json()["ds"] == PREV
    analytics = client.get("/api/analytics").json()
    assert analytics["funnel"]["days"][-1] == DS and analytics["retention"]["cohorts"]
    assert client.get("/api/days").json()["reports"] == [PREV, DS]


def test_explorer_says_why_a_customer_is_not_scored(client, ui_root: str) -> None:
    from ecom_tasks import storage
    from ecom_tasks.publish import outputs

    scored = set(
        storage.read_partition(outputs.output_uri(ui_root, "churn_scores", DS))["user_id"].astype(str)
    )
    profiles = storage.read_partition(storage.partition_uri(ui_root, "features", "customer_profiles", DS))
    unscored = sorted(set(profiles["user_id"].dropna().astype(str)) - scored)[0]
    page = client.get("/", params={"customer": unscored}).text
    assert 'id="not-scored"' in page and "not scored: never bought" in page


def test_report_card_and_data_docs(client) -> None:
    report = client.get(f"/reports/{DS}")
    assert report.status_code == 200 and "<img" in report.text
    card = client.get(f"/models/churn/{DS}/card")
    assert card.status_code == 200 and "<img src='reliability.png'" in card.text
    plot = client.get(f"/models/churn/{DS}/reliability.png")  # what the card's relative link asks for
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    repurchase = client.get(f"/models/repurchase/{DS}/card").text
    assert "A baseline is published, not the fine-tuned model</b>: gradient-boosted trees" in repurchase
    assert "customers in the test set" not in repurchase or "181.0000" not in repurchase
    assert client.get("/data-docs/index.html").status_code == 200
    for path in (
        "/data-docs/..%2F..%2Fmlflow%2Fmlflow.db",
        "/data-docs/missing.html",
        f"/models/nope/{DS}/card",
        f"/models/churn/{DS}/blessing.json",  # only the card's plots beside it
        f"/models/churn/{DS}/..%2F..%2F..%2Fmlflow%2Fmlflow.db",
        "/static/..%2F..%2Fapp.py",
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


def test_no_page_loads_anything_from_outside(client) -> None:
    """Main page, explorer, model cards, report and Data Docs: every script, stylesheet and image
    comes from the server (GE's CDN links rewritten to the vendored copies)."""
    pages = ["/", f"/?customer={CUSTOMER}", f"/reports/{DS}", "/data-docs/index.html"]
    pages += [f"/models/{m}/{DS}/card" for m in ("churn", "repurchase", "ranking")]
    for path in pages:
        resp = client.get(path)
        assert resp.status_code == 200, path
        assert external_refs(resp.text) == [], path
        csp = resp.headers["content-security-policy"]
        assert "http" not in csp and "default-src 'none'" in csp, path
    docs = client.get("/data-docs/index.html")
    assert 'src="../static/vendor/jquery-3.7.1.min.js"' in docs.text and "vega" not in docs.text
    assert "'sha256-" in docs.headers["content-security-policy"]  # GE's inline scripts, by hash only
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"].split("style-src")[0]
    for asset in ("vendor/jquery-3.7.1.min.js", "vendor/bootstrap-4.3.1.min.css", "icons.css"):
        assert client.get(f"/static/{asset}").status_code == 200, asset


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
    assert view["name"] == "Shop ML" and len(view["name"]) <= 10  # the navigation cuts longer labels
