"""One real run of ``ecom_nightly`` through Airflow, shared by the end-to-end assertions."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA
from tests.readme import Command, dags_tests
from tests.small_shop import SMALL_SHOP, SMALL_SHOP_GATES

PROJECT = Path(__file__).resolve().parents[2]
TOY_ENTRY = "tests.toy_stage.entry:STAGE"
RUN_DS = "2024-01-21"
SHARED_PREFIX = "../shared/data/"


def readme_assistant_command() -> Command | None:
    """README's ``airflow dags test`` of the assistant (the one with ``support_data``); None when README has
    no such command (tests/e2e/test_assistant_e2e.py fails then)."""
    found = [c for c in dags_tests() if "support_data" in json.loads(c.option("-c"))]
    return found[0] if len(found) == 1 else None


# The customer-service assistant trains on the public support data where it is (CI has it): the shared
# run is README's assistant command, its parameters on the small shop and its day (README's 2000-user
# shop would add minutes), its support_data where the shared data is. The other DAG runs do not configure
# it, so there it steps aside with its reason.
ASSISTANT_COMMAND = readme_assistant_command()
ASSISTANT_CONF = json.loads(ASSISTANT_COMMAND.option("-c")) if ASSISTANT_COMMAND else {}
SUPPORT_DATA = SHARED_DATA / ASSISTANT_CONF.get("support_data", "customer-service").removeprefix(
    SHARED_PREFIX
)
NIGHTLY_CONF = (
    {**SMALL_SHOP, **ASSISTANT_CONF, "support_data": str(SUPPORT_DATA)}
    if SUPPORT_DATA.is_dir()
    else SMALL_SHOP
)


AIRFLOW_DB = "airflow.db"
_TEMPLATE_DB: Path | None = None  # see _migrated_db


@dataclass
class AirflowEnv:
    home: Path
    data_root: Path
    env: dict[str, str]

    def airflow(self, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
        airflow = str(Path(sys.executable).parent / "airflow")
        return subprocess.run(
            [airflow, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=PROJECT
        )

    def dags_test(
        self, ds: str, conf: dict, readme: Command | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test ecom_nightly ds -c conf``: README's command ``readme`` as written but for
        its day and conf, when given."""
        argv = ["dags", "test", "ecom_nightly", ds, "-c", json.dumps(conf)]
        if readme is not None:
            argv = list(readme.argv[1:])
            assert argv[:3] == ["dags", "test", "ecom_nightly"], readme
            argv[3], argv[argv.index("-c") + 1] = ds, json.dumps(conf)
        proc = self.airflow(*argv)
        log = self.home / f"dags-test-{ds}.log"
        log.write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
        return proc


def make_airflow_env(tmp: Path) -> AirflowEnv:
    home = tmp / "airflow_home"
    data_root = tmp / "data"
    home.mkdir()
    data_root.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / AIRFLOW_DB}",
            "ECOM_DATA_ROOT": str(data_root),
            "MLFLOW_TRACKING_URI": f"sqlite:///{data_root}/mlflow/mlflow.db",
            "ECOM_GATE_CONFIG": str(SMALL_SHOP_GATES),
            # A model registered from outside the package rides along (tests/toy_stage): the DAG,
            # the check, the gate and publication must follow the registry.
            "ECOM_MODEL_STAGES": TOY_ENTRY,
            "PYTHONPATH": str(PROJECT),
            "TF_USE_LEGACY_KERAS": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
    )
    airflow_env = AirflowEnv(home=home, data_root=data_root, env=env)
    # SQLite's backup copies a consistent database, whatever its write-ahead log still holds.
    template, db = sqlite3.connect(_migrated_db(airflow_env)), sqlite3.connect(home / AIRFLOW_DB)
    try:
        template.backup(db)
    finally:
        template.close()
        db.close()
    return airflow_env


def _migrated_db(airflow_env: AirflowEnv) -> Path:
    """A metadata database after ``airflow db migrate`` and the TensorFlow pool, made once per test
    process and copied into each Airflow home (each migration took 12-35 s; eight homes use it).

    Only the SQLite file is copied: ``airflow.cfg``, which Airflow writes into a new home, names that home.
    """
    global _TEMPLATE_DB
    if _TEMPLATE_DB is None:
        folder = Path(tempfile.mkdtemp(prefix="ecom-test-airflow-db-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        home = folder / "airflow_home"
        home.mkdir()
        template = replace(
            airflow_env,
            home=home,
            env={
                **airflow_env.env,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / AIRFLOW_DB}",
            },
        )
        proc = template.airflow("db", "migrate", timeout=300)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        proc = template.airflow("pools", "set", "tensorflow", "1", "one TensorFlow training task at a time")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        _TEMPLATE_DB = home / AIRFLOW_DB
    return _TEMPLATE_DB


@pytest.fixture(scope="session")
def nightly_run(tmp_path_factory: pytest.TempPathFactory):
    """A fresh Airflow home and data root, and one successful ``airflow dags test`` of ecom_nightly."""
    airflow_env = make_airflow_env(tmp_path_factory.mktemp("e2e"))
    proc = airflow_env.dags_test(RUN_DS, NIGHTLY_CONF, readme=ASSISTANT_COMMAND)
    assert proc.returncode == 0, (proc.stdout[-6000:], proc.stderr[-6000:])
    return airflow_env, proc
