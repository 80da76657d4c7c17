"""The blessing artifact that links the gate to publication (TFX Evaluator -> Pusher).

The gate writes ``{root}/models/<model>/ds=<ds>/blessing.json``; publication reads it and refuses
to run without a positive one. The file lists every check with its value, threshold and outcome.
"""

from __future__ import annotations

import logging

from ecom_tasks import storage
from ecom_tasks.errors import EcomError
from ecom_tasks.publish.config import BLESSING_FILE, MODELS_STAGE
from ecom_tasks.publish.gate import Blessing

log = logging.getLogger(__name__)


class NotBlessedError(EcomError):
    """Publication was asked for a candidate without a positive blessing."""

    retryable = False  # the same data and parameters give the same answer on every try

    def __init__(self, message: str, blessing: Blessing | None = None) -> None:
        super().__init__(message)
        self.blessing = blessing
        self.failing = blessing.failing if blessing is not None else []


class GateBlockedError(NotBlessedError):
    """The gate did not bless the candidate (raised by ``gate_model(..., fail_on_block=True)``)."""


def blessing_uri(root: str, model: str, ds: str, stage: str = MODELS_STAGE, table: str | None = None) -> str:
    """``{root}/models/<model>/ds=<ds>/blessing.json``."""
    return f"{storage.partition_uri(root, stage, table or model, ds)}/{BLESSING_FILE}"


def write_blessing(root: str, blessing: Blessing, stage: str = MODELS_STAGE, table: str | None = None) -> str:
    """Write ``blessing`` atomically beside its candidate and return the URI."""
    uri = blessing_uri(root, blessing.model, blessing.ds, stage, table)
    storage.write_json(blessing.to_dict(), uri)
    return uri


def read_blessing(
    root: str, model: str, ds: str, stage: str = MODELS_STAGE, table: str | None = None
) -> Blessing | None:
    """The blessing of ``model`` for ``ds``, or None when the gate has not run."""
    uri = blessing_uri(root, model, ds, stage, table)
    try:
        raw = storage.read_json(uri)
    except FileNotFoundError:
        return None
    return Blessing.from_dict(raw)


def _figure(value: float | str) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else str(value)


def describe_checks(blessing: Blessing) -> str:
    """Every check on its own line: outcome, name, value, rule and detail (for task logs)."""
    lines = []
    for c in blessing.checks:
        value = "-" if c.value is None else f"{c.value:.4f}"
        rule = "" if c.threshold is None else f" {c.comparator} {_figure(c.threshold)}"
        lines.append(
            f"  {c.outcome.upper():<6} {c.name}: {value}{rule}" + (f"  ({c.detail})" if c.detail else "")
        )
    return "\n".join(lines)


def describe_failures(blessing: Blessing) -> str:
    """One line per failed check: name, value, comparator, threshold and why."""
    lines = []
    for c in blessing.checks:
        if c.passed:
            continue
        value = "missing" if c.value is None else f"{c.value:.4f}"
        bound = "" if c.threshold is None else f" {c.comparator} {_figure(c.threshold)}"
        lines.append(f"{c.name}: {value}{bound} ({c.detail})" if c.detail else f"{c.name}: {value}{bound}")
    return "; ".join(lines)


def require_blessing(
    root: str,
    model: str,
    ds: str,
    *,
    force: bool = False,
    stage: str = MODELS_STAGE,
    table: str | None = None,
) -> Blessing:
    """The positive blessing of ``model`` for ``ds``; raise :class:`NotBlessedError` otherwise.

    With ``force``, a blessing whose only failed check is ``backfill`` is accepted (a manual run
    replacing a newer champion on purpose); the caller records that it was forced.
    """
    uri = blessing_uri(root, model, ds, stage, table)
    blessing = read_blessing(root, model, ds, stage, table)
    if blessing is None:
        raise NotBlessedError(f"{model} ds={ds}: no blessing at {uri}; run the gate before publishing")
    if blessing.model != model or blessing.ds != storage.as_date(ds).isoformat():
        raise NotBlessedError(
            f"{uri}: blessing is for {blessing.model} ds={blessing.ds}, not {model} ds={ds}"
        )
    if blessing.blessed:
        return blessing
    if force and blessing.failing == ["backfill"]:
        log.warning("%s ds=%s: publishing over a newer champion because force is set", model, ds)
        return blessing
    raise NotBlessedError(
        f"{model} ds={ds} is not blessed, refusing to publish; failing checks: {describe_failures(blessing)} "
        f"(see {uri})",
        blessing,
    )
