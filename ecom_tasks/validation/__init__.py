"""Validation gate: Great Expectations suites, row-level quarantine, history checks, Data Docs.

Nothing is trained or published from a day that fails validation, and no bad row disappears
without a trace. The stage's task function is :func:`validate_partition`; its pure core,
:func:`validate_frames`, works on in-memory frames. The suites are readable YAML files in
``suites/`` (one per table) with a severity per expectation. A backlog of landed days is validated
by :func:`ecom_tasks.validation.backlog.validate_landed` in batches (one Great Expectations run
for many days, :mod:`ecom_tasks.validation.batch`), with the same outputs per day.

Importing this package is cheap: Great Expectations is imported on first use.
"""

from ecom_tasks.validation.config import (
    CRITICAL,
    QUARANTINE,
    WARNING,
    HistoryThresholds,
    ValidationConfig,
)
from ecom_tasks.validation.core import validate_frames
from ecom_tasks.validation.gate import validate_partition
from ecom_tasks.validation.history import HistoryDay, day_metrics, load_history, summary_uri
from ecom_tasks.validation.report import Outcome, TableReport, ValidationFailed, ValidationReport
from ecom_tasks.validation.rowchecks import REASON
from ecom_tasks.validation.suites import Rule, load_rules

__all__ = [
    "CRITICAL",
    "QUARANTINE",
    "REASON",
    "WARNING",
    "HistoryDay",
    "HistoryThresholds",
    "Outcome",
    "Rule",
    "TableReport",
    "ValidationConfig",
    "ValidationFailed",
    "ValidationReport",
    "day_metrics",
    "load_history",
    "load_rules",
    "summary_uri",
    "validate_frames",
    "validate_partition",
]
