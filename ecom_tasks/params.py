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
        for name in ("synthetic_users", "synthetic_items", "history_days"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name}: must be a positive integer, got {value!r}")
        try:
            dt.date.fromisoformat(self.synthetic_start_date)
        except (TypeError, ValueError):
            raise ConfigError(
                f"synthetic_start_date: {self.synthetic_start_date!r} is not a date in YYYY-MM-DD form"
            ) from None

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any] | None) -> RunParams:
        """Build from a DAG run's ``params``; unknown keys are ignored, ``None`` means the default."""
        params = params or {}
        known = {k: params[k] for k in DEFAULTS if k in params and params[k] is not None}
        for key in ("source_path", "attributes_path"):
            if known.get(key) == "":
                known.pop(key)
        return cls(**known)
