"""
### ecom_nightly

The shop's nightly machine learning:

check_params -> ingest -> validate -> build_features -> build_training_data -> train_enabled
-> one task group per registered model (`ecom_tasks/stages.py`): train -> gate -> publish,
   placed after its upstream (the training data, or the model it starts from)
build_features -> monitor: what was published before the run's day, judged against what happened
   since (realized hit rate, ROC AUC, calibration), and drift; it does not wait for today's models

A manual trigger's parameters are checked first (nothing is written when one is wrong), and
`check_params` decides the day the run processes once; every task reads it from there.
`skip_training` stops after the features and reports. A blocked gate shows red and publishes
nothing; a gate of a backfilled day older than the champion is skipped (kept, not promoted) unless
`force_publish` is set. A model the shop's data cannot train or judge yet (too young, small or
sparse) is skipped with the reason, and its gate and publication with it; its champion stays
published, and the night is green when everything that could run did. Publication emits the
`ecom_model_*` / `ecom_output_*` assets. An error a retry cannot fix (a bad file or parameter, a
contract violation, a blocked gate) fails its task at once; other failures are retried with back-off.

Each task calls exactly one function of the `ecom_tasks` package; this file only wires them and
names no model: the registry does. Any day from 1970-01-01 on can be run (a shop's history); a day
outside the source's data fails ingest.
Outputs live under `$ECOM_DATA_ROOT/{stage}/{table}/ds=YYYY-MM-DD/`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, TaskGroup, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ecom_tasks.assets import published_assets
from ecom_tasks.errors import is_permanent, skips
from ecom_tasks.params import form_fields
from ecom_tasks.stages import ModelStage, registered

# Parse-time code stays light: no pandas/tensorflow/great_expectations/mlflow imports here.
# A data-interval timetable on UTC midnights: each run's interval is exactly the UTC day D (the data
# contract's interval), it starts once D has ended, and its logical date is D 00:00, so backfill
# date ranges (--from-date/--to-date) include both ends. Another cron moves the intervals with it.
SCHEDULE = CronDataIntervalTimetable(os.environ.get("ECOM_NIGHTLY_CRON", "0 0 * * *"), timezone="UTC")

TRAINING_TIMEOUT = dt.timedelta(hours=4)
# A shop's history is what it runs on first (Online Retail: 2009-2011, Amazon Beauty: 2000): a logical
# date before start_date gets a run with no task instance that still reports success, so start_date
# is early enough for any history. With catchup off the scheduler still runs only the latest interval.
EARLIEST_DAY = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@contextlib.contextmanager
def _fail_fast() -> Iterator[None]:
    """An error a retry cannot fix fails the task at once; anything else is retried.

    Not enough data (an error whose ``skip`` is set: the shop is too young, small or sparse for a
    model) skips the task with the reason instead: what runs after it is skipped too.
    """
    try:
        yield
    except AirflowSkipException:
        raise
    except Exception as exc:
        if skips(exc):
            raise AirflowSkipException(str(exc)) from exc
        if is_permanent(exc):
            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
        raise


def _alert(context: dict[str, Any]) -> None:
    """Failure callback: log, record under the data root, and notify $ECOM_ALERT_WEBHOOK / _CALLBACK."""
    from ecom_tasks.alerts import notify_failure

    notify_failure(context)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-team",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=2),
    "on_failure_callback": _alert,
}

# The trigger form: defaults, schema and descriptions come from ecom_tasks.params (one place).
PARAMS = {name: Param(**fields) for name, fields in form_fields().items()}


def _data_root() -> str:
    from ecom_tasks.storage import data_root

    return data_root()


def _scheduled_day(context: dict[str, Any]) -> dt.date:
    """The run's logical day, or the last complete day for a manual run without a logical date."""
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    return (context["dag_run"].run_after - dt.timedelta(days=1)).date()


def _ds(context: dict[str, Any]) -> str:
    """The day this run processes, as `check_params` decided it (one decision for the whole run)."""
    return context["ti"].xcom_pull(task_ids="check_params")["ds"]


