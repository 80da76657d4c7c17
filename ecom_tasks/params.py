"""Run parameters: what a DAG run (scheduled, manual or backfill) may set, parsed and checked once.

The DAG's ``Param`` form validates types by JSON schema; this module checks what a schema cannot
(does the path exist, is the window ordered) and names the offending parameter when it refuses.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecom_tasks.errors import ConfigError
from ecom_tasks.sources import base

# Defaults live here, in one place; the DAG's Param form is built from them.
DEFAULTS: dict[str, Any] = {
    "source": base.SYNTHETIC,
    "source_path": None,
    "attributes_path": None,
    "history_days": None,
    "synthetic_users": 2000,
    "synthetic_items": 400,
    "synthetic_start_date": "2024-01-01",
    "seed": 42,
    "start_date": None,
    "end_date": None,
    "epochs": None,
    "embedding_size": None,
    "force_publish": False,
    "skip_training": False,
}
EMBEDDING_SIZES = (8, 512)  # inclusive bounds of ``embedding_size``


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
    force_publish: bool = DEFAULTS["force_publish"]
    skip_training: bool = DEFAULTS["skip_training"]

    def __post_init__(self) -> None:
        if self.source not in base.SOURCES:
            raise ConfigError(f"source: unknown source {self.source!r}; expected one of {list(base.SOURCES)}")
        if self.source != base.SYNTHETIC:
            if not self.source_path:
                raise ConfigError(f"source_path: required when source is {self.source!r}")
            if "://" not in self.source_path and not os.path.exists(self.source_path):
                raise ConfigError(f"source_path: {self.source_path!r} does not exist")
        if self.attributes_path and not os.path.exists(self.attributes_path):
            raise ConfigError(f"attributes_path: {self.attributes_path!r} does not exist")
        for name in ("synthetic_users", "synthetic_items", "history_days", "epochs"):
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
        for key in ("source_path", "attributes_path", "start_date", "end_date"):
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
