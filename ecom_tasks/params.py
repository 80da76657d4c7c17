"""Run parameters: what a DAG run (scheduled, manual or backfill) may set, parsed and checked once.

Every parameter is declared once, in :data:`FORM`: its default, its JSON schema and the
description the trigger form shows. The DAG's ``Param`` form is built from it, so the form, the
defaults of :class:`RunParams` and README cannot disagree. The form validates types by JSON schema;
this module checks what a schema cannot (does the path exist, is the window ordered) and names the
offending parameter when it refuses. Light: the DAG file imports it at parse time.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError

EMBEDDING_SIZES = (8, 512)  # inclusive bounds of ``embedding_size``
_DATE = {"type": ["null", "string"], "format": "date"}

# name -> (default, JSON schema, description): the trigger form and RunParams' defaults.
FORM: dict[str, tuple[Any, dict[str, Any], str]] = {
    "source": (
        catalog.SYNTHETIC,
        {"type": "string", "enum": list(catalog.SOURCES)},
        "Where the data comes from: the built-in synthetic shop, a UCI Online Retail file "
        "(CSV, CSV.gz or xlsx), an ordered sequence file (Amazon Beauty style) or a landing folder.",
    ),
    "source_path": (
        None,
        {"type": ["null", "string"]},
        "File or folder of a file source (required unless source is synthetic).",
    ),
    "attributes_path": (
        None,
        {"type": ["null", "string"]},
        "Optional item-attributes JSON for the sequence source.",
    ),
    "history_days": (
        None,
        {"type": ["null", "integer"], "minimum": 1},
        "Land at most this many days ending at the run's date (empty: all of the source).",
    ),
    "synthetic_users": (2000, {"type": "integer", "minimum": 1}, "Synthetic shop: number of users."),
    "synthetic_items": (400, {"type": "integer", "minimum": 1}, "Synthetic shop: number of items."),
    "synthetic_start_date": (
        "2024-01-01",
        {"type": "string", "format": "date"},
        "Synthetic shop: the day it opens (its history starts here).",
    ),
    "seed": (42, {"type": "integer"}, "Random seed of the synthetic shop and of training."),
    "start_date": (None, _DATE, "First day of data to land (empty: history_days, or all of the source)."),
    "end_date": (
        None,
        _DATE,
        "Last day to process, e.g. the end of last month (empty: the run's logical date).",
    ),
    "epochs": (
        None,
        {"type": ["null", "integer"], "minimum": 1, "maximum": 500},
        "Most training epochs (early stopping may end sooner; empty: the configured default).",
    ),
    "embedding_size": (
        None,
        {"type": ["null", "integer"], "minimum": EMBEDDING_SIZES[0], "maximum": EMBEDDING_SIZES[1]},
        "Embedding size of the retrieval towers (a multiple of its attention heads; empty: the default).",
    ),
    "support_data": (
        None,
        {"type": ["null", "string"]},
        "Customer-service assistant: a folder with the support CSV (instruction, intent) and an "
        "out-of-scope JSON, or the CSV itself (empty: $ECOM_SUPPORT_DATA, else the assistant steps aside).",
    ),
    "repeat_bonus": (
        None,
        {"type": ["null", "number"], "minimum": 0},
        "Retrieval: added to the score of items a customer had before (0: no repeat preference for "
        "shops whose customers rarely buy the same item again; 2 lists earlier items first; empty: "
        "chosen each night by validation recall).",
    ),
    "force_publish": (
        False,
        {"type": "boolean"},
        "Let this run's models replace a champion trained on newer data (recorded in the blessing).",
    ),
    "skip_training": (
        False,
        {"type": "boolean"},
        "Only rebuild data, features and reports: no training, gates or publication.",
    ),
    # The anomaly stage (ecom_tasks.anomalies.config.AnomalyConfig checks their values).
    "anomaly_test_days": (
        28,
        {"type": "integer", "minimum": 7, "maximum": 365},
        "Anomalies: days up to the processed day into whose orders known anomalies are injected to "
        "measure the detectors (the test window; the same number of days before it choose the detector).",
    ),
    "anomaly_budget": (
        10,
        {"type": "integer", "minimum": 1, "maximum": 1000},
        "Anomalies: orders a person reviews per day; recall and precision are measured at this budget.",
    ),
    # The forecast stage (ecom_tasks.forecast.config.ForecastConfig checks what a schema cannot).
    "forecast_horizon_days": (
        28,
        {"type": "integer", "minimum": 7, "maximum": 120},
        "Forecast stage: days ahead to forecast; also the length of its validation and test windows.",
    ),
    "lead_time_days": (
        14,
        {"type": "integer", "minimum": 0, "maximum": 365},
        "Inventory plan: days from placing an order to receiving it.",
    ),
    "review_days": (
        7,
        {"type": "integer", "minimum": 0, "maximum": 365},
        "Inventory plan: days between two stock reviews (orders are placed at reviews).",
    ),
    "service_level": (
        0.95,
        {"type": "number", "minimum": 0.5, "maximum": 0.999},
        "Inventory plan: the chance of not running out before the next delivery (e.g. 0.95).",
    ),
    # Data-safety policies of ingest (ecom_tasks.ingest.IngestConfig checks their values).
    "date_order": (
        "auto",
        {"type": "string", "enum": ["auto", "dayfirst", "monthfirst"]},
        "How dd/dd/yyyy dates of an Online Retail file are read: auto decides from the data (a field "
        "above 12) and refuses a file where nothing decides; dayfirst or monthfirst say which.",
    ),
    "duplicate_lines": (
        "keep",
        {"type": "string", "enum": ["keep", "drop"]},
        "Exact duplicate lines of a source: keep them (refused above max_duplicate_share) or drop them.",
    ),
    "max_duplicate_share": (
        0.1,
        {"type": "number", "minimum": 0, "maximum": 1},
        "With duplicate_lines=keep, refuse a source whose share of exact duplicate lines is above this.",
    ),
    "future_rows": (
        "quarantine",
        {"type": "string", "enum": ["quarantine", "refuse"]},
        "Events of a landing folder dated after the run's day: quarantine them with a record, or refuse "
        "the file.",
    ),
}
DEFAULTS: dict[str, Any] = {name: default for name, (default, _, _) in FORM.items()}


def form_fields() -> dict[str, dict[str, Any]]:
    """Each parameter as keyword arguments of Airflow's ``Param``: default, schema and description."""
    return {
        name: {"default": default, **schema, "description": description}
        for name, (default, schema, description) in FORM.items()
    }


