"""What a validation found: per-check outcomes, per-table counts, the day's verdict and its summary.

:class:`ValidationReport` is what the pure core returns; :meth:`ValidationReport.summary` is the
JSON document later stages and the UI read; :class:`ValidationFailed` is raised on a critical
failure with a message naming the table, the expectation and the observed value.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ecom_tasks import __version__
from ecom_tasks.errors import EcomError
from ecom_tasks.validation.config import CRITICAL, QUARANTINE, WARNING

PASSED = "passed"
PASSED_WITH_WARNINGS = "passed_with_warnings"
FAILED = "failed"


class ValidationFailed(EcomError):  # noqa: N818 - the name the DAG and other stages use
    """A critical validation failure: nothing downstream may read the day.

    Attributes:
        ds: the day.
        failures: one line per critical failure (table, expectation, observed value).
        summary_uri: where the full summary was written, if it was.
    """

    retryable = False  # the same data and parameters give the same answer on every try

    def __init__(self, ds: dt.date, failures: list[str], summary_uri: str | None = None) -> None:
        self.ds = ds
        self.failures = list(failures)
        self.summary_uri = summary_uri
        where = f" (summary: {summary_uri})" if summary_uri else ""
        lines = "; ".join(self.failures)
        super().__init__(f"validation of ds={ds} failed, {len(self.failures)} critical: {lines}{where}")


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types (numpy scalars, timestamps, NaN -> None)."""
    if value is None or type(value) in (str, int, bool):  # the common case, first
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass
class Outcome:
    """The result of one check: a suite rule (evaluated by GE) or a history comparison.

    ``severity`` is the rule's declared severity; for a history check it is the level of the band
    that was breached (``warning`` when none was). ``rows_quarantined`` is set for quarantine rules.
    """

    id: str
    table: str
    check: str
    severity: str
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    element_count: int | None = None
    rows_quarantined: int | None = None
    detail: str = ""
    column: str | None = None
    where: str | None = None  # the rule's row condition: counts are of the rows where it holds

    @property
    def level(self) -> str | None:
        """``critical``, ``warning`` or ``quarantine`` when the check failed, else ``None``."""
        return None if self.success else self.severity

    def describe(self) -> str:
        """One line: table, check, what was observed and why it matters."""
        seen = (
            self.observed if self.unexpected_count is None else f"{self.unexpected_count} unexpected row(s)"
        )
        if self.unexpected_count is not None and self.element_count is not None:
            seen = f"{seen} of {self.element_count}" + (f" where {self.where}" if self.where else "")
            if self.observed is not None:
                seen = f"{seen}, e.g. {self.observed}"
        text = f"{self.table}: {self.id} ({self.check}) failed: observed {seen}"
        if self.detail.startswith("expected "):
            head, _, rest = self.detail.partition(": ")
            return f"{text} ({head})" + (f": {rest}" if rest else "")
        return f"{text}: {self.detail}" if self.detail else text

    def to_dict(self) -> dict[str, Any]:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


@dataclass
class TableReport:
    """One table's outcomes, counts and, when row checks ran, its clean and quarantined rows."""

    table: str
    rows_in: int
    outcomes: list[Outcome] = field(default_factory=list)
    clean: pd.DataFrame | None = None
    quarantined: pd.DataFrame | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    row_checks_ran: bool = False
    # ``storage.to_arrow`` of ``clean`` and ``quarantined`` where a batch converted them in bulk
    clean_arrow: pa.Table | None = None
    quarantined_arrow: pa.Table | None = None
    # events only: how many rows repeat another row of the day exactly (all columns but the id)
    duplicates: int | None = None

    @property
    def rows_clean(self) -> int:
        return 0 if self.clean is None else len(self.clean)

    @property
    def rows_quarantined(self) -> int:
        return 0 if self.quarantined is None else len(self.quarantined)

    @property
    def quarantined_share(self) -> float:
        return self.rows_quarantined / self.rows_in if self.rows_in else 0.0

    def summary(self) -> dict[str, Any]:
        failed = [o for o in self.outcomes if o.level == CRITICAL]
        out = jsonable(
            {
                "rows_in": self.rows_in,
                "rows_clean": self.rows_clean if self.row_checks_ran else None,
                "rows_quarantined": self.rows_quarantined,
                "quarantined_share": round(self.quarantined_share, 6),
                "quarantine_reasons": self.reasons,
                "row_checks_ran": self.row_checks_ran,
                "passed": not failed,
            }
        )
        if self.duplicates is not None:
            out["duplicate_rows"] = self.duplicates
        out["expectations"] = [o.to_dict() for o in self.outcomes]  # already plain JSON
        return out


@dataclass
class ValidationReport:
    """Everything :func:`~ecom_tasks.validation.core.validate_frames` found about one day."""

    ds: dt.date
    tables: dict[str, TableReport]
    history: list[Outcome] = field(default_factory=list)
    history_days: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra_failures: list[str] = field(default_factory=list)
    gx_results: dict[str, Any] = field(default_factory=dict)

    def _outcomes(self) -> list[Outcome]:
        return [o for t in self.tables.values() for o in t.outcomes] + self.history

    @property
    def critical(self) -> list[str]:
        """One line per critical failure (the lines of :class:`ValidationFailed`)."""
        lines = list(self.extra_failures)
        lines += [o.describe() for o in self._outcomes() if o.level == CRITICAL]
        return lines

    @property
    def warnings(self) -> list[str]:
        """One line per warning and per quarantine rule that moved rows."""
        lines = [o.describe() for o in self._outcomes() if o.level == WARNING]
        for o in self._outcomes():
            if o.level == QUARANTINE and o.rows_quarantined is not None:
                lines.append(f"{o.table}: {o.rows_quarantined} row(s) quarantined by {o.id}")
            elif o.level == QUARANTINE:  # no row checks ran (the table's layout is broken)
                lines.append(o.describe())
        return lines

    @property
    def passed(self) -> bool:
        return not self.critical

    @property
    def status(self) -> str:
        if not self.passed:
            return FAILED
        return PASSED_WITH_WARNINGS if self.warnings else PASSED

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The JSON summary of the day (``extra`` adds fields such as URIs)."""
        out = jsonable(
            {
                "ds": self.ds.isoformat(),
                "status": self.status,
                "passed": self.passed,
                "critical_failures": self.critical,
                "warnings": self.warnings,
                "metrics": self.metrics,
                "history": {"days": self.history_days},
                "code_version": __version__,
                **extra,
            }
        )
        # already plain JSON: converting the per-expectation dicts again costs ~10 ms a day
        out["tables"] = {name: t.summary() for name, t in self.tables.items()}
        out["history"]["checks"] = [o.to_dict() for o in self.history]
        return out
