"""docker-compose.yaml checked without a Docker engine.

It parses, follows the Compose specification's JSON schema, and agrees with the project: service
names, the image and its Dockerfile, Airflow settings that exist in Airflow's configuration, the
executor, mounts of the project's folders, health checks and start-up order, and the environment
variables the project reads.

tests/ops/compose-spec.json is the Compose specification's schema, copied unchanged from
https://github.com/compose-spec/compose-spec/blob/170098ba07d9f53c383a41bfd4c5166b0a4529a6/schema/compose-spec.json
(Apache License 2.0, redistributed with its licence in tests/ops/compose-spec.LICENSE), because
nothing can be downloaded at test time.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.ops import compose

PROJECT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = PROJECT / "docker-compose.yaml"
DOCKERFILE = PROJECT / "docker" / "Dockerfile"
INIT_SCRIPT = PROJECT / "docker" / "airflow-init.sh"
SCHEMA = Path(__file__).with_name("compose-spec.json")

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
STACK = AIRFLOW_SERVICES | {"postgres", "redis", "mlflow"}
ONE_SHOT = {"airflow-init"}
# Read by the project's code and scripts/env.sh; every Airflow container needs them.
PROJECT_ENV = ("ECOM_DATA_ROOT", "MLFLOW_TRACKING_URI", "TF_USE_LEGACY_KERAS", "ECOM_NIGHTLY_CRON")
TF_POOL = "tensorflow"


@pytest.fixture(scope="module")
def stack() -> dict:
    """The compose file as Docker Compose sees it with no variables set (every default applies)."""
    doc, _ = compose.load(COMPOSE_FILE)
    return doc


@pytest.fixture(scope="module")
def services(stack: dict) -> dict:
    return stack["services"]


def _airflow_env(services: dict) -> dict[str, dict[str, str]]:
    return {name: compose.environment(services[name]) for name in AIRFLOW_SERVICES}


def test_compose_file_follows_the_compose_specification(stack: dict) -> None:
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(stack), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_schema_catches_a_broken_service(stack: dict) -> None:
    """The check above has teeth: an unknown key and a wrongly typed field are both reported."""
    schema = json.loads(SCHEMA.read_text())
    broken = json.loads(json.dumps(stack))
    broken["services"]["redis"]["healthcheck"]["intervall"] = "10s"
    broken["services"]["airflow-worker"]["depends_on"] = 3
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken)]
    assert any("intervall" in m for m in messages)
    assert len(messages) >= 2


def test_every_variable_has_a_default() -> None:
    _, interpolator = compose.load(COMPOSE_FILE)
    assert interpolator.unset == set(), f"variables without a default: {sorted(interpolator.unset)}"
    # And settings can be overridden: a value from the environment wins over the default.
    doc, _ = compose.load(COMPOSE_FILE, {"AIRFLOW__CORE__EXECUTOR": "KubernetesExecutor"})
    env = compose.environment(doc["services"]["airflow-scheduler"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"


def test_interpolation_follows_the_specification() -> None:
    interp = compose.Interpolator({"SET": "v", "EMPTY": ""})
    assert interp.text("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${NOPE-d} $SET $$SET") == "v d  d v $SET"
    assert interp.text("${NOPE:-a${SET}b} ${SET:+alt} ${NOPE:+alt}") == "avb alt "
    with pytest.raises(compose.InterpolationError, match="NOPE: needed"):
        interp.text("${NOPE:?needed}")


def test_the_stack_has_every_service(services: dict) -> None:
    assert set(services) >= STACK, f"missing services: {sorted(STACK - set(services))}"


def test_airflow_services_run_the_project_image(services: dict) -> None:
    images = {services[name]["image"] for name in AIRFLOW_SERVICES | {"mlflow"}}
    assert len(images) == 1, f"Airflow services and MLflow should share one image, found {images}"
    for name in AIRFLOW_SERVICES | {"mlflow"}:
        build = services[name]["build"]
        assert (PROJECT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_dockerfile_installs_the_pinned_project() -> None:
    text = DOCKERFILE.read_text()
    pins = dict(
        line.split("==", 1)
        for line in (PROJECT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.lstrip().startswith("#")
    )
    base = re.search(r"^ARG AIRFLOW_BASE_IMAGE=(\S+)", text, re.M).group(1)
    assert base == f"apache/airflow:{pins['apache-airflow']}-python3.11"
    copied = set()
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        words = [w for w in line.split() if not w.startswith("--")]
        copied |= {Path(src).name for src in words[:-1]}
    for path in (
        "requirements.txt",
        "constraints.txt",
        "pyproject.toml",
        "ecom_tasks",
        "docker/airflow-init.sh",
    ):
        assert Path(path).name in copied, f"the Dockerfile does not copy {path}"
        assert (PROJECT / path).exists(), path
    assert re.search(r"-r \S*requirements\.txt -c \S*constraints\.txt", text)


def test_airflow_settings_exist_in_airflow(services: dict) -> None:
    from airflow.configuration import conf

    options = {
        section: set(spec.get("options", {})) for section, spec in conf.configuration_description.items()
    }
    unknown = set()
    for env in _airflow_env(services).values():
        for name in env:
            if name.startswith("AIRFLOW__"):
                section, _, key = name.removeprefix("AIRFLOW__").lower().partition("__")
                key = re.sub(r"_(cmd|secret)$", "", key) if key not in options.get(section, ()) else key
                if key not in options.get(section, ()):
                    unknown.add(name)
    assert not unknown, f"not options of Airflow's configuration: {sorted(unknown)}"


def test_celery_executor_wired_to_the_stack(services: dict) -> None:
    for name, env in _airflow_env(services).items():
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.scheme == "postgresql+psycopg2" and db.hostname == "postgres" and db.path == "/airflow"
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert broker.scheme == "redis" and broker.hostname == "redis", name
        backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3, which the image does not have.
        assert backend.scheme == "db+postgresql+psycopg2" and backend.hostname == "postgres", name
        api = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
        assert (api.hostname, api.port, api.path) == ("airflow-apiserver", 8080, "/execution/"), name
    published = services["airflow-apiserver"]["ports"][0]
    assert str(published).endswith(":8080"), "the api-server listens on 8080 in its container"


def test_ports_are_published_on_loopback_unless_asked(services: dict) -> None:
    """By default no service answers on the host's other interfaces (its secrets are defaults)."""
    published = {name: [str(p) for p in s.get("ports", [])] for name, s in services.items()}
    assert published["airflow-apiserver"] == ["127.0.0.1:8080:8080"]
    assert all(p.startswith("127.0.0.1:") for ports in published.values() for p in ports), published
    doc, _ = compose.load(COMPOSE_FILE, {"ECOM_BIND_ADDRESS": "0.0.0.0", "AIRFLOW_API_PORT": "9090"})
    assert doc["services"]["airflow-apiserver"]["ports"] == ["0.0.0.0:9090:8080"]