@dataclass(frozen=True)
class RunParams:
    """The validated parameters of one run."""

    source: str = DEFAULTS["source"]
    source_path: str | None = DEFAULTS["source_path"]
    attributes_path: str | None = DEFAULTS["attributes_path"]
    history_days: int | None = DEFAULTS["history_days"]
    synthetic_users: int = DEFAULTS["synthetic_users"]
    synthetic_items: int = DEFAULTS["synthetic_items"]
    synthetic_start_date: str = DEFAULTS["synthetic_start_date"]
    seed: int = DEFAULTS["seed"]
    start_date: str | None = DEFAULTS["start_date"]
    end_date: str | None = DEFAULTS["end_date"]
    epochs: int | None = DEFAULTS["epochs"]
    embedding_size: int | None = DEFAULTS["embedding_size"]
    support_data: str | None = DEFAULTS["support_data"]
    repeat_bonus: float | None = DEFAULTS["repeat_bonus"]
    force_publish: bool = DEFAULTS["force_publish"]
    skip_training: bool = DEFAULTS["skip_training"]
    anomaly_test_days: int = DEFAULTS["anomaly_test_days"]
    anomaly_budget: int = DEFAULTS["anomaly_budget"]
    date_order: str = DEFAULTS["date_order"]
    duplicate_lines: str = DEFAULTS["duplicate_lines"]
    max_duplicate_share: float = DEFAULTS["max_duplicate_share"]
    future_rows: str = DEFAULTS["future_rows"]
    forecast_horizon_days: int = DEFAULTS["forecast_horizon_days"]
    lead_time_days: int = DEFAULTS["lead_time_days"]
    review_days: int = DEFAULTS["review_days"]
    service_level: float = DEFAULTS["service_level"]

    def __post_init__(self) -> None:
        if self.source not in catalog.SOURCES:
            raise ConfigError(
                f"source: unknown source {self.source!r}; expected one of {list(catalog.SOURCES)}"
            )
        if self.source != catalog.SYNTHETIC:
            if not self.source_path:
                raise ConfigError(f"source_path: required when source is {self.source!r}")
            if "://" not in self.source_path and not os.path.exists(self.source_path):
                raise ConfigError(f"source_path: {self.source_path!r} does not exist")
        if self.attributes_path and not os.path.exists(self.attributes_path):
            raise ConfigError(f"attributes_path: {self.attributes_path!r} does not exist")
        if self.support_data and "://" not in self.support_data and not os.path.exists(self.support_data):
            raise ConfigError(f"support_data: {self.support_data!r} does not exist")
        for name in (
            "synthetic_users",
            "synthetic_items",
            "history_days",
            "epochs",
            "anomaly_test_days",
            "anomaly_budget",
        ):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        try:
            dt.date.fromisoformat(self.synthetic_start_date)
        except (TypeError, ValueError):
            raise ConfigError(
                f"synthetic_start_date: {self.synthetic_start_date!r} is not a date in YYYY-MM-DD form"
            ) from None
        start, end = _date_or_none("start_date", self.start_date), _date_or_none("end_date", self.end_date)
        if start and end and start > end:
            raise ConfigError(f"start_date: {start} is after end_date {end}; the window would be empty")
        low, high = EMBEDDING_SIZES
        size = self.embedding_size
        integer = isinstance(size, int) and not isinstance(size, bool)
        if size is not None and not (integer and low <= size <= high):
            raise ConfigError(f"embedding_size: must be an integer in [{low}, {high}], got {size!r}")
        for name in ("forecast_horizon_days", "lead_time_days", "review_days"):
            value = getattr(self, name)
            least = 1 if name == "forecast_horizon_days" else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(f"{name}: must be a whole number of days, got {value!r}")
        if not isinstance(self.service_level, int | float) or not 0.5 <= self.service_level < 1:
            raise ConfigError(f"service_level: must be in [0.5, 1), got {self.service_level!r}")
        bonus = self.repeat_bonus
        number = isinstance(bonus, int | float) and not isinstance(bonus, bool)
        if bonus is not None and not (number and 0 <= bonus < float("inf")):
            raise ConfigError(f"repeat_bonus: must be a finite number >= 0, got {bonus!r}")
        for name in ("force_publish", "skip_training"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: must be true or false, got {getattr(self, name)!r}")

    def run_date(self, scheduled: dt.date | str) -> dt.date:
        """The day this run processes: ``end_date`` when set, else the run's logical day.

        Raises:
            ConfigError: ``end_date`` (or ``start_date``) lies after the run's logical day, i.e. in
                a day whose data is not complete yet.
        """
        day = scheduled if isinstance(scheduled, dt.date) else dt.date.fromisoformat(str(scheduled))
        for name in ("end_date", "start_date"):
            value = _date_or_none(name, getattr(self, name))
            if value and value > day:
                raise ConfigError(
                    f"{name}: {value} is after the run's day {day}; its data is not complete yet"
                )
        return _date_or_none("end_date", self.end_date) or day

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any] | None) -> RunParams:
        """Build from a DAG run's ``params``; unknown keys are ignored, ``None`` means the default."""
        params = params or {}
        known = {k: params[k] for k in DEFAULTS if k in params and params[k] is not None}
        for key in ("source_path", "attributes_path", "support_data", "start_date", "end_date"):
            if known.get(key) == "":
                known.pop(key)
        return cls(**known)


def _date_or_none(name: str, value: str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a date in YYYY-MM-DD form") from None
