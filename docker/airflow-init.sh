#!/usr/bin/env bash
# One-off initialisation of the stack, run by docker-compose.yaml's airflow-init service before any
# other Airflow service starts: folders and their owner, the metadata database, the admin user and
# the pools the DAG needs. Every step is idempotent, so `docker compose up` can run it every time.
#
# Environment: AIRFLOW_UID, AIRFLOW_HOME, ECOM_DATA_ROOT, AIRFLOW__CORE__AUTH_MANAGER,
# AIRFLOW_ADMIN_USERNAME, AIRFLOW_ADMIN_PASSWORD (and Airflow's own AIRFLOW__* configuration).
set -euo pipefail

: "${AIRFLOW_HOME:=/opt/airflow}"
: "${AIRFLOW_UID:=50000}"
: "${AIRFLOW_ADMIN_USERNAME:=admin}"
: "${AIRFLOW_ADMIN_PASSWORD:=admin}"
# At most one TensorFlow training task at a time on a worker (the DAG's training tasks use this pool).
TF_POOL=tensorflow
TF_POOL_SLOTS="${ECOM_TF_POOL_SLOTS:-1}"

echo "airflow-init: folders"
folders=("$AIRFLOW_HOME/logs")
# A local data root is a mounted volume that Airflow's user must be able to write; an object-store
# URI (s3://, gs://) needs no folder.
if [[ "${ECOM_DATA_ROOT:-}" == /* ]]; then
    folders+=("$ECOM_DATA_ROOT")
fi
mkdir -p "${folders[@]}"
if [[ $(id -u) -eq 0 ]]; then
    chown -R "$AIRFLOW_UID:0" "${folders[@]}"
fi

echo "airflow-init: airflow db migrate"
airflow db migrate

case "${AIRFLOW__CORE__AUTH_MANAGER:-}" in
    *FabAuthManager)
        echo "airflow-init: admin user $AIRFLOW_ADMIN_USERNAME (FAB)"
        # Prints "already exists" and succeeds when the user is there.
        airflow users create --username "$AIRFLOW_ADMIN_USERNAME" --password "$AIRFLOW_ADMIN_PASSWORD" \
            --firstname Admin --lastname User --role Admin --email "$AIRFLOW_ADMIN_USERNAME@example.invalid"
        ;;
    *SimpleAuthManager | "")
        # The simple auth manager takes users from [core] simple_auth_manager_users and their
        # passwords from this file; write the admin's so it is not a generated one.
        passwords="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated}"
        echo "airflow-init: admin password for the simple auth manager in $passwords"
        mkdir -p "$(dirname "$passwords")"
        python - "$passwords" "$AIRFLOW_ADMIN_USERNAME" "$AIRFLOW_ADMIN_PASSWORD" <<'PY'
import json, pathlib, sys
path, user, password = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
known = json.loads(path.read_text()) if path.exists() and path.read_text().strip() else {}
known[user] = password
path.write_text(json.dumps(known) + "\n")
PY
        if [[ $(id -u) -eq 0 ]]; then chown "$AIRFLOW_UID:0" "$passwords"; fi
        ;;
    *)
        echo "airflow-init: auth manager ${AIRFLOW__CORE__AUTH_MANAGER}: create its users yourself"
        ;;
esac

echo "airflow-init: pool $TF_POOL ($TF_POOL_SLOTS slot)"
airflow pools set "$TF_POOL" "$TF_POOL_SLOTS" "At most one TensorFlow training task at a time"

echo "airflow-init: done"
