"""``scripts/env.sh``: a home or data root exported after sourcing it is used throughout.

env.sh derives nothing from ``AIRFLOW_HOME`` or ``ECOM_DATA_ROOT``: Airflow derives its SQLite
database and log folders from ``AIRFLOW_HOME`` when it runs, and ``ecom_tasks`` derives MLflow's
embedded store from the data root when it runs, so a value exported later cannot leave one of them
pointing at the old place.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
ENV_SH = PROJECT / "scripts" / "env.sh"
# What the caller's environment might carry from an earlier env.sh (or a deployment): not inherited.
_INHERITED = re.compile(r"^(AIRFLOW_HOME|AIRFLOW__\w+|ECOM_\w+|MLFLOW_\w+)$")


def _source_then(script: str, **env: str) -> list[str]:
    """Run ``source scripts/env.sh && <script>`` in a clean environment; its stdout lines."""
    clean = {k: v for k, v in os.environ.items() if not _INHERITED.match(k)}
    proc = subprocess.run(
        ["bash", "-c", f"source scripts/env.sh && {script}"],
        env=clean | env, cwd=PROJECT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()


def test_env_sh_exports_nothing_derived_from_the_home_or_the_data_root() -> None:
    text = ENV_SH.read_text()
    exports = re.findall(r"^export (\w+)=(.*)$", text, re.M)
    assert {name for name, _ in exports} >= {"AIRFLOW_HOME", "ECOM_DATA_ROOT", "AIRFLOW__CORE__DAGS_FOLDER"}
    derived = [
        name
        for name, value in exports
        if name not in ("AIRFLOW_HOME", "ECOM_DATA_ROOT")
        and re.search(r"\$\{?(AIRFLOW_HOME|ECOM_DATA_ROOT)\b", value)
    ]
    assert derived == [], f"scripts/env.sh derives {derived} from a value that may be overridden later"


def test_a_home_and_data_root_exported_after_sourcing_are_used_throughout(tmp_path: Path) -> None:
    old, new, data = tmp_path / "old-home", tmp_path / "new-home", tmp_path / "new-data"
    lines = _source_then(
        f"export AIRFLOW_HOME={new} ECOM_DATA_ROOT={data}"
        " && airflow db migrate > /dev/null"
        " && airflow config get-value database sql_alchemy_conn"
        " && airflow config get-value logging base_log_folder"
        " && airflow config get-value logging dag_processor_child_process_log_directory"
        " && python -c 'from ecom_tasks.publish import tracking; print(tracking.tracking_uri(None))'",
        AIRFLOW_HOME=str(old),  # what sourcing sees: an earlier home
        ECOM_DATA_ROOT=str(tmp_path / "old-data"),
    )
    assert lines[-4:] == [
        f"sqlite:///{new}/airflow.db",
        f"{new}/logs",
        f"{new}/logs/dag_processor",
        f"sqlite:///{data.resolve()}/mlflow/mlflow.db",
    ]
    assert (new / "airflow.db").is_file()
    assert not old.exists()  # nothing went to the home env.sh saw


def test_without_overrides_the_home_and_data_root_are_the_checkouts() -> None:
    lines = _source_then(
        'echo "$AIRFLOW_HOME" "$ECOM_DATA_ROOT" "$AIRFLOW__CORE__DAGS_FOLDER"'
        ' "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN-unset}" "${MLFLOW_TRACKING_URI-unset}"'
    )
    home, data, dags, conn, tracking = lines[0].split()
    assert [Path(p).resolve() for p in (home, data, dags)] == [
        PROJECT / "airflow_home",
        PROJECT / "data",
        PROJECT / "dags",
    ]
    assert (conn, tracking) == ("unset", "unset")  # derived when used, from the home and the root then


def test_ecom_tracking_uri_gives_mlflows_commands_the_registry_of_the_data_root_exported_last(
    tmp_path: Path,
) -> None:
    # README's serving commands: source env.sh, export MLFLOW_TRACKING_URI="$(ecom tracking-uri)".
    data = tmp_path / "new-data"
    lines = _source_then(
        f'export ECOM_DATA_ROOT={data} && export MLFLOW_TRACKING_URI="$(ecom tracking-uri)"'
        " && echo $MLFLOW_TRACKING_URI",
        ECOM_DATA_ROOT=str(tmp_path / "old-data"),
    )
    assert lines[-1] == f"sqlite:///{data}/mlflow/mlflow.db"
