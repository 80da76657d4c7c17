"""The page's monitoring section after two nights: realized hit rate of night A's lists, drift per
feature worst first, and the alert of the planted drop."""

from __future__ import annotations

import re
import sys

import pytest

from ecom_tasks.publish import tracking
from tests.conftest import PROJECT_ROOT
from tests.monitoring.shop import A, B, C

sys.path.insert(0, str(PROJECT_ROOT / "plugins"))


@pytest.fixture(scope="module")
def page(nights) -> dict[str, str]:
    from ecom_ui.app import create_app
    from fastapi.testclient import TestClient

    root, _ = nights
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.TRACKING_URI_ENV, raising=False)
        with TestClient(create_app(root, auth=False), raise_server_exceptions=False) as client:
            return {ds: client.get("/", params={"ds": ds} if ds else None).text for ds in ("", B)}


def _section(html: str) -> str:
    """The monitoring section, white space collapsed (the template breaks its sentences over lines)."""
    start = html.index('<section id="monitoring">')
    return " ".join(html[start : html.index("</section>", start)].split())


def test_the_section_shows_night_a_realized_hit_rate_against_popularity(page) -> None:
    html = _section(page[B])  # as of night B: the first night's lists judged
    assert f"(published on {A}, version 1)" in html
    assert re.search(r'id="realized-hit-rate">66\.7%<', html)  # 2 of the 3 buyers with a list
    assert "appears from the second judged night" in html and "<script" not in html  # one night: no chart
    newest = _section(page[""])  # night C: two nights, the hit rate over nights against popularity
    assert "Realized hit rate at 20 by night" in newest and "<svg" in newest and "<script" not in newest
    assert "churn" in html and "1.000" in html  # realized ROC AUC of the churn scores


def test_drift_per_feature_worst_first_and_the_planted_drop_alerted(page) -> None:
    html = _section(page[""])  # the newest night, C
    assert f"Drift on {C} against the champion&#39;s training day" in html or f"Drift on {C}" in html
    psi = [float(v) for v in re.findall(r'<td class="n (?:bad|warn|ok)">([0-9.]+)</td>', html)]
    assert psi and psi == sorted(psi, reverse=True)
    assert "days since last purchase" in html  # plain labels, not raw keys
    alerts = html[html.index('id="monitoring-alerts"') :]
    assert f"monitoring ds={C}: ranking" in alerts and "recall in the top 20: 0.0% below" in alerts


def test_the_forecast_and_assistant_monitors_with_their_charts(page) -> None:
    night_b = _section(page[B])
    assert 'id="realized-wape">30.0%<' in night_b and "days 1-7 ahead: 30.0%, days 8-14 ahead: -" in night_b
    assert 'id="realized-coverage">80.0%<' in night_b and 'id="handover-rate">20.0%<' in night_b
    assert "charts over nights appear from the second judged night" in night_b
    html = _section(page[""])  # night C: two nights of each, with charts
    assert 'id="realized-wape">400.0%<' in html and "3 units were sold of items no forecast covered" in html
    assert "Realized WAPE by horizon, by night" in html and "inside the 80% interval" in html
    assert 'id="handover-rate">60.0%<' in html and "Messages handed over to a person, by night" in html
    reasons = html[html.index('id="handover-reasons"') : html.index('id="monitoring-alerts"')]
    assert "customer asked for a person" in reasons and "order or customer not found" in reasons
    assert "handover_" not in reasons and "<script" not in html
    alerts = html[html.index('id="monitoring-alerts"') :]
    assert f"monitoring ds={C}: forecast" in alerts and f"monitoring ds={C}: assistant" in alerts


def test_the_section_in_a_browser(page, tmp_path) -> None:
    """The section as headless chromium draws it (kept under ``$TEST_ARTIFACTS/ui``, looked at)."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (scripts/ci_browser.sh installs it)")
    html = page[""]
    body = html[html.index("<body") : html.index(">", html.index("<body")) + 1]
    start = html.index('<section id="monitoring">')
    section = html[start : html.index("</section>", start) + len("</section>")]
    alone = html[: html.index("<body")] + body + section + "</body></html>"
    assert "http://" not in alone and "https://" not in alone  # nothing to fetch from elsewhere
    (tmp_path / "monitoring.html").write_text(alone)
    out = Path(os.environ.get("TEST_ARTIFACTS", PROJECT_ROOT / "test-artifacts")) / "ui" / "monitoring.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={out}",
           "--window-size=1400,2600", f"file://{tmp_path / 'monitoring.html'}"]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, cwd=tmp_path)
    assert out.stat().st_size > 20_000  # drawn charts and tables, not a blank page
