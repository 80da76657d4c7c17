"""Batch output tables for consumers, and the "current" pointer that follows the champions.

Tables are written per ``ds`` under ``{root}/outputs/<table>/ds=<ds>/`` with
:func:`ecom_tasks.storage.write_partition` (atomic, idempotent) and never deleted, so a rollback can
point back at an older day. Consumers read ``{root}/outputs/current.json``:

``{"models": {model: {"version", "registered_name", "ds"}},
   "tables": {table: {"ds", "path", "model", "version"}}}``

where ``path`` (``<table>/ds=<ds>``) is relative to the pointer's folder, so the data root can be
moved or synced elsewhere without rewriting it; :func:`current_uri` resolves it.

The pointer is rewritten atomically (a single file replace) and only while the registry's alias
lock is held, in the same critical section as the ``champion`` alias move. Every move that changes
it also appends one line to ``{root}/outputs/pointer_history.jsonl`` (``{"at", "model", "version",
"ds", "tables"}``), so what was current for an earlier day can be answered later
(:func:`current_as_of`: monitoring compares what was published then with what happened after).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ecom_tasks import __version__, catalog, remote, storage
from ecom_tasks.contract import ITEM_ID, TITLE
from ecom_tasks.errors import ConfigError, EcomError
from ecom_tasks.publish.config import OUTPUTS_STAGE, ModelSpec

log = logging.getLogger(__name__)

POINTER_FILE = catalog.POINTER_FILE
HISTORY_FILE = catalog.POINTER_HISTORY_FILE


class OutputsMissingError(EcomError):
    """A champion's batch output tables for its ``ds`` are not there to point at."""


def output_uri(root: str, table: str, ds: str) -> str:
    """``{root}/outputs/<table>/ds=<ds>``."""
    return storage.partition_uri(root, OUTPUTS_STAGE, table, ds)


def write_output(
    root: str, table: str, ds: str, frame: pd.DataFrame, *, source: str, extra: dict[str, Any] | None = None
) -> str:
    """Write one output table for ``ds`` (atomic; rewriting the same content is a no-op).

    ``extra``: what the table's readers should know beside its rows (kept in its manifest).
    """
    uri = output_uri(root, table, ds)
    storage.write_partition(frame, uri, source=source, extra=extra)
    return uri


def candidate_version(
    model: str,
    ds: str,
    selected: str,
    *,
    config: Mapping[str, Any],
    backbone_uri: str,
    input_uris: Iterable[str],
) -> str:
    """The ``model_version`` column of a training task's output tables: ``<model>-<ds>-<selected>-<hash>``.

    A content fingerprint of the candidate, not an MLflow version: the task writes its tables
    before the gate, and the registry numbers a version only when the candidate is published
    (that number is recorded in ``current.json``). ``hash`` covers the code version, ``config``,
    the backbone's day and the content hashes of ``input_uris``, so a rerun of the same candidate
    writes the same value and a different one a different value.
    """
    # The backbone by its "retrieval/ds=D" part, so moving the data root keeps the value.
    backbone = "/".join(backbone_uri.rstrip("/").split("/")[-2:])
    key = [model, ds, selected, __version__, dict(config), backbone]
    h = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode())
    for uri in sorted(input_uris):
        manifest = storage.read_manifest(uri)
        h.update((manifest.content_hash if manifest else uri).encode())
    return f"{model}-{ds}-{selected}-{h.hexdigest()[:10]}"


