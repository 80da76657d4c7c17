"""A real Airflow deployment on loopback, for the topology test and the scheduler-overhead benchmark.

The shape of docker-compose.yaml without Docker: PostgreSQL (and Redis for Celery) from
tests/ops/services.py, ``airflow db migrate`` against PostgreSQL, then Airflow's own processes
(api-server, scheduler, dag-processor and, for the CeleryExecutor, a Celery worker) as subprocesses
with a temp AIRFLOW_HOME and data root. The nightly DAG is triggered through the public REST API
(/api/v2) with a JWT from /auth/token, as a user or another system would.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.ops.api import ApiClient
from tests.ops.services import (
    LOOPBACK,
    PROJECT,
    Processes,
    TopologyError,
    free_port,
    mlflow_healthy,
    pg_bin,
    remove_pgdata,
    start_mlflow,
    start_postgres,
    start_redis,
    wait_until,
)
from tests.small_shop import SMALL_SHOP, SMALL_SHOP_GATES

DAG_ID = "ecom_nightly"
RUN_DS = "2024-01-28"
# The pool the DAG's TensorFlow tasks run in; docker-compose's airflow-init creates it the same way.
TF_POOL = "tensorflow"
ADMIN_USER = "admin"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
AIRFLOW_BIN = str(Path(sys.executable).parent / "airflow")
TERMINAL_RUN_STATES = {"success", "failed"}
log = logging.getLogger(__name__)


def missing_prerequisites(executor: str) -> list[str]:
    """What this machine lacks to run the topology with ``executor`` (empty when nothing)."""
    missing = [f"PostgreSQL's {b}" for b in ("initdb", "postgres") if pg_bin(b) is None]
    packages = {"psycopg2": "psycopg2-binary", "asyncpg": "asyncpg"}
    if executor == "CeleryExecutor":
        if shutil.which("redis-server") is None:
            missing.append("redis-server")
        packages["redis"] = "redis"
    # Top-level modules only: finding airflow.providers.* would import (and configure) Airflow.
    missing += [
        f"the {pkg} package" for module, pkg in packages.items() if importlib.util.find_spec(module) is None
    ]
    if executor == "CeleryExecutor" and not _installed("apache-airflow-providers-celery"):
        missing.append("the apache-airflow-providers-celery package")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        missing.append("runuser (PostgreSQL refuses to run as root)")
    return sorted(set(missing))


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def airflow_env(
    home: Path,
    data_root: Path,
    *,
    executor: str,
    sql_conn: str,
    api_port: int,
    broker_url: str | None,
    auth_manager: str = SIMPLE_AUTH_MANAGER,
) -> dict[str, str]:
    """The environment of every Airflow process: the compose file's variables, pointed at loopback."""
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    api = f"http://{LOOPBACK}:{api_port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__AUTH_MANAGER": auth_manager,
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_conn,
            "AIRFLOW__API__HOST": LOOPBACK,
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"{api}/",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),  # >= 64 bytes for HS512
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # The api-server's first execution-API call can take over the 5 s default on two busy cores.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
            # Only the run we trigger: unpausing must not add a scheduled run for "yesterday".
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "ECOM_DATA_ROOT": str(data_root),
            # Replaced by the MLflow server's URL when the stack runs one.
            "MLFLOW_TRACKING_URI": f"sqlite:///{data_root}/mlflow/mlflow.db",
            "ECOM_GATE_CONFIG": str(SMALL_SHOP_GATES),
            "TF_USE_LEGACY_KERAS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",  # service logs are read while the services run
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
    )
    if broker_url is not None:
        result_db = "db+" + sql_conn  # the driver stays explicit: SQLAlchemy 2.1 defaults to psycopg 3
        env.update(
            {
                "AIRFLOW__CELERY__BROKER_URL": broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": result_db,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
            }
        )
    return env