def test_auth_manager_is_importable(services: dict) -> None:
    """FAB by default (the official image ships its provider); the class must exist."""
    import importlib

    path = _airflow_env(services)["airflow-apiserver"]["AIRFLOW__CORE__AUTH_MANAGER"]
    module, _, name = path.rpartition(".")
    if module.startswith("airflow.providers.fab"):
        pytest.importorskip("airflow.providers.fab", reason="apache-airflow-providers-fab is not installed")
    assert isinstance(getattr(importlib.import_module(module), name), type)


def test_secrets_are_shared_by_every_airflow_service(services: dict) -> None:
    envs = _airflow_env(services)
    for name in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert len({env.get(name) for env in envs.values()}) == 1, f"{name} differs between services"
    # HS512 wants a key of at least 64 bytes; shorter ones only warn, but the default should not.
    assert len(envs["airflow-apiserver"]["AIRFLOW__API_AUTH__JWT_SECRET"]) >= 64


def test_worker_is_scalable(services: dict) -> None:
    worker = services["airflow-worker"]
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in worker, f"airflow-worker sets {fixed}, so --scale airflow-worker=3 would clash"
    assert worker["command"][:2] == ["celery", "worker"]


def test_long_running_services_have_health_checks(services: dict) -> None:
    for name, service in services.items():
        if name in ONE_SHOT:
            assert service.get("restart") == "no"
            continue
        test = (service.get("healthcheck") or {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"


def test_start_up_order(services: dict) -> None:
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} cannot become healthy"
    for name in AIRFLOW_SERVICES - ONE_SHOT:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
    worker = services["airflow-worker"]["depends_on"]
    assert worker["airflow-apiserver"]["condition"] == "service_healthy"
    assert worker["mlflow"]["condition"] == "service_healthy"


def test_project_folders_are_mounted_where_airflow_looks(stack: dict, services: dict) -> None:
    for name in AIRFLOW_SERVICES:
        env = compose.environment(services[name])
        mounts = compose.volume_mounts(services[name])
        for folder, setting in (
            ("dags", "AIRFLOW__CORE__DAGS_FOLDER"),
            ("plugins", "AIRFLOW__CORE__PLUGINS_FOLDER"),
        ):
            source = mounts.get(env[setting])
            assert source is not None, f"{name}: nothing mounted at {setting}={env[setting]}"
            assert (PROJECT / source).resolve() == PROJECT / folder, f"{name}: {source} is not ./{folder}"
            assert (PROJECT / folder).is_dir()
        data = mounts.get(env["ECOM_DATA_ROOT"])
        assert data in stack["volumes"], f"{name}: ECOM_DATA_ROOT is not on a named volume"
        assert mounts.get(env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]) in stack["volumes"], name


