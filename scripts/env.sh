# Environment of the embedded setup: source it (". scripts/env.sh") before using airflow by hand.
# Every value can be overridden by exporting it first.
_here="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export ECOM_PROJECT="${ECOM_PROJECT:-$_here}"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ECOM_PROJECT/airflow_home}"
export ECOM_DATA_ROOT="${ECOM_DATA_ROOT:-$ECOM_PROJECT/data}"
export AIRFLOW__CORE__DAGS_FOLDER="${AIRFLOW__CORE__DAGS_FOLDER:-$ECOM_PROJECT/dags}"
export AIRFLOW__CORE__PLUGINS_FOLDER="${AIRFLOW__CORE__PLUGINS_FOLDER:-$ECOM_PROJECT/plugins}"
export AIRFLOW__CORE__LOAD_EXAMPLES="${AIRFLOW__CORE__LOAD_EXAMPLES:-False}"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite:///$AIRFLOW_HOME/airflow.db}"
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-True}"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="${AIRFLOW__LOGGING__BASE_LOG_FOLDER:-$AIRFLOW_HOME/logs}"
# The api-server (UI, REST API, the Shop ML page) listens on this machine only, not on every
# interface (Airflow's default 0.0.0.0): http://127.0.0.1:8080/. Export 0.0.0.0 to open it up.
export AIRFLOW__API__HOST="${AIRFLOW__API__HOST:-127.0.0.1}"
# SQLite cannot live in a bucket: with an object-store root (s3://...) set MLFLOW_TRACKING_URI yourself (README).
case "$ECOM_DATA_ROOT" in
  *://*) ;;
  *) export MLFLOW_TRACKING_URI="${MLFLOW_TRACKING_URI:-sqlite:///$ECOM_DATA_ROOT/mlflow/mlflow.db}" ;;
esac
# TensorFlow Recommenders 0.7.7 needs the legacy tf-keras (DESIGN.md).
export TF_USE_LEGACY_KERAS=1
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
export PATH="$ECOM_PROJECT/.venv/bin:$PATH"
unset _here