@dataclass
class AirflowStack:
    """A running deployment: its processes, Airflow home, data root, environment and API client."""

    procs: Processes
    home: Path
    data_root: Path
    env: dict[str, str]
    api: ApiClient
    executor: str

    def airflow(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AIRFLOW_BIN, *args], env=self.env, cwd=PROJECT, capture_output=True, text=True, timeout=timeout
        )

    def diagnostics(self, lines: int = 60) -> str:
        """Service logs and task logs, for a failure message."""
        parts = [self.procs.tail_logs(lines)]
        for log in sorted((self.home / "logs").rglob("*.log")):
            text = log.read_text(errors="replace").splitlines()
            parts.append(f"===== task log {log.relative_to(self.home)} =====\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _create_admin(stack: AirflowStack, password: str) -> None:
    """FAB: create the admin user (the simple auth manager reads it from config and a file)."""
    if stack.env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER:
        user = ["-u", ADMIN_USER, "-p", password, "-r", "Admin", "-f", "Ecom", "-l", "Admin"]
        # The running api-server has synced FAB's roles already; syncing again here would race it.
        env = {**stack.env, "AIRFLOW__FAB__UPDATE_FAB_PERMS": "False"}
        cmd = [AIRFLOW_BIN, "users", "create", *user, "-e", "admin@example.invalid"]
        proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True, timeout=180)
        if proc.returncode != 0:
            raise TopologyError(f"airflow users create failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


def _start(
    procs: Processes, workdir: Path, executor: str, auth_manager: str, mlflow: bool, startup_timeout: float
) -> AirflowStack:
    started = time.monotonic()
    home, data_root = workdir / "airflow_home", workdir / "data"
    home.mkdir()
    data_root.mkdir()
    server = start_postgres(procs, workdir, ("airflow", "mlflow") if mlflow else ("airflow",))
    sql_conn = f"{server}/airflow"
    broker = start_redis(procs, workdir) if executor == "CeleryExecutor" else None
    tracking = start_mlflow(procs, workdir, f"{server}/mlflow") if mlflow else None
    api_port = free_port()
    env = airflow_env(
        home,
        data_root,
        executor=executor,
        sql_conn=sql_conn,
        api_port=api_port,
        broker_url=broker,
        auth_manager=auth_manager,
    )
    password = secrets.token_urlsafe(12)
    # The simple auth manager reads its users from config and their passwords from this file.
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({ADMIN_USER: password}) + "\n")
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{ADMIN_USER}:admin"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)
    if tracking is not None:
        env["MLFLOW_TRACKING_URI"] = tracking
    api = ApiClient(f"http://{LOOPBACK}:{api_port}", ADMIN_USER, password)
    stack = AirflowStack(procs, home, data_root, env, api, executor)
    log.info("services up after %.1fs", time.monotonic() - started)

    migrate = stack.airflow("db", "migrate", timeout=300)
    if migrate.returncode != 0:
        raise TopologyError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}{migrate.stderr[-3000:]}")
    log.info("db migrated after %.1fs", time.monotonic() - started)
    procs.start("scheduler", [AIRFLOW_BIN, "scheduler"], env)
    procs.start("dag-processor", [AIRFLOW_BIN, "dag-processor"], env)
    if executor == "CeleryExecutor":
        worker = [
            AIRFLOW_BIN,
            "celery",
            "worker",
            "--concurrency",
            "2",
            "--without-mingle",
            "--without-gossip",
        ]
        procs.start("celery-worker", worker, env)
    # Stateless, and its process lingers after uvicorn has finished: no long grace period.
    procs.start("api-server", [AIRFLOW_BIN, "api-server", "--workers", "1"], env, stop_timeout=5)
    wait_until("the api-server to report healthy", api.healthy, startup_timeout, procs)
    log.info("api-server healthy after %.1fs", time.monotonic() - started)
    if tracking is not None:
        wait_until("the MLflow server to report healthy", lambda: mlflow_healthy(tracking), 120, procs)
    _create_admin(stack, password)
    return stack


