"""README's "Running on your own data" commands, read out of README.md and run as written.

Each ``airflow dags test ecom_nightly DATE -c '{...}'`` of README runs through ``bash`` after
``source scripts/env.sh``, with its date and parameters unchanged except: ``source_path`` points at
a slice of the same file (or, for the landing folder, a small generated folder), and ``epochs`` is
capped, so that the three training runs fit CI. The slices keep the README date as their last day
and more than the heads' 90-day label horizon. Gates use the small-shop sanity floors
(``config/gates-small-shop.yaml``, as the other end-to-end tests): a few hundred customers give
test sets where calibration and baseline gaps are noise. The README paths themselves are checked
to name the real files under ``../shared/data``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract as c
from ecom_tasks import storage
from tests.conftest import SHARED_DATA
from tests.readme import Command, dags_tests

from .conftest import PROJECT, AirflowEnv, make_airflow_env

pytestmark = pytest.mark.slow
MODELS = ("retrieval", "ranking", "churn", "repurchase")
EPOCHS = 2
SHARED_PREFIX = "../shared/data/"


def _readme_command(source: str) -> Command:
    (cmd,) = [c for c in dags_tests() if json.loads(c.option("-c"))["source"] == source]
    return cmd


def _readme_shared_file(cmd: Command) -> Path:
    """The real file README names, which must be where README says (relative to the project)."""
    path = json.loads(cmd.option("-c"))["source_path"]
    assert path.startswith(SHARED_PREFIX), f"README's {path} is not under {SHARED_PREFIX}"
    real = SHARED_DATA / path.removeprefix(SHARED_PREFIX)
    if not real.is_file():
        pytest.skip(f"{real} (README: {path}) is absent (set ECOM_SHARED_DATA to point at it)")
    return real


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> AirflowEnv:
    """One Airflow home for the module; each command gets its own data root."""
    return make_airflow_env(tmp_path_factory.mktemp("readme"))


def run_as_written(
    env: AirflowEnv,
    cmd: Command,
    source_path: Path,
    data_root: Path,
    ds: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``source scripts/env.sh && <README's command>`` with ``source_path`` (and ``ds``) replaced."""
    conf = json.loads(cmd.option("-c")) | {"source_path": str(source_path), "epochs": EPOCHS}
    argv = list(cmd.argv)
    argv[argv.index("-c") + 1] = json.dumps(conf)
    if ds:
        argv[4] = ds
    data_root.mkdir(exist_ok=True)
    run_env = (
        env.env
        | {
            "ECOM_PROJECT": str(PROJECT),
            "ECOM_DATA_ROOT": str(data_root),
            "MLFLOW_TRACKING_URI": f"sqlite:///{data_root}/mlflow/mlflow.db",
        }
        | (extra_env or {})
    )
    script = f"source scripts/env.sh && {shlex.join(argv)}"
    proc = subprocess.run(
        ["bash", "-c", script], env=run_env, cwd=PROJECT, capture_output=True, text=True, timeout=1200
    )
    (env.home / f"{data_root.name}-{argv[4]}.log").write_text(
        proc.stdout + "\n--- stderr ---\n" + proc.stderr
    )
    return proc


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stdout[-3000:] + "\n--- stderr ---\n" + proc.stderr[-5000:]).strip()


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def assert_processed_trained_published(root: Path, ds: str, first: dt.date) -> None:
    """Every day of the slice landed and validated, and every model trained, blessed and published."""
    from ecom_tasks.publish import outputs

    expected = _days(first, dt.date.fromisoformat(ds))
    for table in c.TABLES:
        assert storage.list_partitions(str(root), "raw", table) == expected, table
    assert storage.list_partitions(str(root), "validated", c.EVENTS) == expected
    assert storage.read_manifest(storage.partition_uri(str(root), "raw", c.EVENTS, ds)).row_count > 0
    pointer = outputs.read_pointer(str(root))
    for model in MODELS:
        folder = root / "models" / model / f"ds={ds}"
        blessing = json.loads((folder / "blessing.json").read_text())
        assert blessing["blessed"] is True, (model, blessing)
        assert pointer["models"][model]["ds"] == ds, (model, pointer["models"][model])


# --- UCI Online Retail II -------------------------------------------------------------------------


def online_retail_slice(real: Path, out: Path, first: str, last: str, every: int = 3) -> Path:
    """Lines from ``first`` to ``last`` of the real file, a third of its customers, re-gzipped.

    Anonymous lines are kept for one invoice in ``every`` (the adapter's anonymous path runs).
    """
    raw = pd.read_csv(real, dtype=str, keep_default_na=False)
    day = raw["InvoiceDate"].str[:10]
    customer = pd.to_numeric(raw["Customer ID"], errors="coerce")
    invoice = pd.to_numeric(raw["Invoice"].str.lstrip("CA"), errors="coerce").fillna(0)
    sampled = (customer % every == 0) | (customer.isna() & (invoice % every == 0))
    lines = raw[(day >= first) & (day <= last) & sampled]
    with gzip.open(out, "wt", newline="") as fh:
        lines.to_csv(fh, index=False)
    return out


