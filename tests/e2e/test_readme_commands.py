"""README's "Running on your own data" commands, read out of README.md and run as written.

Each ``airflow dags test ecom_nightly DATE -c '{...}'`` of README runs through ``bash`` after
``source scripts/env.sh``, in a data root of its own (README's ``export ECOM_DATA_ROOT=...`` lines),
with its date and parameters unchanged except: ``source_path`` points at a slice of the same file
(or, for the landing folder, a small generated folder), and ``epochs`` is capped at 2, so that the
training runs fit CI. The slices end on the README date and hold more than the heads' 90-day label
horizon. Gates use the small-shop sanity floors (``config/gates-small-shop.yaml``, as the other
end-to-end tests): a few hundred customers give test sets where calibration and baseline gaps are
noise. README's paths are checked to name the real files under ``../shared/data``. Also here:
README's ``ecom`` commands on the published shop, a day outside the file failing loudly, and a
historical manual trigger getting task instances."""

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
from tests.readme import Command, commands, dags_tests

from .conftest import PROJECT, RUN_DS, SMALL_SHOP, AirflowEnv, make_airflow_env

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


def _bash(env: AirflowEnv, argv: list[str], data_root: Path, extra_env: dict[str, str] | None = None):
    """``source scripts/env.sh && argv`` in the project, as a person following README would."""
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
    return subprocess.run(
        ["bash", "-c", script], env=run_env, cwd=PROJECT, capture_output=True, text=True, timeout=1200
    )


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
    proc = _bash(env, argv, data_root, extra_env)
    (env.home / f"{conf['source']}-{argv[4]}.log").write_text(
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


@pytest.mark.realdata
def test_readme_model_commands_on_the_published_shop(online_retail_run, airflow_env):
    # README's `ecom models list [--model churn]` and `ecom summary --ds D` (D: the run's day) on the
    # shop the real-data command published. Rollback is run in tests/publish/test_publish.py.
    cmd, _, proc, root = online_retail_run
    assert proc.returncode == 0, _tail(proc)
    (listing,) = [c for c in commands() if c.argv[:3] == ("ecom", "models", "list")]
    assert listing.argv[3:] == ("[--model", "churn]")  # an optional part, run both ways
    for argv in (["ecom", "models", "list"], ["ecom", "models", "list", "--model", "churn"]):
        out = _bash(airflow_env, argv, root)
        assert out.returncode == 0, out.stderr[-3000:]
        for model in ("churn",) if "--model" in argv else MODELS:
            assert f"ecom_{model}" in out.stdout and "champion" in out.stdout, out.stdout
    (summary,) = [c for c in commands() if c.argv[:2] == ("ecom", "summary")]
    out = _bash(airflow_env, [*summary.argv[:-1], cmd.argv[4]], root)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"ds={cmd.argv[4]}" in out.stdout and "raw/events" in out.stdout, out.stdout


def test_a_historical_manual_trigger_gets_task_instances(tmp_path):
    # The trigger form and the REST API create a manual run through DAG.create_dagrun, as
    # `airflow dags trigger` does: a logical date before start_date would get no task instance.
    import sqlite3

    env = make_airflow_env(tmp_path)
    assert env.airflow("dags", "reserialize").returncode == 0
    proc = env.airflow("dags", "trigger", "ecom_nightly", "--logical-date", "2009-12-05T00:00:00+00:00")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with sqlite3.connect(env.home / "airflow.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM task_instance ti JOIN dag_run dr ON ti.run_id = dr.run_id "
            "WHERE dr.dag_id = 'ecom_nightly' AND dr.logical_date LIKE '2009-12-05%'"
        ).fetchone()
    assert count >= 18  # every task of the run


# --- ordered sequences (Amazon Beauty 5-core) -----------------------------------------------------


def sequence_slice(real: Path, out: Path, users: int) -> Path:
    """The first ``users`` lines of the file plus its longest line (so its last day stays the file's)."""
    lines = real.read_text().splitlines()
    longest = max(lines, key=lambda line: len(line.split()))
    keep = lines[:users] + ([longest] if longest not in lines[:users] else [])
    out.write_text("\n".join(keep) + "\n")
    return out


@pytest.fixture(scope="module")
def sequence_run(airflow_env: AirflowEnv, tmp_path_factory: pytest.TempPathFactory):
    from ecom_tasks.sources.sequence import DEFAULT_START

    cmd = _readme_command("sequence")
    real = _readme_shared_file(cmd)
    longest = max(len(line.split()) - 1 for line in real.read_text().splitlines())
    last_day = dt.date.fromisoformat(DEFAULT_START) + dt.timedelta(days=longest - 1)
    assert cmd.argv[4] == last_day.isoformat()  # README runs the file's last day
    tmp = tmp_path_factory.mktemp("sequence")
    part = sequence_slice(real, tmp / "Beauty.txt", users=1500)
    # A task that fails on this day would retry: at once, not in minutes.
    fast_retries = {"AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": "1"}
    proc = run_as_written(airflow_env, cmd, part, tmp / "data", extra_env=fast_retries)
    return cmd, proc, tmp / "data", dt.date.fromisoformat(DEFAULT_START)


@pytest.mark.realdata
def test_sequence_command_is_green_and_each_model_is_published_or_steps_aside(sequence_run, airflow_env):
    # As README says: ordinal time leaves one user in the file's last week, too few for retrieval's
    # gate to decide; the night is still green: every day landed and validated, the features were
    # built, retrieval trained, and each model either published or was skipped with its reason.
    from ecom_tasks import nightly

    cmd, proc, root, first = sequence_run
    ds = cmd.argv[4]
    assert proc.returncode == 0, _tail(proc)
    log = proc.stdout + proc.stderr
    expected = _days(first, dt.date.fromisoformat(ds))
    assert storage.list_partitions(str(root), "raw", c.EVENTS) == expected
    assert storage.list_partitions(str(root), "validated", c.EVENTS) == expected
    run = json.loads((root / "models" / "retrieval" / f"ds={ds}" / "_run.json").read_text())["result"]
    assert run["eval_users"] <= 2 and run["train_interactions"] > 10_000, run
    skipped = {}
    for model in MODELS:
        folder = root / "models" / model / f"ds={ds}"
        record = nightly.read_skip(str(root), model, ds)
        if record is None:  # published
            assert json.loads((folder / "blessing.json").read_text())["blessed"] is True, model
            continue
        assert record["reason"].startswith(f"{model} ") and f"ds={ds}" in record["reason"], record
        assert record["reason"] in log, record  # the skipped task says why
        skipped[model] = record
    assert skipped["retrieval"]["step"] == "gate", skipped
    reason = skipped["retrieval"]["reason"]
    assert f"{run['eval_users']} held-out users in its test window, the gate needs at least 20" in reason
    assert not (root / "models" / "retrieval" / f"ds={ds}" / "blessing.json").exists()
    out = _bash(airflow_env, ["ecom", "summary", "--ds", ds], root)  # the run summary says why
    assert out.returncode == 0, out.stderr[-3000:]
    for record in skipped.values():
        verb = "not trained" if record["step"] == "train" else "not gated"
        assert f"{verb}: {record['reason']}" in out.stdout, out.stdout


# --- a landing folder -----------------------------------------------------------------------------


def landing_folder(out: Path, first: dt.date, last: dt.date) -> Path:
    """The end-to-end tests' small built-in shop, opening on ``first``, as a landing folder:
    one ``ds=`` sub-folder a day with that day's events and the items and users first seen on it."""
    from ecom_tasks.sources.landing import write_landing_day
    from ecom_tasks.sources.synthetic import SyntheticShopConfig, generate

    shop = SyntheticShopConfig(
        seed=SMALL_SHOP["seed"],
        start_date=first.isoformat(),
        n_users=SMALL_SHOP["synthetic_users"],
        n_items=SMALL_SHOP["synthetic_items"],
    )
    for day, tables in generate(shop, first, last):
        items, users = (f[f[c.FIRST_SEEN].dt.date == day] for f in (tables.items, tables.users))
        write_landing_day(out, day, type(tables)(tables.events, items, users))
    return out


def test_landing_command_processes_trains_and_publishes(airflow_env, tmp_path):
    cmd = _readme_command("landing")
    ds = dt.date.fromisoformat(cmd.argv[4])
    assert json.loads(cmd.option("-c"))["source_path"] == "/data/landing"  # a placeholder: replaced
    first = ds - (dt.date.fromisoformat(RUN_DS) - dt.date.fromisoformat(SMALL_SHOP["synthetic_start_date"]))
    folder = landing_folder(tmp_path / "landing", first, ds)
    proc = run_as_written(airflow_env, cmd, folder, tmp_path / "data")
    assert proc.returncode == 0, _tail(proc)
    assert_processed_trained_published(tmp_path / "data", cmd.argv[4], first)