def with_item_titles(recommendations: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Add each recommended item's title (null for items without one) to a top-K table."""
    titles = items[[ITEM_ID, TITLE]].drop_duplicates(ITEM_ID)
    out = recommendations.drop(columns=[TITLE], errors="ignore").merge(titles, on=ITEM_ID, how="left")
    return out


def pointer_uri(root: str) -> str:
    """``{root}/outputs/current.json``."""
    return f"{storage.data_root(root)}/{OUTPUTS_STAGE}/{POINTER_FILE}"


def read_pointer(root: str) -> dict[str, Any]:
    """The current pointer (empty ``models``/``tables`` before the first publish)."""
    try:
        raw = storage.read_json(pointer_uri(root))
    except FileNotFoundError:
        raw = {}
    return {"models": dict(raw.get("models", {})), "tables": dict(raw.get("tables", {}))}


def missing_outputs(root: str, spec: ModelSpec, ds: str) -> list[str]:
    """The tables of ``spec`` with no committed partition for ``ds``."""
    return [t for t in spec.output_tables if storage.read_manifest(output_uri(root, t, ds)) is None]


def move_pointer(
    root: str, spec: ModelSpec, version: str, ds: str, *, require_outputs: bool
) -> dict[str, Any]:
    """Point ``spec``'s model and its output tables at ``version`` and its ``ds``; return the pointer.

    A table with no partition for ``ds`` keeps its previous entry (logged), or, with
    ``require_outputs``, :class:`OutputsMissingError` is raised before anything is written.
    Callers hold the registry's alias lock.
    """
    day = storage.as_date(ds).isoformat()
    missing = missing_outputs(root, spec, day)
    if missing and require_outputs:
        raise OutputsMissingError(
            f"{spec.name} version {version}: output tables {missing} have no partition for ds={day} "
            f"under {storage.data_root(root)}/{OUTPUTS_STAGE}"
        )
    pointer = read_pointer(root)
    before = json.dumps(pointer, sort_keys=True)
    pointer["models"][spec.name] = {
        "version": str(version),
        "registered_name": spec.registered_name,
        "ds": day,
    }
    for table in spec.output_tables:
        if table in missing:
            log.warning("%s: no %s output for ds=%s; the pointer keeps %s", spec.name, table, day,
                        pointer["tables"].get(table))  # fmt: skip
            continue
        entry = {"ds": day, "path": f"{table}/ds={day}", "model": spec.name, "version": str(version)}
        pointer["tables"][table] = entry
    storage.write_json(pointer, pointer_uri(root))
    if json.dumps(pointer, sort_keys=True) != before:  # an idempotent re-move adds no history line
        moved = [t for t in spec.output_tables if t not in missing]
        record = {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "model": spec.name,
                  "version": str(version), "ds": day, "tables": moved}  # fmt: skip
        remote.append_line(history_uri(root), json.dumps(record, sort_keys=True))
    log.info("outputs pointer: %s -> version %s (ds=%s)", spec.name, version, day)
    return pointer


def history_uri(root: str) -> str:
    """``{root}/outputs/pointer_history.jsonl``."""
    return f"{storage.data_root(root)}/{OUTPUTS_STAGE}/{HISTORY_FILE}"


def read_history(root: str) -> list[dict[str, Any]]:
    """Every pointer move, oldest first (empty before the first publish or on an older root)."""
    body = remote.read_uri(history_uri(root))
    if body is None:
        return []
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def current_as_of(
    root: str,
    day: str | dt.date,
    *,
    table: str | None = None,
    model: str | None = None,
    history: list[dict[str, Any]] | None = None,
) -> dict[str, str] | None:
    """What the pointer designated for ``table`` (or ``model``) once the night of ``day`` was over.

    Point in time: among the moves of the history whose ``ds`` is at most ``day``, the last one
    (a later night's publication is never "current" for ``day``; a rollback counts from when it
    was made). Returns ``{"ds", "version", "model"}`` or None when nothing was published by then.
    A table the history does not know (published before the history existed) falls back to
    ``current.json`` when its entry is not newer than ``day``. ``history``: :func:`read_history`'s
    list when the caller asks about many days (read once, not once per day).
    """
    if (table is None) == (model is None):
        raise ConfigError("current_as_of: give exactly one of table and model")
    last = storage.as_date(day).isoformat()
    moves = [
        r for r in (read_history(root) if history is None else history)
        if r["ds"] <= last and (r["model"] == model if model else table in r.get("tables", ()))
    ]  # fmt: skip
    if moves:
        found = moves[-1]
        return {"ds": found["ds"], "version": found["version"], "model": found["model"]}
    pointer = read_pointer(root)
    entry = pointer["tables"].get(table) if table else pointer["models"].get(model)
    if entry is None or entry["ds"] > last:
        return None
    return {"ds": entry["ds"], "version": entry["version"], "model": entry.get("model", model)}


def current_uri(root: str, table: str) -> str:
    """The partition of ``table`` the pointer designates; FileNotFoundError when it has none."""
    entry = read_pointer(root)["tables"].get(table)
    if entry is None:
        raise FileNotFoundError(f"{pointer_uri(root)}: no current entry for table {table!r}")
    return f"{storage.data_root(root)}/{OUTPUTS_STAGE}/{entry['path']}"


def read_current(root: str, table: str) -> pd.DataFrame:
    """The table the pointer designates (what consumers should read)."""
    return storage.read_partition(current_uri(root, table))
