#!/usr/bin/env bash
# Installs the services that tests/ops/test_celery_topology.py starts on loopback: PostgreSQL and Redis,
# from Debian's packages. Idempotent: does nothing when both are already there. The test starts its own
# throw-away instances on free ports, so the distribution's default services are not needed.
set -euo pipefail

have_postgres() {
    command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_redis() { command -v redis-server >/dev/null 2>&1; }

packages=()
have_postgres || packages+=(postgresql)
have_redis || packages+=(redis-server)
if ((${#packages[@]} == 0)); then
    echo "ci_services: PostgreSQL and Redis are installed"
    exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { echo "ci_services: need root (or sudo) to install ${packages[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "ci_services: installing ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
have_postgres && have_redis || { echo "ci_services: ${packages[*]} did not install" >&2; exit 1; }
echo "ci_services: installed ${packages[*]}"
