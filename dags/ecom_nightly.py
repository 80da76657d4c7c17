"""
### ecom_nightly

The shop's nightly machine learning: ingest -> validate -> build features.
Later stages (retrieval pretraining, task heads, gates, publication) join as they are built.

Each task calls exactly one function of the `ecom_tasks` package; this file only wires them.
The logical date `ds` is the day being processed: its data interval is that whole UTC day.
Outputs live under `$ECOM_DATA_ROOT/{stage}/{table}/ds=YYYY-MM-DD/`.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

# Parse-time code stays light: no pandas/tensorflow/great_expectations/mlflow imports here.
# A data-interval timetable: the run for day D starts after D ends, and its logical date is D.
SCHEDULE = CronDataIntervalTimetable(os.environ.get("ECOM_NIGHTLY_CRON", "0 2 * * *"), timezone="UTC")

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-team",
    "retries": 2,
    "retry_delay": dt.timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(hours=2),
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
}


def _data_root() -> str:
    from ecom_tasks.storage import data_root

    return data_root()


def _run_date(context: dict[str, Any]) -> str:
    """The day this run processes: its logical date, or the last complete day for a run without one."""
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date().isoformat()
    run_after = context["dag_run"].run_after
    return (run_after - dt.timedelta(days=1)).date().isoformat()


@dag(
    dag_id="ecom_nightly",
    schedule=SCHEDULE,
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params=PARAMS,
    tags=["ecom", "ml"],
    doc_md=__doc__,
)
def ecom_nightly() -> None:
    @task
    def ingest(**context: Any) -> dict[str, Any]:
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

    # Training data reuses the feature state that build_features stores, so it runs after it.
    build_training_data(build_features(validate(ingest())))


ecom_nightly()
