"""DAG integrity: DagBag imports cleanly, the DAG has its expected shape, DAG files stay wiring only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
HEAVY = {
    "pandas",
    "numpy",
    "tensorflow",
    "tensorflow_recommenders",
    "great_expectations",
    "mlflow",
    "sklearn",
}

EXPECTED_EDGES: set[tuple[str, str]] = {
    ("ingest", "validate"),
    ("validate", "build_features"),
    ("build_features", "build_training_data"),
}
EXPECTED_TASKS = {t for edge in EXPECTED_EDGES for t in edge}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ecom_nightly" in dagbag.dags


def test_nightly_shape(dagbag):
    dag = dagbag.dags["ecom_nightly"]
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == EXPECTED_EDGES
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "CronDataInterval" in type(dag.timetable).__name__
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.execution_timeout is not None, t.task_id


def test_params_have_descriptions_and_defaults(dagbag):
    params = dagbag.dags["ecom_nightly"].params
    assert params["source"] == "synthetic"
    for key in params:
        assert params.get_param(key).description, f"param {key} has no description"


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_nothing_heavy_at_top_level(path):
    tree = ast.parse(path.read_text())
    for node in tree.body:  # module level only: imports inside task bodies are the point
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in HEAVY, f"{path.name} imports {name} at top level"
            assert not name.startswith("ecom_tasks"), f"{path.name} imports {name} at parse time"


@pytest.mark.parametrize("path", sorted(DAGS.glob("*.py")), ids=lambda p: p.name)
def test_each_task_body_calls_one_ecom_tasks_function(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        if not any(
            isinstance(d, ast.Name | ast.Attribute | ast.Call) and "task" in ast.unparse(d)
            for d in node.decorator_list
        ):
            continue
        imported = [
            alias.asname or alias.name
            for sub in ast.walk(node)
            if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("ecom_tasks")
            for alias in sub.names
        ]
        work = [n for n in imported if n[0].islower()]  # functions, not config classes
        assert len(work) == 1, (
            f"{path.name}:{node.name} calls {work}; a task calls exactly one ecom_tasks function"
        )
