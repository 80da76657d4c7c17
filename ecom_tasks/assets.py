"""Airflow assets that ``ecom_nightly`` publishes and other DAGs schedule on.

Imported by the DAG files at parse time, so it imports nothing heavy: ``airflow.sdk`` and the
publication config (plain dataclasses), whose model list it follows.

- ``ecom_model_<model>``: a new champion of ``<model>`` was promoted in the MLflow registry;
- ``ecom_output_<table>``: the outputs pointer now designates a new version of ``<table>``.

Their events carry the model, version and ``ds`` as extra, so a consumer knows what changed.
"""

from __future__ import annotations

from airflow.sdk import Asset

from ecom_tasks.publish.config import DEFAULT_MODELS

MODELS = tuple(spec.name for spec in DEFAULT_MODELS)
# The batch output tables each model's publication moves.
OUTPUT_TABLES = {spec.name: spec.output_tables for spec in DEFAULT_MODELS if spec.output_tables}

MODEL_ASSETS = {m: Asset(name=f"ecom_model_{m}", uri=f"ecom://models/{m}", group="ml-model") for m in MODELS}
OUTPUT_ASSETS = {
    t: Asset(name=f"ecom_output_{t}", uri=f"ecom://outputs/{t}")
    for tables in OUTPUT_TABLES.values()
    for t in tables
}


def published_assets(model: str) -> list[Asset]:
    """The assets a publication of ``model`` updates: the model and its output tables."""
    return [MODEL_ASSETS[model], *(OUTPUT_ASSETS[t] for t in OUTPUT_TABLES.get(model, ()))]
