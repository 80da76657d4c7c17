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
    assert f"monitoring ds={C}: ranking" in alerts and "recall_at_20 0.0000 below" in alerts