@dag(
    dag_id="ecom_nightly",
    schedule=SCHEDULE,
    start_date=EARLIEST_DAY,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["ecom", "ml"],
    doc_md=__doc__,
    on_failure_callback=_alert,
)
def ecom_nightly() -> None:
    @task(retries=0)
    def check_params(**context: Any) -> dict[str, Any]:
        """Refuse a wrong manual trigger (naming the parameter) before any task writes anything."""
        from ecom_tasks.nightly import check_run

        with _fail_fast():
            return check_run(context["params"], _scheduled_day(context))

    @task
    def ingest(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Land the source's days up to the run's date as raw partitions."""
        from ecom_tasks.ingest import IngestConfig, ingest

        with _fail_fast():
            return ingest(_data_root(), plan["ds"], IngestConfig.from_params(context["params"]))

    @task
    def validate(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Great Expectations gate over each landed day not yet validated; critical failures stop the run."""
        from ecom_tasks.validation import ValidationConfig
        from ecom_tasks.validation.backlog import validate_landed

        # File sources land closed days (Saturdays, holidays) as explicit empty partitions; an empty
        # day from the built-in shop is an outage.
        config = ValidationConfig(allow_empty_events=context["params"]["source"] != "synthetic")
        with _fail_fast():
            return validate_landed(_data_root(), _ds(context), config)

    @task
    def build_features(validated: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Customer profiles, item features, behaviour analytics and their report, as of the run's date."""
        from ecom_tasks.features.stage import build_features

        with _fail_fast():
            return build_features(_data_root(), _ds(context))

    @task
    def monitor(features: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Realized performance of earlier publications and drift; skipped when nothing was published."""
        from ecom_tasks.monitoring.config import MonitorConfig
        from ecom_tasks.monitoring.stage import monitor

        with _fail_fast():
            return monitor(_data_root(), _ds(context), MonitorConfig())

    @task
    def build_training_data(features: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Point-in-time training examples and retrieval interactions."""
        from ecom_tasks.features.stage import build_training_data

        with _fail_fast():
            return build_training_data(_data_root(), _ds(context))

    @task.short_circuit
    def train_enabled(training_data: dict[str, Any], **context: Any) -> bool:
        """False with `skip_training`: everything after this is skipped."""
        from ecom_tasks.nightly import should_train

        return should_train(context["params"])

    def train(stage: ModelStage) -> Any:
        pool = {"pool": stage.pool} if stage.pool else {}

        @task(task_id=stage.task_id, execution_timeout=TRAINING_TIMEOUT, doc_md=stage.description, **pool)
        def train_model(upstream: Any, **context: Any) -> dict[str, Any]:
            """Train the model and its baselines, scored against the current champion."""
            from ecom_tasks.nightly import train

            with _fail_fast():
                return train(_data_root(), _ds(context), stage.name, context["params"])

        return train_model

    def gate_and_publish(model: str, trained: Any) -> None:
        @task(task_id=f"gate_{model}", retries=0)
        def gate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
            """Bless or block the candidate: thresholds, no regression against the champion, baselines."""
            from ecom_tasks.nightly import gate
            from ecom_tasks.publish.blessing import GateBlockedError

            with _fail_fast():  # too few test examples: skipped, the gate cannot decide
                try:
                    return gate(_data_root(), _ds(context), model, context["params"])
                except GateBlockedError as exc:
                    # An older day than the champion's can never be promoted (without force_publish),
                    # whatever else failed: kept with its blessing, skipped rather than red.
                    if "backfill" in exc.failing:
                        raise AirflowSkipException(str(exc)) from exc
                    raise  # not retryable: _fail_fast fails the task at once, naming the checks

        @task(task_id=f"publish_{model}", outlets=published_assets(model))
        def publish(blessing: dict[str, Any], **context: Any) -> dict[str, Any]:
            """Register, check that it serves from the registry, move `champion` and the outputs pointer."""
            from ecom_tasks.nightly import publish

            with _fail_fast():
                result = publish(_data_root(), _ds(context), model, context["params"])
            if not result["promoted"]:  # no asset event: the champion did not change
                raise AirflowSkipException(f"registered as version {result['version']}, not promoted: "
                                           f"{result['reason']}")  # fmt: skip
            for asset in published_assets(model):
                context["outlet_events"][asset].extra = {
                    "model": model, "version": result["version"], "ds": result["ds"]
                }  # fmt: skip
            return result

        publish(gate(trained))

    # Training data reuses the feature state that build_features stores, so it runs after it.
    features = build_features(validate(ingest(check_params())))
    training_data = build_training_data(features)
    # Monitoring reads the day's purchases and profiles and earlier publications only: it runs
    # beside training, not after it, and a night with skip_training still monitors.
    monitor(features)
    enabled = train_enabled(training_data)
    trained: dict[str, Any] = {}
    for stage in registered():  # upstreams first: each group starts after what it builds on
        with TaskGroup(group_id=stage.name, prefix_group_id=False, tooltip=stage.description):
            trained[stage.name] = train(stage)(trained[stage.after] if stage.after else enabled)
            gate_and_publish(stage.name, trained[stage.name])


ecom_nightly()
