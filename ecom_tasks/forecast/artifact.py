"""The published forecast artifact: the forecast table and the recipe that made it.

``{root}/models/forecast/ds=D/model/`` holds ``forecast.parquet`` (item, day, quantiles: what the
output table ``demand_forecast`` holds) and ``recipe.json`` (the selected candidate, its
configuration and the retrieval model whose item vectors it used). Serving answers the forecast
rows of the items asked for; a champion is re-scored on a later run's test window by refitting its
recipe there (a forecast is only comparable on the same window).
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd

from ecom_tasks import remote, storage
from ecom_tasks.contract import ITEM_ID
from ecom_tasks.forecast.config import ARTIFACT_DIR

FORECAST_FILE = "forecast.parquet"
RECIPE_FILE = "recipe.json"
RECENT_FILE = "recent.parquet"  # the last days of sales per item: what the UI's explorer draws


class ForecastModel:
    """What the registry serves: the forecast rows of the requested items."""

    def __init__(self, frame: pd.DataFrame, recipe: dict[str, Any]) -> None:
        self.frame, self.recipe = frame, recipe

    def predict(self, model_input: Any) -> pd.DataFrame:
        ids = pd.DataFrame(model_input)[ITEM_ID].astype(str)
        return self.frame[self.frame[ITEM_ID].astype(str).isin(set(ids))].reset_index(drop=True)

    def smoke_input(self) -> pd.DataFrame:
        return pd.DataFrame({ITEM_ID: self.frame[ITEM_ID].astype(str).head(1)})


def write(folder: str, frame: pd.DataFrame, recipe: dict[str, Any], recent: pd.DataFrame) -> str:
    """Write the artifact under ``folder/model``; returns its URI."""
    uri = f"{folder}/{ARTIFACT_DIR}"
    remote.write_uri(f"{uri}/{FORECAST_FILE}", storage.to_parquet_bytes(frame))
    remote.write_uri(f"{uri}/{RECENT_FILE}", storage.to_parquet_bytes(recent))
    storage.write_json(recipe, f"{uri}/{RECIPE_FILE}")
    return uri


def read_recipe(model_folder: str) -> dict[str, Any] | None:
    """The recipe of a candidate or champion folder (``.../ds=D``), or None without one."""
    try:
        return storage.read_json(f"{model_folder}/{ARTIFACT_DIR}/{RECIPE_FILE}")
    except FileNotFoundError:
        return None


def read_recent(model_folder: str) -> pd.DataFrame | None:
    """The recent daily sales kept with a candidate or champion (``item_id, day, units``), or None."""
    body = remote.read_uri(f"{model_folder}/{ARTIFACT_DIR}/{RECENT_FILE}")
    return None if body is None else pd.read_parquet(io.BytesIO(body))


def load(path: str) -> ForecastModel:
    """The loader of the registry's ``callable`` flavor (``path``: the artifact folder)."""
    body = remote.read_uri(f"{path}/{FORECAST_FILE}")
    if body is None:
        raise FileNotFoundError(f"{path}/{FORECAST_FILE}: no forecast in this artifact")
    return ForecastModel(pd.read_parquet(io.BytesIO(body)), storage.read_json(f"{path}/{RECIPE_FILE}"))