def test_project_environment_is_set(services: dict) -> None:
    dag_source = "\n".join(p.read_text() for p in (PROJECT / "dags").glob("*.py"))
    read_by_dags = set(re.findall(r"os\.(?:environ\.get|getenv)\(\s*[\"'](\w+)[\"']", dag_source))
    read_by_dags |= set(re.findall(r"os\.environ\[\s*[\"'](\w+)[\"']\s*\]", dag_source))
    for name, env in _airflow_env(services).items():
        missing = (set(PROJECT_ENV) | read_by_dags) - set(env)
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert env["TF_USE_LEGACY_KERAS"] == "1"
    # Same defaults as the DAG's: the schedule only changes when someone sets ECOM_NIGHTLY_CRON.
    default_cron = re.search(r"ECOM_NIGHTLY_CRON[\"'],\s*[\"']([^\"']+)[\"']", dag_source).group(1)
    assert _airflow_env(services)["airflow-scheduler"]["ECOM_NIGHTLY_CRON"] == default_cron


def test_embedded_settings_are_covered(services: dict) -> None:
    """Every Airflow setting scripts/env.sh makes for the embedded setup is made here too."""
    env_sh = (PROJECT / "scripts" / "env.sh").read_text()
    embedded = set(re.findall(r"^export (AIRFLOW__\w+)=", env_sh, re.M))
    assert embedded, "scripts/env.sh sets no AIRFLOW__ variable any more?"
    env = _airflow_env(services)["airflow-scheduler"]
    assert embedded <= set(env), f"set by scripts/env.sh but not here: {sorted(embedded - set(env))}"


def test_mlflow_server_uses_postgres_and_an_artifact_volume(stack: dict, services: dict) -> None:
    mlflow = services["mlflow"]
    args = dict(arg.removeprefix("--").split("=", 1) for arg in mlflow["command"] if "=" in arg)
    assert mlflow["command"][:2] == ["mlflow", "server"]
    store = urlsplit(args["backend-store-uri"])
    assert store.scheme.startswith("postgresql") and store.hostname == "postgres" and store.path == "/mlflow"
    postgres_env = compose.environment(services["postgres"])
    assert postgres_env["MLFLOW_DB_NAME"] == "mlflow" and postgres_env["POSTGRES_DB"] == "airflow"
    assert store.username == postgres_env["MLFLOW_DB_USER"]
    assert compose.volume_mounts(mlflow)[args["artifacts-destination"]] in stack["volumes"]
    assert "--serve-artifacts" in mlflow["command"]
    tracking = urlsplit(_airflow_env(services)["airflow-worker"]["MLFLOW_TRACKING_URI"])
    assert (tracking.hostname, tracking.port) == ("mlflow", int(args["port"]))
    assert any(h.startswith("mlflow") for h in args["allowed-hosts"].split(",")), "workers' Host header"
    init_sql = (PROJECT / "docker" / "postgres-init" / "10-mlflow-db.sh").read_text()
    assert "CREATE DATABASE" in init_sql and "MLFLOW_DB_NAME" in init_sql
    mounts = compose.volume_mounts(services["postgres"])
    assert (PROJECT / mounts["/docker-entrypoint-initdb.d"]).resolve() == PROJECT / "docker" / "postgres-init"


