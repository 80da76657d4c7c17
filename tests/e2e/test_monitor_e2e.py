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
