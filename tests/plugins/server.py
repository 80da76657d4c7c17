"""The real ``airflow api-server`` for the browser test: a temp AIRFLOW_HOME with SQLite, the
simple auth manager with one admin user (authentication on), this project's plugins folder and
a given data root. Processes, ports and the REST client come from tests/ops."""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.ops.api import ApiClient
from tests.ops.services import LOOPBACK, PROJECT, Processes, TopologyError, free_port, wait_until
from tests.ops.topology import ADMIN_USER, AIRFLOW_BIN, SIMPLE_AUTH_MANAGER, airflow_env


@dataclass
class ApiServer:
    url: str
    api: ApiClient
    procs: Processes

    def token(self) -> str:
        """A JWT of the admin user from /auth/token."""
        return self.api._login()


def _env(home: Path, data_root: str, port: int) -> dict[str, str]:
    env = airflow_env(
        home, Path(data_root), executor="LocalExecutor", sql_conn=f"sqlite:///{home}/airflow.db",
        api_port=port, broker_url=None, auth_manager=SIMPLE_AUTH_MANAGER,
    )  # fmt: skip
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "False"  # authentication on
    return env


def migrated_db(cache_dir: Path, workdir: Path) -> Path:
    """A migrated Airflow SQLite database, made once per Airflow version (``airflow db migrate``
    takes about 20 s here) and kept in ``cache_dir``."""
    cached = cache_dir / f"airflow-{importlib.metadata.version('apache-airflow')}.db"
    if cached.exists():
        return cached
    home = workdir / "migrate_home"
    home.mkdir(parents=True)
    env = _env(home, str(workdir), free_port())
    proc = subprocess.run([AIRFLOW_BIN, "db", "migrate"], env=env, cwd=PROJECT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    if proc.returncode != 0:
        raise TopologyError(f"airflow db migrate failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "airflow.db", cached)
    return cached


@contextlib.contextmanager
def api_server(workdir: Path, data_root: str, db: Path, startup_timeout: float = 240) -> Iterator[ApiServer]:
    """Start ``airflow api-server`` on a free loopback port; stop it (and its children) on exit."""
    home = workdir / "airflow_home"
    home.mkdir(parents=True)
    shutil.copy(db, home / "airflow.db")
    port = free_port()
    env = _env(home, data_root, port)
    password = secrets.token_urlsafe(12)
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.write_text(json.dumps({ADMIN_USER: password}) + "\n")
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = f"{ADMIN_USER}:admin"
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(passwords)
    procs = Processes(log_dir=workdir / "service-logs")
    procs.log_dir.mkdir(parents=True)
    url = f"http://{LOOPBACK}:{port}"
    api = ApiClient(url, ADMIN_USER, password)
    try:
        procs.start("api-server", [AIRFLOW_BIN, "api-server", "--workers", "1"], env, stop_timeout=5)
        try:
            wait_until("the api-server to report healthy", api.healthy, startup_timeout, procs)
        except Exception as exc:
            raise TopologyError(f"{exc}\n{procs.tail_logs()}") from exc
        yield ApiServer(url, api, procs)
    finally:
        api.close()
        procs.stop_all()
