"""DAG integrity: DagBag imports cleanly, the DAG has its expected shape, DAG files stay wiring only."""

from __future__ import annotations

import ast
import datetime as dt
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
    ("check_params", "ingest"),
    ("ingest", "validate"),
    ("validate", "build_features"),
    ("build_features", "build_training_data"),
    ("build_features", "monitor"),
    ("build_training_data", "train_enabled"),
    ("train_enabled", "pretrain_retrieval"),
    ("pretrain_retrieval", "gate_retrieval"),
    ("gate_retrieval", "publish_retrieval"),
    # The anomaly stage needs only the training data (the default pool, no TensorFlow).
    ("train_enabled", "train_anomalies"),
    ("train_anomalies", "gate_anomalies"),
    ("gate_anomalies", "publish_anomalies"),
    *(
        edge
        for h in ("ranking", "churn", "repurchase")
        for edge in (
            ("pretrain_retrieval", f"fine_tune_{h}"),
            (f"fine_tune_{h}", f"gate_{h}"),
            (f"gate_{h}", f"publish_{h}"),
        )
    ),
    # The forecast needs the training data only (it reads the retrieval champion, not tonight's).
    ("train_enabled", "train_forecast"),
    ("train_forecast", "gate_forecast"),
    ("gate_forecast", "publish_forecast"),
    # The assistant needs the training data only (its support data is a run parameter).
    ("train_enabled", "train_assistant"),
    ("train_assistant", "gate_assistant"),
    ("gate_assistant", "publish_assistant"),
}
TRAINING_TASKS = {
    "pretrain_retrieval",
    "fine_tune_ranking",
    "fine_tune_churn",
    "fine_tune_repurchase",
    "train_assistant",
}
# The ecom_tasks modules a DAG file may import at parse time: declarations, nothing heavy.
PARSE_TIME = {"ecom_tasks.assets", "ecom_tasks.stages", "ecom_tasks.params", "ecom_tasks.errors"}
EXPECTED_TASKS = {t for edge in EXPECTED_EDGES for t in edge}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "ecom_nightly" in dagbag.dags
    assert "ecom_exports" in dagbag.dags


def test_nightly_shape(dagbag):
    dag = dagbag.dags["ecom_nightly"]
    assert {t.task_id for t in dag.tasks} == EXPECTED_TASKS
    edges = {(t.task_id, d) for t in dag.tasks for d in t.downstream_task_ids}
    assert edges == EXPECTED_EDGES
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert "CronDataInterval" in type(dag.timetable).__name__
    for t in dag.tasks:
        # Gates and the parameter check are deterministic: a retry would give the same answer.
        deterministic = t.task_id == "check_params" or t.task_id.startswith("gate_")
        assert t.retries == 0 if deterministic else t.retries >= 1, t.task_id
        assert t.execution_timeout is not None, t.task_id
        assert t.on_failure_callback, t.task_id
        assert (t.pool == "tensorflow") == (t.task_id in TRAINING_TASKS), t.task_id
    assert dag.on_failure_callback


def test_dags_name_no_model():
    """The models come from the registry: no DAG file spells a model's name."""
    from ecom_tasks import stages

    for path in DAGS.glob("*.py"):
        text = path.read_text()
        for name in stages.names():
            assert f'"{name}"' not in text and f"'{name}'" not in text and f"_{name}" not in text, (
                f"{path.name} names the model {name!r}"
            )


def test_each_model_is_a_task_group_after_its_upstream(dagbag):
    from ecom_tasks import stages

    dag = dagbag.dags["ecom_nightly"]
    for stage in stages.registered():
        group = dag.task_group_dict[stage.name]
        assert {t.task_id for t in group.children.values()} == {
            stage.task_id, f"gate_{stage.name}", f"publish_{stage.name}"
        }  # fmt: skip
        upstream = stages.get(stage.after).task_id if stage.after else "train_enabled"
        assert dag.get_task(stage.task_id).upstream_task_ids == {upstream}