def test_init_migrates_creates_the_admin_and_the_pools_the_dag_uses(services: dict) -> None:
    init = services["airflow-init"]
    assert init["command"] == ["/opt/ecom/bin/airflow-init.sh"]
    assert "docker/airflow-init.sh /opt/ecom/bin/airflow-init.sh" in DOCKERFILE.read_text()
    script = INIT_SCRIPT.read_text()
    for step in ("airflow db migrate", "airflow users create", "airflow pools set"):
        assert step in script, f"airflow-init does not run {step}"
    assert re.search(rf"^TF_POOL={TF_POOL}$", script, re.M)
    assert compose.environment(init)["ECOM_TF_POOL_SLOTS"] == "1"
    used = _pools_used_by_dags()
    assert used <= {"default_pool", TF_POOL}, f"pools the DAGs use that airflow-init does not create: {used}"


def _value_of(node: ast.expr | None, constants: dict[str, object]) -> object:
    return node.value if isinstance(node, ast.Constant) else constants.get(getattr(node, "id", None))


def _pools_used_by_dags() -> set[object]:
    """The pools of the registry's model stages (the DAG takes each train task's pool from there),
    and ``pool`` values in the DAG files: keyword arguments and dict entries (e.g. default_args),
    as literal strings or module-level string constants."""
    from ecom_tasks import stages

    used: set[object] = {stage.pool or "default_pool" for stage in stages.registered()}
    for path in (PROJECT / "dags").glob("*.py"):
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "pool":
                used.add(_value_of(node.value, constants))
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if _value_of(key, constants) == "pool":
                        used.add(_value_of(value, constants))
    return used - {None}  # a value computed from the registry (``stage.pool``) is counted above


@pytest.mark.parametrize(
    "script",
    ["docker/airflow-init.sh", "docker/postgres-init/10-mlflow-db.sh", "scripts/ci_services.sh"],
)
def test_shell_scripts_are_valid_and_executable(script: str) -> None:
    path = PROJECT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_health_check_commands_match_airflow_defaults(services: dict) -> None:
    from airflow.configuration import conf

    port = conf.get_default_value("scheduler", "scheduler_health_check_server_port")
    scheduler = " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    assert f"localhost:{port}/health" in scheduler
    worker = shlex.split(services["airflow-worker"]["healthcheck"]["test"][1])
    assert worker[:3] == ["celery", "--app", "airflow.providers.celery.executors.celery_executor.app"]


def test_kubernetes_pod_template_runs_the_project_image() -> None:
    """The KubernetesExecutor's pod template (README: moving to Kubernetes) names its container
    "base", as the executor requires, and sets the variables the task code reads."""
    import yaml

    pod = yaml.safe_load((PROJECT / "docker" / "kubernetes" / "pod_template.yaml").read_text())
    assert pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    base = {c["name"]: c for c in pod["spec"]["containers"]}["base"]
    env = {e["name"]: e["value"] for e in base["env"]}
    assert {"ECOM_DATA_ROOT", "MLFLOW_TRACKING_URI", "TF_USE_LEGACY_KERAS"} <= set(env)
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert "ecom-ml-airflow" in base["image"]


def test_model_server_serves_the_retrieval_champion_from_the_registry(services: dict) -> None:
    server = services["model-server"]
    assert server["command"][:3] == ["mlflow", "models", "serve"]
    assert "--model-uri=models:/ecom_retrieval@champion" in server["command"]
    assert "--env-manager=local" in server["command"]  # the image already holds the model's packages
    assert server["image"] == services["mlflow"]["image"]
    env = compose.environment(server)
    assert env["MLFLOW_TRACKING_URI"] == _airflow_env(services)["airflow-worker"]["MLFLOW_TRACKING_URI"]
    assert env["TF_USE_LEGACY_KERAS"] == "1"
    assert server["depends_on"]["mlflow"]["condition"] == "service_healthy"
    assert "/ping" in " ".join(server["healthcheck"]["test"])