@contextlib.contextmanager
def airflow_stack(
    workdir: Path,
    executor: str = "CeleryExecutor",
    auth_manager: str = SIMPLE_AUTH_MANAGER,
    mlflow: bool = True,
    startup_timeout: float = 240,
) -> Iterator[AirflowStack]:
    """Start PostgreSQL, Redis (Celery only), an MLflow server (``mlflow``) and Airflow's processes;
    stop everything on exit.

    The simple auth manager is the default because FAB's role sync adds about a minute of start-up
    on two cores; ``auth_manager=FAB_AUTH_MANAGER`` runs the compose file's choice instead.
    """
    procs = Processes(log_dir=workdir / "service-logs")
    procs.log_dir.mkdir(parents=True)
    stack = None
    try:
        try:
            stack = _start(procs, workdir, executor, auth_manager, mlflow, startup_timeout)
        except Exception as exc:
            # A service that would not start explains itself in its log.
            raise TopologyError(f"{exc}\n{procs.tail_logs()}") from exc
        yield stack
    finally:
        stopping = time.monotonic()
        if stack is not None:
            stack.api.close()
        procs.stop_all()
        remove_pgdata(workdir)
        log.info("stopped in %.1fs", time.monotonic() - stopping)


@dataclass
class RunResult:
    run: dict[str, Any]
    task_instances: list[dict[str, Any]]
    seconds_to_finish: float


def run_nightly(
    stack: AirflowStack, ds: str = RUN_DS, conf: dict[str, Any] | None = None, timeout: float = 480
) -> RunResult:
    """Unpause and trigger ``ecom_nightly`` for ``ds`` through the REST API; wait for a final state."""
    api, procs = stack.api, stack.procs
    wait_until(f"the dag-processor to serialize {DAG_ID}", lambda: api.dag_parsed(DAG_ID), 180, procs)
    api.ensure_pool(TF_POOL, 1, "At most one TensorFlow training task at a time")
    api.unpause(DAG_ID)
    started = time.monotonic()
    run_id = api.trigger(DAG_ID, ds, SMALL_SHOP if conf is None else conf)

    def finished() -> dict[str, Any] | None:
        run = api.dag_run(DAG_ID, run_id)
        return run if run["state"] in TERMINAL_RUN_STATES else None

    run = wait_until(f"{DAG_ID} run {run_id} to finish", finished, timeout, procs)
    elapsed = time.monotonic() - started
    return RunResult(run, api.task_instances(DAG_ID, run_id), elapsed)


def task_seconds(ti: dict[str, Any]) -> float:
    """A task instance's run time from its start and end dates (0 when it never ran)."""
    if not ti.get("start_date") or not ti.get("end_date"):
        return 0.0
    start, end = (dt.datetime.fromisoformat(ti[k]) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def run_backfill(stack: AirflowStack, args: list[str], *, timeout: float = 600) -> list[dict[str, Any]]:
    """``airflow <args>``, an ``airflow backfill create`` command (README's, with its dates and conf set);
    wait until the backfill completes; return its days' runs.

    Each day's run is the latest run with that logical date (a reprocessed day reruns it).
    """
    api, procs = stack.api, stack.procs
    assert args[:2] == ["backfill", "create"] and args[args.index("--dag-id") + 1] == DAG_ID, args
    start, end = args[args.index("--from-date") + 1], args[args.index("--to-date") + 1]
    known = {b["id"] for b in api.backfills(DAG_ID)}
    proc = stack.airflow(*args)
    if proc.returncode != 0:
        raise TopologyError(f"airflow {' '.join(args)} failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")

    def new() -> list[dict[str, Any]]:
        return [b for b in api.backfills(DAG_ID) if b["id"] not in known]

    created = wait_until("the backfill to be created", new, 60, procs)
    backfill_id = created[0]["id"]

    def completed() -> bool:
        return any(b["id"] == backfill_id and b["completed_at"] for b in api.backfills(DAG_ID))

    wait_until(f"backfill {backfill_id} ({start}..{end}) to complete", completed, timeout, procs)
    days = {
        (dt.date.fromisoformat(start) + dt.timedelta(days=i)).isoformat()
        for i in range((dt.date.fromisoformat(end) - dt.date.fromisoformat(start)).days + 1)
    }
    latest: dict[str, dict[str, Any]] = {}
    for run in api.dag_runs(DAG_ID):
        day = (run.get("logical_date") or "")[:10]
        if day in days and (day not in latest or run["run_after"] > latest[day]["run_after"]):
            latest[day] = run
    return [latest[d] for d in sorted(latest)]
