"""Setting a partition aside: uncommit it and move it, with a record, under another area of the root.

Used to retract the days of an earlier landing (``retracted/``) and to keep a corrupt partition
out of every reader's way until it is rebuilt (``corrupt/``). It sits below :mod:`storage`, which
sets aside a corrupt file it finds while writing, and :mod:`integrity`, which checks partitions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

from ecom_tasks import catalog, fsio

log = logging.getLogger(__name__)


def _split(uri: str) -> tuple[str, str, str, str]:
    """``(root, stage, table, 'ds=D')`` of a partition URI."""
    root, stage, table, part = uri.rstrip("/").rsplit("/", 3)
    return root, stage, table, part


def move_aside(uri: str, area: str, record: dict[str, Any], stamp: str | None = None) -> str | None:
    """Move the partition folder at ``uri`` to ``{root}/{area}/{stage}/{table}/ds=D/{stamp}``.

    The manifest goes first (local: one rename of the whole folder), so the partition stops being
    committed before anything else happens. Returns where it went, or ``None`` if nothing was there.
    """
    root, stage, table, part = _split(uri)
    fs, path = fsio.resolve(uri)
    if not fsio.exists(fs, path):
        return None
    stamp = stamp or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    dest_uri = f"{root}/{area}/{stage}/{table}/{part}/{stamp}"
    _, dest = fsio.resolve(dest_uri)
    fsio.makedirs(fs, dest.rsplit("/", 1)[0])
    if fsio.is_local(fs):
        import os

        os.rename(path, dest)
    else:
        body = fsio.read_bytes(fs, f"{path}/{catalog.MANIFEST_FILE}")
        if body is not None:
            fsio.remove(fs, f"{path}/{catalog.MANIFEST_FILE}")
            fsio.makedirs(fs, dest)
            fsio.write_atomic(fs, f"{dest}/{catalog.MANIFEST_FILE}", body)
        for name in fsio.list_names(fs, path):
            fs.mv(f"{path}/{name}", f"{dest}/{name}")
        fs.rm(path, recursive=True)
    record = {"partition": uri, "moved_to": dest_uri, "at": stamp, **record}
    fsio.write_atomic(
        fs, f"{dest}/{catalog.MOVE_RECORD_FILE}", json.dumps(record, indent=2, default=str).encode()
    )
    return dest_uri


def quarantine_files(manifest: Any, problem: str) -> str | None:
    """Set a corrupt partition aside under ``corrupt/`` (uncommitting it) and log where it went."""
    dest = move_aside(manifest.uri, catalog.CORRUPT, {"problem": problem, "manifest": manifest.to_dict()})
    log.error("corrupt partition %s: %s; moved to %s to be rebuilt", manifest.uri, problem, dest)
    return dest
