"""Flat exports of the current batch output tables, refreshed when a new champion is published.

The ``ecom_exports`` DAG runs on the asset events that publication emits. It copies each table
the outputs pointer (``{root}/outputs/current.json``) designates to ``{root}/exports/``:

- ``<table>.parquet`` and ``<table>.csv`` (for tools that want one plain file),
- ``<table>.json``: the pointed ``ds``, model, version, row count and content hash.

Files are replaced atomically; a table whose pointed content has not changed is left alone.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from ecom_tasks import catalog, remote, storage

log = logging.getLogger(__name__)

EXPORTS_DIR = catalog.EXPORTS  # {root}/exports/


def _replace(write: Callable[[io.BytesIO], object], final: str) -> None:
    buf = io.BytesIO()
    write(buf)
    remote.write_uri(final, buf.getvalue())  # atomic, on a local or an object-store root


def export_current(root: str | None = None, tables: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Export the current version of ``tables`` (default: every table the pointer designates).

    Returns ``{table: {"ds", "version", "rows", "changed", "path"}}``.
    """
    from ecom_tasks.publish import outputs

    root = storage.data_root(root)
    pointer = outputs.read_pointer(root).get("tables", {})
    wanted = tables if tables is not None else tuple(sorted(pointer))
    missing = [t for t in wanted if t not in pointer]
    if missing:
        log.warning("no current version of %s yet: nothing to export for them", missing)
    out_dir = f"{root}/{EXPORTS_DIR}"
    result: dict[str, Any] = {}
    for table in (t for t in wanted if t in pointer):
        entry = pointer[table]
        uri = outputs.current_uri(root, table)
        manifest = storage.read_manifest(uri)
        meta = {
            "table": table,
            "ds": entry.get("ds"),
            "model": entry.get("model"),
            "version": entry.get("version"),
            "rows": manifest.row_count if manifest else None,
            "content_hash": manifest.content_hash if manifest else None,
            "source": uri,
        }
        meta_path = f"{out_dir}/{table}.json"
        previous = storage.read_json(meta_path) if remote.uri_exists(meta_path) else {}
        parquet, csv = f"{out_dir}/{table}.parquet", f"{out_dir}/{table}.csv"
        present = remote.uri_exists(parquet) and remote.uri_exists(csv)
        changed = previous.get("content_hash") != meta["content_hash"] or not present
        if changed:
            frame = storage.read_partition(uri)
            _replace(lambda p, f=frame: f.to_parquet(p, index=False), parquet)
            _replace(lambda p, f=frame: f.to_csv(p, index=False), csv)
            storage.write_json(meta, meta_path)  # last: it says which version the files hold
        log.info("export of %s (ds=%s, version %s): %s", table, meta["ds"], meta["version"],
                 "refreshed" if changed else "unchanged")  # fmt: skip
        result[table] = {**{k: meta[k] for k in ("ds", "version", "rows")}, "changed": changed,
                         "path": parquet}  # fmt: skip
    return result
