"""Issue 16 through the whole DAG: a 5x duplicated file, a day-first file, a wrong then corrected file.

One Airflow home and data root for the three; each run is ``airflow dags test`` with
``skip_training``. The logical date is after the DAG's start_date and ``end_date`` picks the
historical day (a run before start_date would run no task).
"""

from __future__ import annotations

import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from tests.e2e.conftest import make_airflow_env
from tests.test_data_safety import retail_lines, write_csv

pytestmark = pytest.mark.slow
LOGICAL = "2024-06-03"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory):
    env = make_airflow_env(tmp_path_factory.mktemp("safety"))
    # A refused file fails the same way on every retry: do not wait minutes between them here.
    env.env["AIRFLOW__CORE__MAX_TASK_RETRY_DELAY"] = "1"
    return env


def _conf(path, end_date: str) -> dict:
    return {"source": "online_retail", "source_path": str(path), "end_date": end_date, "skip_training": True}


def test_bad_files_are_refused_and_a_corrected_file_replaces_the_wrong_one(airflow_env, tmp_path):
    lines = retail_lines(days=12, per_day=6)
    five = write_csv(tmp_path / "five.csv", [line for line in lines for _ in range(5)])
    proc = airflow_env.dags_test(LOGICAL, _conf(five, "2009-12-12"))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "repeat an earlier line exactly" in log, log[-4000:]
    dayfirst = write_csv(tmp_path / "dayfirst.csv", retail_lines(days=12, per_day=6, dayfirst=True))
    proc = airflow_env.dags_test(LOGICAL, _conf(dayfirst, "2009-12-12"))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "ambiguous day/month order" in log, log[-4000:]
    root = str(airflow_env.data_root)
    assert storage.list_partitions(root, "raw", c.EVENTS) == []  # nothing landed by either
    # The wrong file: the same orders a year early (as a misread export would put them).
    import datetime as dt

    wrong = write_csv(tmp_path / "wrong.csv", retail_lines(days=12, per_day=6, start=dt.date(2008, 12, 1)))
    right = write_csv(tmp_path / "right.csv", lines)
    proc = airflow_env.dags_test(LOGICAL, _conf(wrong, "2008-12-12"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    proc = airflow_env.dags_test(LOGICAL, _conf(right, "2009-12-12"))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    for stage in ("raw", "validated"):
        days = storage.list_partitions(root, stage, c.EVENTS)
        assert days and all(d.year == 2009 for d in days), (stage, days)
    summary = storage.read_json(f"{root}/ingest/summary/ds=2009-12-12/summary.json")
    assert summary["retracted"]["retracted_days"][0] == "2008-12-01"
    assert storage.read_json(summary["retracted"]["retraction_record"])["moved"]
