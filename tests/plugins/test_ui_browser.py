"""The page in a real browser: ``airflow api-server`` (auth on) serving the plugin, headless
chromium logged in with the session cookie the UI uses, the page opened from the Airflow UI's
navigation (``/plugin/ecom-ml``, in the UI's frame), the explorer asked about a customer, the model
cards (their images load), the report and the Data Docs; no request leaves the server.
The screenshots are kept under ``$TEST_ARTIFACTS`` (default ``test-artifacts/ui``)."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from tests.ops.services import TopologyError
from tests.plugins.server import api_server, migrated_db
from tests.plugins.shop import CUSTOMER, DS
from tests.plugins.webdriver import Browser, find_browser

pytestmark = pytest.mark.slow
COOKIE = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN


def artifacts() -> Path:
    return Path(os.environ.get("TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "ui"


@pytest.fixture(scope="module")
def browser_paths() -> tuple[str, str]:
    chromium, driver = find_browser()
    if chromium is None or driver is None:
        pytest.skip("chromium and chromedriver are not installed (scripts/ci_browser.sh installs them)")
    return chromium, driver


def _local(url: str, base: str) -> bool:
    """A request that stays on the server; data:, blob: and the browser's own chrome:// pages never
    reach the network."""
    if not url.startswith(("http:", "https:", "ws:", "wss:", "ftp:", "//")):
        return True
    return url.startswith(base + "/")


def _cards_reports_and_data_docs(browser: Browser, base: str) -> None:
    """The model card's images load; the report and GE's Data Docs render with their local assets."""
    images = "return [...document.images].map(i => [i.getAttribute('src'), i.complete && i.naturalWidth]);"
    for model in ("churn", "repurchase"):
        browser.get(f"{base}/ecom/models/{model}/{DS}/card")
        browser.find("h1", timeout=60)
        loaded = browser.execute(images)
        assert loaded and all(width for _, width in loaded), loaded  # reliability.png shows
        browser.screenshot(artifacts() / f"model_card_{model}.png")
    browser.get(f"{base}/ecom/reports/{DS}")
    assert "Back to the Shop ML page" in browser.text(browser.find("body", timeout=60))
    assert all(width for _, width in browser.execute(images))
    browser.screenshot(artifacts() / "behaviour_report.png")
    browser.get(f"{base}/ecom/data-docs/index.html")
    # GE's table is filled by its inline script with the vendored jQuery and bootstrap-table: the
    # scripts ran under the page's CSP, and the logo is the site's own.
    browser.find("#runs tbody tr", timeout=60)
    assert all(width for _, width in browser.execute(images))
    browser.screenshot(artifacts() / "data_docs.png")


def test_page_and_explorer_in_a_real_browser(
    ui_root: str, browser_paths: tuple[str, str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    cache = Path(store.mkdir("airflow-sqlite")) if store else tmp_path
    db = migrated_db(cache, tmp_path)
    with api_server(tmp_path / "server", ui_root, db) as server:
        base = server.url
        # Authentication is on: no customer data, not even the page, without a session.
        assert httpx.get(f"{base}/ecom/api/customers/{CUSTOMER}", timeout=60).status_code == 401
        anonymous = httpx.get(f"{base}/ecom/", params={"customer": CUSTOMER}, timeout=60)
        assert anonymous.status_code == 401 and "recommendations" not in anonymous.text
        token = server.token()
        bearer = {"Authorization": f"Bearer {token}"}
        answer = httpx.get(f"{base}/ecom/api/customers/{CUSTOMER}", headers=bearer, timeout=120)
        assert answer.status_code == 200 and answer.json()["customer"] == CUSTOMER

        browser = Browser(server.procs, tmp_path / "chromium-profile", *browser_paths)
        try:
            browser.get(f"{base}/api/v2/monitor/health")  # the cookie's origin must be open first
            browser.add_cookie(COOKIE, token)
            browser.get(f"{base}/plugin/ecom-ml")  # the page's entry in the Airflow UI's navigation
            frame = browser.find("iframe[title='Shop ML']", timeout=120)
            assert browser.attribute(frame, "src") == "ecom/"  # relative to the UI's base URL
            browser.frame(frame)
            assert "showing ds=" + DS in browser.text(browser.find("#day-form", timeout=120))
            assert "version 2" in browser.text(browser.find("#model-churn"))
            assert "BLOCKED" in browser.text(browser.find("#model-churn"))
            assert browser.text(browser.find("#quality-status")) == "passed"
            assert "A baseline is published" in browser.text(browser.find("#selection-repurchase"))
            browser.type(browser.find("#customer"), CUSTOMER)
            browser.click(browser.find("#lookup"))
            result = browser.find("#customer-result", timeout=60)
            assert f"Customer {CUSTOMER}" in browser.text(result)
            assert browser.text(browser.find("#segment")) == answer.json()["segment"].replace("_", " ")
            recs = browser.text(browser.find("#recommendations"))
            assert "Mug <b>bold</b>" in recs  # the markup title shows as text, not as markup
            assert browser.text(browser.find("#churn-reasons")).count("days since the last purchase") == 1
            browser.frame(None)
            shot = browser.screenshot(artifacts() / "ecom_ml_explorer.png")
            assert shot.stat().st_size > 10_000
            browser.get(f"{base}/ecom/?customer=%3Cscript%3E")  # the page on its own: bad input
            assert "a customer id consists of letters" in browser.text(browser.find("#explorer-error"))
            browser.screenshot(artifacts() / "ecom_ml_bad_input.png")
            _cards_reports_and_data_docs(browser, base)
            sent = browser.requests()  # every request of the session, the Airflow UI's included
            assert any(u.startswith(f"{base}/ecom/static/vendor/") for u in sent), sent
            assert [u for u in sent if not _local(u, base)] == []
        except Exception as exc:
            raise TopologyError(f"{exc}\n{server.procs.tail_logs(80)}") from exc
        finally:
            browser.quit()
