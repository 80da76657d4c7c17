"""Airflow assets that ``ecom_nightly`` publishes and other DAGs schedule on.

Imported by the DAG files at parse time, so it imports nothing heavy: ``airflow.sdk`` and the
stage registry (plain dataclasses), whose models and output tables it follows.

- ``ecom_model_<model>``: a new champion of ``<model>`` was promoted in the MLflow registry;
- ``ecom_output_<table>``: the outputs pointer now designates a new version of ``<table>``.

Their events carry the model, version and ``ds`` as extra, so a consumer knows what changed.
"""

from __future__ import annotations

from airflow.sdk import Asset

from ecom_tasks import stages


def model_asset(model: str) -> Asset:
    return Asset(name=f"ecom_model_{model}", uri=f"ecom://models/{model}", group="ml-model")


def output_asset(table: str) -> Asset:
    return Asset(name=f"ecom_output_{table}", uri=f"ecom://outputs/{table}")


def output_assets() -> dict[str, Asset]:
    """Every registered model's output tables, by table name."""
    return {
        table: output_asset(table)
        for stage in stages.registered()
        for table in stage.publication.output_tables
    }


def published_assets(model: str) -> list[Asset]:
    """The assets a publication of ``model`` updates: the model and its output tables."""
    tables = stages.get(model).publication.output_tables
    return [model_asset(model), *(output_asset(t) for t in tables)]
