"""
### ecom_nightly

The shop's nightly machine learning:

check_params -> ingest -> validate -> build_features -> build_training_data -> train_enabled
-> pretrain_retrieval -> gate_retrieval -> publish_retrieval
                      -> fine_tune_{ranking,churn,repurchase} (in parallel) -> gate_<head> -> publish_<head>

A manual trigger's parameters are checked first (nothing is written when one is wrong);
`skip_training` stops after the features and reports. A blocked gate shows red and publishes
nothing; a gate of a backfilled day older than the champion is skipped (kept, not promoted) unless
`force_publish` is set. Publication emits the `ecom_model_*` / `ecom_output_*` assets.

Each task calls exactly one function of the `ecom_tasks` package; this file only wires them.
The logical date `ds` is the day being processed: its data interval is that whole UTC day. Any
day from 1970-01-01 on can be run (a shop's history); a day outside the source's data fails ingest.
Outputs live under `$ECOM_DATA_ROOT/{stage}/{table}/ds=YYYY-MM-DD/`.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from ecom_tasks.assets import MODELS, published_assets

# Parse-time code stays light: no pandas/tensorflow/great_expectations/mlflow imports here.
# A data-interval timetable on UTC midnights: each run's interval is exactly the UTC day D (the data
# contract's interval), it starts once D has ended, and its logical date is D 00:00, so backfill
# date ranges (--from-date/--to-date) include both ends. Another cron moves the intervals with it.
SCHEDULE = CronDataIntervalTimetable(os.environ.get("ECOM_NIGHTLY_CRON", "0 0 * * *"), timezone="UTC")

TF_POOL = "tensorflow"  # one slot per worker: at most one TensorFlow training task at a time
TRAINING_TIMEOUT = dt.timedelta(hours=4)
HEADS = tuple(m for m in MODELS if m != "retrieval")  # fine-tuned from the retrieval towers
# A shop's history is what it runs on first (Online Retail: 2009-2011, Amazon Beauty: 2000): a logical
# date before start_date gets a run with no task instance that still reports success, so start_date
# is early enough for any history. With catchup off the scheduler still runs only the latest interval.
EARLIEST_DAY = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


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

PARAMS = {
    "source": Param(
        "synthetic",
        type="string",
        enum=["synthetic", "online_retail", "sequence", "landing"],
        description="Where the data comes from: the built-in synthetic shop, a UCI Online Retail file "
        "(CSV, CSV.gz or xlsx), an ordered sequence file (Amazon Beauty style) or a landing folder.",
    ),
    "source_path": Param(
        None,
        type=["null", "string"],
        description="File or folder of a file source (required unless source is synthetic).",
    ),
    "attributes_path": Param(
        None,
        type=["null", "string"],
        description="Optional item-attributes JSON for the sequence source.",
    ),
    "history_days": Param(
        None,
        type=["null", "integer"],
        minimum=1,
        description="Land at most this many days ending at the run's date (empty: all of the source).",
    ),
    "synthetic_users": Param(2000, type="integer", minimum=1, description="Synthetic shop: number of users."),
    "synthetic_items": Param(400, type="integer", minimum=1, description="Synthetic shop: number of items."),
    "synthetic_start_date": Param(
        "2024-01-01",
        type="string",
        format="date",
        description="Synthetic shop: the day it opens (its history starts here).",
    ),
    "seed": Param(42, type="integer", description="Random seed of the synthetic shop and of training."),
    "start_date": Param(
        None,
        type=["null", "string"],
        format="date",
        description="First day of data to land (empty: history_days, or all of the source).",
    ),
    "end_date": Param(
        None,
        type=["null", "string"],
        format="date",
        description="Last day to process, e.g. the end of last month (empty: the run's logical date).",
    ),
    "epochs": Param(
        None,
        type=["null", "integer"],
        minimum=1,
        maximum=500,
        description="Most training epochs (early stopping may end sooner; empty: the configured default).",
    ),
    "embedding_size": Param(
        None,
        type=["null", "integer"],
        minimum=8,
        maximum=512,
        description="Embedding size of the retrieval towers (a multiple of its attention heads; "
        "empty: the default).",
    ),
    "force_publish": Param(
        False,
        type="boolean",
        description="Let this run's models replace a champion trained on newer data "
        "(recorded in the blessing).",
    ),
    "skip_training": Param(
        False,
        type="boolean",
        description="Only rebuild data, features and reports: no training, gates or publication.",
    ),
}


def _data_root() -> str:
    from ecom_tasks.storage import data_root

    return data_root()


def _scheduled_day(context: dict[str, Any]) -> dt.date:
    """The run's logical day, or the last complete day for a manual run without a logical date."""
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    return (context["dag_run"].run_after - dt.timedelta(days=1)).date()


