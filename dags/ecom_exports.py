"""
### ecom_exports

Refreshes the flat exports of the current batch output tables (`$ECOM_DATA_ROOT/exports/`:
Parquet, CSV and a small JSON description per table) whenever `ecom_nightly` publishes a new
champion: it is scheduled on the `ecom_output_*` assets that publication emits, so it runs once
per change and never on a night when the gate kept the old champion. It can also be triggered by
hand, e.g. after a rollback (`ecom models rollback`), which moves the pointer without an asset event.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from typing import Any

from airflow.sdk import dag, task

from ecom_tasks.assets import output_assets


def _alert(context: dict[str, Any]) -> None:
    from ecom_tasks.alerts import notify_failure

    notify_failure(context)


@dag(
    dag_id="ecom_exports",
    # Any one of them (`|`): a list would wait until every table had a new version.
    schedule=functools.reduce(operator.or_, output_assets().values()),
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "owner": "data-team",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "execution_timeout": dt.timedelta(minutes=30),
        "on_failure_callback": _alert,
    },
    tags=["ecom", "exports"],
    doc_md=__doc__,
)
def ecom_exports() -> None:
    @task
    def export_current_tables(**context: Any) -> dict[str, Any]:
        """Copy every table the outputs pointer designates to exports/ (unchanged ones are left alone)."""
        from ecom_tasks.exports import export_current

        return export_current()  # under $ECOM_DATA_ROOT

    export_current_tables()


ecom_exports()