@pytest.fixture(scope="module")
def online_retail_run(airflow_env: AirflowEnv, tmp_path_factory: pytest.TempPathFactory):
    cmd = _readme_command("online_retail")
    ds = cmd.argv[4]
    real = _readme_shared_file(cmd)
    tmp = tmp_path_factory.mktemp("online_retail")
    first = (dt.date.fromisoformat(ds) - dt.timedelta(days=129)).isoformat()
    part = online_retail_slice(real, tmp / "online_retail_II_slice.csv.gz", first, ds)
    return cmd, part, run_as_written(airflow_env, cmd, part, tmp / "data"), tmp / "data"


@pytest.mark.realdata
def test_online_retail_command_processes_trains_and_publishes(online_retail_run):
    cmd, part, proc, root = online_retail_run
    assert cmd.argv[4] == "2010-12-09"  # the file's last day
    assert proc.returncode == 0, _tail(proc)
    first = pd.read_csv(part, usecols=["InvoiceDate"])["InvoiceDate"].min()[:10]
    assert_processed_trained_published(root, cmd.argv[4], dt.date.fromisoformat(first))


@pytest.mark.realdata
def test_a_day_outside_the_file_fails_naming_its_days(online_retail_run, airflow_env, tmp_path):
    # Before the file (and before the DAG's old start_date, where the run used to have no task
    # and still report success): the run fails in ingest and says which days the file holds.
    cmd, part, _, _ = online_retail_run
    # ingest retries (its I/O retries apply to every error for now): retry at once, not in minutes.
    fast_retries = {"AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "1"}
    proc = run_as_written(airflow_env, cmd, part, tmp_path / "data", ds="2009-06-30", extra_env=fast_retries)
    assert proc.returncode != 0
    log = proc.stdout + proc.stderr
    assert "holds days 2010-08-02..2010-12-09; the run's day ds=2009-06-30 has no data" in log, _tail(proc)
    assert storage.list_partitions(str(tmp_path / "data"), "raw", c.EVENTS) == []


# --- ordered sequences (Amazon Beauty 5-core) -----------------------------------------------------


def sequence_slice(real: Path, out: Path, users: int) -> Path:
    """The first ``users`` lines of the file plus its longest line (so its last day stays the file's)."""
    lines = real.read_text().splitlines()
    longest = max(lines, key=lambda line: len(line.split()))
    keep = lines[:users] + ([longest] if longest not in lines[:users] else [])
    out.write_text("\n".join(keep) + "\n")
    return out


@pytest.mark.realdata
def test_sequence_command_processes_trains_and_publishes(airflow_env, tmp_path):
    from ecom_tasks.sources.sequence import DEFAULT_START

    cmd = _readme_command("sequence")
    real = _readme_shared_file(cmd)
    longest = max(len(line.split()) - 1 for line in real.read_text().splitlines())
    last_day = dt.date.fromisoformat(DEFAULT_START) + dt.timedelta(days=longest - 1)
    assert cmd.argv[4] == last_day.isoformat()  # README runs the file's last day
    part = sequence_slice(real, tmp_path / "Beauty.txt", users=1500)
    proc = run_as_written(airflow_env, cmd, part, tmp_path / "data")
    assert proc.returncode == 0, _tail(proc)
    assert_processed_trained_published(tmp_path / "data", cmd.argv[4], dt.date.fromisoformat(DEFAULT_START))


# --- a landing folder -----------------------------------------------------------------------------


def landing_folder(out: Path, first: dt.date, last: dt.date) -> Path:
    """A small built-in shop written as a landing folder: one ``ds=`` sub-folder of parquet files a day."""
    from ecom_tasks.sources.landing import write_landing_day
    from ecom_tasks.sources.synthetic import SyntheticShopConfig, generate

    shop = SyntheticShopConfig(seed=11, start_date=first.isoformat(), n_users=400, n_items=100)
    for day, tables in generate(shop, first, last):
        new = {
            t: f[f[c.FIRST_SEEN].dt.date == day]
            for t, f in (("items", tables.items), ("users", tables.users))
        }
        write_landing_day(out, day, type(tables)(tables.events, new["items"], new["users"]))
    return out


def test_landing_command_processes_trains_and_publishes(airflow_env, tmp_path):
    cmd = _readme_command("landing")
    ds = dt.date.fromisoformat(cmd.argv[4])
    assert json.loads(cmd.option("-c"))["source_path"] == "/data/landing"  # a placeholder: replaced
    first = ds - dt.timedelta(days=129)
    folder = landing_folder(tmp_path / "landing", first, ds)
    proc = run_as_written(airflow_env, cmd, folder, tmp_path / "data")
    assert proc.returncode == 0, _tail(proc)
    assert_processed_trained_published(tmp_path / "data", cmd.argv[4], first)