def _run_date(context: dict[str, Any]) -> str:
    """The day this run processes: the `end_date` parameter when set, else the scheduled day."""
    from ecom_tasks.nightly import run_day

    return run_day(context["params"], _scheduled_day(context))


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

        try:
            return check_run(context["params"], _scheduled_day(context))
        except ValueError as exc:  # ConfigError: a wrong parameter does not get better on retry
            raise AirflowFailException(str(exc)) from exc

    @task
    def ingest(plan: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Land the source's days up to the run's date as raw partitions."""
        from ecom_tasks.ingest import IngestConfig, ingest

        return ingest(_data_root(), _run_date(context), IngestConfig.from_params(context["params"]))

    @task
    def validate(landed: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Great Expectations gate over each landed day not yet validated; critical failures stop the run."""
        from ecom_tasks.validation import ValidationConfig
        from ecom_tasks.validation.backlog import validate_landed

        # File sources land closed days (Saturdays, holidays) as explicit empty partitions; an empty
        # day from the built-in shop is an outage.
        config = ValidationConfig(allow_empty_events=context["params"]["source"] != "synthetic")
        return validate_landed(_data_root(), _run_date(context), config)

    @task
    def build_features(validated: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Customer profiles, item features, behaviour analytics and their report, as of the run's date."""
        from ecom_tasks.features.stage import build_features

        return build_features(_data_root(), _run_date(context))

    @task
    def build_training_data(features: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Point-in-time training examples and retrieval interactions."""
        from ecom_tasks.features.stage import build_training_data

        return build_training_data(_data_root(), _run_date(context))

    @task.short_circuit
    def train_enabled(training_data: dict[str, Any], **context: Any) -> bool:
        """False with `skip_training`: everything after this is skipped."""
        from ecom_tasks.nightly import should_train

        return should_train(context["params"])

    @task(pool=TF_POOL, execution_timeout=TRAINING_TIMEOUT)
    def pretrain_retrieval(**context: Any) -> dict[str, Any]:
        """Two-tower retrieval pretraining, warm-started from the champion and scored against it."""
        from ecom_tasks.nightly import pretrain

        return pretrain(_data_root(), _run_date(context), context["params"])

    def fine_tune(model: str) -> Any:
        @task(task_id=f"fine_tune_{model}", pool=TF_POOL, execution_timeout=TRAINING_TIMEOUT)
        def fine_tune_head(pretrained: dict[str, Any], **context: Any) -> dict[str, Any]:
            """Fine-tune a task head from the pretrained towers, against baselines and the champion."""
            from ecom_tasks.nightly import fine_tune

            return fine_tune(_data_root(), _run_date(context), model, context["params"])

        return fine_tune_head

    def gate_and_publish(model: str, trained: Any) -> None:
        @task(task_id=f"gate_{model}", retries=0)
        def gate(trained: dict[str, Any], **context: Any) -> dict[str, Any]:
            """Bless or block the candidate: thresholds, no regression against the champion, baselines."""
            from ecom_tasks.nightly import gate
            from ecom_tasks.publish.blessing import GateBlockedError

            try:
                return gate(_data_root(), _run_date(context), model, context["params"])
            except GateBlockedError as exc:
                # An older day than the champion's can never be promoted (without force_publish),
                # whatever else failed: kept with its blessing, skipped rather than red.
                if "backfill" in exc.failing:
                    raise AirflowSkipException(str(exc)) from exc
                raise AirflowFailException(str(exc)) from exc

        @task(task_id=f"publish_{model}", outlets=published_assets(model))
        def publish(blessing: dict[str, Any], **context: Any) -> dict[str, Any]:
            """Register, check that it serves from the registry, move `champion` and the outputs pointer."""
            from ecom_tasks.nightly import publish

            result = publish(_data_root(), _run_date(context), model, context["params"])
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
    training_data = build_training_data(build_features(validate(ingest(check_params()))))
    retrieval = pretrain_retrieval()
    train_enabled(training_data) >> retrieval
    gate_and_publish("retrieval", retrieval)
    for head in HEADS:
        gate_and_publish(head, fine_tune(head)(retrieval))


ecom_nightly()
