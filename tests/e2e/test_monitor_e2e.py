"""The ``monitor`` task in the shared nightly run: on a first night nothing was published before.

The realized figures of a second night are the subject of tests/monitoring/test_two_nights.py
(the stage's functions on a small published shop, no second DAG run here).
"""

from __future__ import annotations

import pytest

from ecom_tasks import catalog, stages

from .conftest import RUN_DS

pytestmark = pytest.mark.slow


def test_the_first_night_monitor_steps_aside_and_the_publications_are_recorded(nightly_run, monkeypatch):
    from ecom_tasks.publish import outputs

    env, proc = nightly_run
    log = proc.stdout + proc.stderr
    assert "monitor" in log
    # Skipped with the reason, not failed (the run is green): nothing was current before RUN_DS.
    assert f"monitoring ds={RUN_DS}: nothing published before to judge" in log, log[-4000:]
    assert "nothing was published as recommendations by the night of" in log
    assert not (env.data_root / catalog.MONITORING).exists()
    # What the next night's monitor reads: every publication of tonight in the pointer's history.
    monkeypatch.setenv(stages.ENV, env.env[stages.ENV])
    root = str(env.data_root)
    history = outputs.read_history(root)
    assert {r["model"] for r in history} >= {s.name for s in stages.STAGES}
    for table in (catalog.RECOMMENDATIONS, catalog.CHURN_SCORES, catalog.REPURCHASE_SCORES):
        assert outputs.current_as_of(root, RUN_DS, table=table)["ds"] == RUN_DS, table


def test_published_lists_and_the_explorer_follow_the_score(nightly_run, monkeypatch):
    """The real recommendations table ranks by its score, so the explorer's "ranked by the model's
    score" list shows the scores in descending order."""
    from ecom_tasks.contract import USER_ID
    from ecom_tasks.publish import outputs
    from ecom_tasks.publish.tables import RANK, SCORE
    from ecom_tasks.ui.customers import lookup_customer

    env, _ = nightly_run
    monkeypatch.setenv(stages.ENV, env.env[stages.ENV])
    root = str(env.data_root)
    recs = outputs.read_current(root, catalog.RECOMMENDATIONS).sort_values([USER_ID, RANK])
    steps = recs.groupby(USER_ID)[SCORE].diff().dropna()
    assert len(steps) and (steps <= 1e-9).all(), recs[recs.index.isin(steps[steps > 1e-9].index)]
    customer = str(recs[USER_ID].iloc[0])
    shown = [r[SCORE] for r in lookup_customer(root, customer)["recommendations"]]
    assert len(shown) > 1 and shown == sorted(shown, reverse=True)