def test_publication_emits_assets_and_exports_run_on_them(dagbag):
    nightly, exports = dagbag.dags["ecom_nightly"], dagbag.dags["ecom_exports"]
    outlets = {a.name for t in nightly.tasks if t.task_id.startswith("publish_") for a in t.outlets}
    assert {t.task_id for t in nightly.tasks if t.outlets} == {
        t.task_id for t in nightly.tasks if t.task_id.startswith("publish_")
    }
    assert {f"ecom_model_{m}" for m in ("retrieval", "ranking", "churn", "repurchase")} <= outlets
    assert {
        "ecom_output_recommendations",
        "ecom_output_churn_scores",
        "ecom_output_repurchase_scores",
    } <= outlets
    condition = exports.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"  # any one new table, not all of them
    scheduled_on = {a.name for a in condition.objects}
    assert scheduled_on == {
        "ecom_output_recommendations",
        "ecom_output_churn_scores",
        "ecom_output_repurchase_scores",
        "ecom_output_anomalies",  # the anomaly stage's tables are exported like the others
        "ecom_output_metric_anomalies",
        "ecom_output_demand_forecast",
        "ecom_output_inventory_plan",
        "ecom_output_price_elasticity",
        "ecom_output_assistant_intents",
    }


def test_the_trigger_form_is_the_one_declaration_of_the_run_parameters(dagbag):
    from ecom_tasks.params import DEFAULTS, FORM, RunParams

    params = dagbag.dags["ecom_nightly"].params
    assert set(params) == set(FORM) == set(DEFAULTS), "every run parameter is in the trigger form"
    for key, (default, schema, description) in FORM.items():
        param = params.get_param(key)
        assert param.value == default == getattr(RunParams(), key), key
        assert param.description == description and description, key
        assert {k: param.schema[k] for k in schema} == schema, key
    assert params["source"] == "synthetic"
    assert params["force_publish"] is False and params["skip_training"] is False


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
            if name.startswith("ecom_tasks"):  # only the light declarations at parse time
                assert name in PARSE_TIME, f"{path.name} imports {name} at parse time"


def test_what_dags_import_at_parse_time_is_light():
    """What the DAG files import at parse time loads no pandas, TensorFlow, MLflow or GE."""
    import subprocess
    import sys

    code = f"import sys, {', '.join(sorted(PARSE_TIME))}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    assert not loaded & HEAVY, loaded & HEAVY


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


def _readme_dates() -> list[dt.datetime]:
    """The logical dates of README's `airflow dags test` and `airflow backfill create` commands."""
    from tests.readme import commands

    dates = []
    for cmd in commands():
        if cmd.argv[:4] == ("airflow", "dags", "test", "ecom_nightly"):
            dates.append(cmd.argv[4])
        if "--from-date" in cmd.argv:
            dates.append(cmd.option("--from-date"))
    return [dt.datetime.fromisoformat(d).replace(tzinfo=dt.UTC) for d in dates]


def test_every_readme_date_and_source_history_gets_task_instances(dagbag):
    # A logical date before start_date gets a run with no task instance that reports success.
    from ecom_tasks.sources.sequence import DEFAULT_START

    dag = dagbag.dags["ecom_nightly"]
    dates = _readme_dates()
    assert len(dates) >= 4, dates  # the real-data, sequence, landing and backfill examples
    sequence_start = dt.datetime.fromisoformat(DEFAULT_START).replace(tzinfo=dt.UTC)
    online_retail_start = dt.datetime(2009, 12, 1, tzinfo=dt.UTC)  # Online Retail II's first day
    for day in [*dates, sequence_start, online_retail_start]:
        assert dag.start_date <= day, day
        assert all(t.start_date is None or t.start_date <= day for t in dag.tasks), day


def test_the_scheduler_still_runs_only_the_latest_interval(dagbag):
    # With an early start_date and catchup off, the first scheduled run is yesterday's interval,
    # not 1970's: the scheduler's own computation on the serialized DAG.
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.dags["ecom_nightly"]
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    info = serialized.next_dagrun_info(last_automated_run_info=None)
    now = dt.datetime.now(dt.UTC)
    assert now - dt.timedelta(days=2) <= info.data_interval.start < now, info


def test_fail_fast_skips_a_model_that_lacks_data_and_fails_a_bad_one(dagbag):
    # Model-agnostic: any error whose `skip` is set (NotEnoughDataError) skips its task with the
    # reason; a permanent error fails at once; anything else is left to the retries.
    import importlib.util

    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from ecom_tasks.errors import ContractError, NotEnoughDataError
    from ecom_tasks.heads.data import HeadDataError

    spec = importlib.util.spec_from_file_location("_nightly_dag", DAGS / "ecom_nightly.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for error, expected in (
        (
            NotEnoughDataError("churn not trained on ds=D: needs 91 days, the shop has 50"),
            AirflowSkipException,
        ),
        (HeadDataError("0 active labelled customers"), AirflowSkipException),
        (ContractError("events: bad column"), AirflowFailException),
        (OSError("disk"), OSError),
    ):
        with pytest.raises(expected) as raised, module._fail_fast():
            raise error
        assert str(error) in str(raised.value)
