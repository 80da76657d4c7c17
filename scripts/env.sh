# Environment of the embedded setup: source it (". scripts/env.sh") before using airflow by hand.
# Every value can be overridden by exporting it, before sourcing or after: nothing here is derived from
# AIRFLOW_HOME or ECOM_DATA_ROOT, so a home or data root exported later is used throughout. Airflow derives
# its SQLite database ({AIRFLOW_HOME}/airflow.db) and log folder ({AIRFLOW_HOME}/logs) from AIRFLOW_HOME
# when it runs, and ecom_tasks derives MLflow's embedded store ({ECOM_DATA_ROOT}/mlflow/mlflow.db) from the
# data root when it runs (tests/test_env_sh.py checks both). ECOM_PROJECT (the checkout) is the one value
# to set before sourcing: the dags and plugins folders and PATH come from it.
_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export ECOM_PROJECT="${ECOM_PROJECT:-$_here}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ECOM_PROJECT/airflow_home}"
export ECOM_DATA_ROOT="${ECOM_DATA_ROOT:-$ECOM_PROJECT/data}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ECOM_PROJECT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ECOM_PROJECT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
# The api-server (UI, REST API, the Shop ML page) listens on this machine only, not on every
# interface (Airflow's default 0.0.0.0): http://127.0.0.1:8080/. Export 0.0.0.0 to open it up.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# With an object-store root (s3://...) set MLFLOW_TRACKING_URI yourself: SQLite cannot live in a bucket (README).
# TensorFlow Recommenders 0.7.7 needs the legacy tf-keras (DESIGN.md).
export TF_USE_LEGACY_KERAS=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PATH="$ECOM_PROJECT/.venv/bin:$PATH"
unset _here
