"""docker-compose.yaml's topology with real processes, on loopback, without Docker; and backfills.

PostgreSQL and Redis (installed by scripts/ci_services.sh), ``airflow db migrate`` against PostgreSQL,
and the real api-server, scheduler, dag-processor and Celery worker with the CeleryExecutor. The
nightly DAG is unpaused and triggered through the REST API for a small synthetic shop, and must
finish successfully with its partitions committed under the data root. Whatever stages the DAG has,
every task must succeed and every partition it wrote for the run's day must carry a manifest.

Then, on the same deployment, the on-call engineer's backfills, README's ``airflow backfill create``
commands with the small shop's conf: data only over the days before gives one complete set of
partitions per day; running it again with ``--reprocess-behavior completed`` rewrites and duplicates
nothing; and a backfilled older day that trains never moves the champion back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from ecom_tasks import catalog
from tests.ops.services import TopologyError, mlflow_healthy, wait_until
from tests.ops.topology import (
    DAG_ID,
    RUN_DS,
    SMALL_SHOP,
    AirflowStack,
    RunResult,
    airflow_stack,
    missing_prerequisites,
    run_backfill,
    run_nightly,
)
from tests.readme import commands

pytestmark = pytest.mark.slow

MISSING = missing_prerequisites("CeleryExecutor")
RAW_TABLES = ("events", "items", "users")
BACKFILL_OPTIONS = ("--reprocess-behavior", "--dag-run-conf")
BACKFILL_DAYS = 3


def _check_run(stack: AirflowStack, result: RunResult) -> None:
    run, tis = result.run, result.task_instances
    assert run["state"] == "success", f"run {run['dag_run_id']} ended {run['state']}"
    assert run["conf"] == SMALL_SHOP
    assert run["logical_date"].startswith(RUN_DS)
    assert tis, "the run has no task instances"
    states = Counter(ti["state"] for ti in tis)
    assert set(states) <= {"success", "skipped"} and states["success"] >= 1, states

    # The Celery worker, not the scheduler, ran the tasks. Its "succeeded" line for the last task can
    # come a moment after the run is marked done (the task reports its state first).
    worker_log = stack.procs.log_dir / "celery-worker.log"

    def ran() -> int:
        return len(
            re.findall(r"execute_workload\[[^\]]+\] succeeded", worker_log.read_text(errors="replace"))
        )

    with contextlib.suppress(TopologyError):
        wait_until("the Celery worker's log", lambda: ran() >= states["success"], 30)
    assert ran() >= states["success"], f"the Celery worker ran {ran()} of {states['success']} tasks"

    partitions = sorted(p for p in stack.data_root.rglob(f"ds={RUN_DS}") if p.is_dir())
    assert partitions, f"nothing written for ds={RUN_DS} under {stack.data_root}"
    for table in RAW_TABLES:
        assert stack.data_root / "raw" / table / f"ds={RUN_DS}" in partitions, f"raw/{table} missing"
    tracking = stack.env["MLFLOW_TRACKING_URI"]
    assert mlflow_healthy(tracking), f"the MLflow server at {tracking} stopped answering"
    events = json.loads((stack.data_root / "raw" / "events" / f"ds={RUN_DS}" / "_manifest.json").read_text())
    assert events["row_count"] > 0
    for partition in partitions:
        # A model folder (models/<model>/ds=D) is committed by the training record, not a manifest;
        # its evaluation.parquet is one of its files, like metrics.json.
        if partition.parent.parent.name == catalog.MODELS:
            continue
        if any(p.suffix == ".parquet" for p in partition.iterdir()):
            manifest = partition / "_manifest.json"
            assert manifest.exists(), f"{partition} has data files but no _manifest.json"
            assert json.loads(manifest.read_text())["row_count"] >= 0


FEATURE_TABLES = ("customer_profiles", "item_features", "funnel_daily", "training_examples")


def _manifests(root: Path, days: list[str]) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_text()
        for day in days
        for p in sorted(root.rglob(f"ds={day}/_manifest.json"))
    }


def _champions(stack: AirflowStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict | None]:
    from ecom_tasks.publish.stage import champion_info

    monkeypatch.setenv("MLFLOW_TRACKING_URI", stack.env["MLFLOW_TRACKING_URI"])
    return {
        m: champion_info(str(stack.data_root), m) for m in ("retrieval", "ranking", "churn", "repurchase")
    }


def _readme_backfill(option: str | None, start: str, end: str, conf: dict) -> list[str]:
    """README's ``airflow backfill create`` with ``option`` (None: the plain one), as written but for its
    dates and the run conf (the small shop's, merged over README's own ``--dag-run-conf``)."""
    (cmd,) = [
        c
        for c in commands()
        if c.argv[:3] == ("airflow", "backfill", "create")
        and (option in c.argv if option else not {*BACKFILL_OPTIONS} & {*c.argv})
    ]
    args = list(cmd.argv[1:])
    assert args[args.index("--max-active-runs") + 1] == "1", args  # one day at a time (README says why)
    args[args.index("--from-date") + 1], args[args.index("--to-date") + 1] = start, end
    if "--dag-run-conf" in args:
        at = args.index("--dag-run-conf") + 1
        args[at] = json.dumps(conf | json.loads(args[at]))
    else:
        args += ["--dag-run-conf", json.dumps(conf)]
    return args


def _check_backfills(stack: AirflowStack, monkeypatch: pytest.MonkeyPatch) -> None:
    champions = _champions(stack, monkeypatch)
    assert all(c and c["ds"] == RUN_DS for c in champions.values()), champions
    # Three days before the champion's, data only, then one older day that trains (the day before the
    # champion's). Three days show what a week would: each day a run of its own, in order, on the
    # features of the day before; each DAG run of the topology costs 15-40 s.
    before_champion = dt.date.fromisoformat(RUN_DS) - dt.timedelta(days=1)
    days = [(before_champion - dt.timedelta(days=i)).isoformat() for i in range(BACKFILL_DAYS, 0, -1)]

    data_only = _readme_backfill("--dag-run-conf", days[0], days[-1], SMALL_SHOP)
    assert json.loads(data_only[data_only.index("--dag-run-conf") + 1])["skip_training"] is True
    runs = run_backfill(stack, data_only, timeout=900)
    assert [r["logical_date"][:10] for r in runs] == days
    assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]
    for day in days:
        for stage, tables in (("raw", RAW_TABLES), ("validated", RAW_TABLES), ("features", FEATURE_TABLES)):
            for table in tables:
                part = stack.data_root / stage / table / f"ds={day}" / "_manifest.json"
                assert part.exists(), f"backfill left no {stage}/{table} for {day}"
    before = _manifests(stack.data_root, days)

    reprocess = _readme_backfill(
        "--reprocess-behavior", days[0], days[-1], {**SMALL_SHOP, "skip_training": True}
    )
    assert reprocess[reprocess.index("--reprocess-behavior") + 1] == "completed"
    runs = run_backfill(stack, reprocess, timeout=900)
    assert [r["logical_date"][:10] for r in runs] == days
    assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]
    assert _manifests(stack.data_root, days) == before  # nothing rewritten, nothing duplicated

    # A backfilled older day trains (and registers nothing newer): the champion stays on RUN_DS. Its gates
    # step aside whatever the models learn, so one epoch does.
    day = before_champion.isoformat()
    (run,) = run_backfill(stack, _readme_backfill(None, day, day, {**SMALL_SHOP, "epochs": 1}), timeout=900)
    assert run["state"] == "success", run
    states = {ti["task_id"]: ti["state"] for ti in stack.api.task_instances(DAG_ID, run["dag_run_id"])}
    assert states["pretrain_retrieval"] == "success" and states["gate_retrieval"] == "skipped", states
    assert all(states[f"gate_{m}"] == "skipped" for m in champions), states
    assert _champions(stack, monkeypatch) == champions


@pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {', '.join(MISSING)} (scripts/ci_services.sh installs PostgreSQL and Redis)",
)
def test_nightly_succeeds_on_postgres_redis_and_celery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with airflow_stack(tmp_path, executor="CeleryExecutor") as stack:
        try:
            result = run_nightly(stack, RUN_DS, SMALL_SHOP, timeout=900)
            _check_run(stack, result)
            _check_backfills(stack, monkeypatch)
        except BaseException:
            # pytest shows captured output of a failed test: the service and task logs.
            print(stack.diagnostics())
            raise
