"""Finding the per-day files the UI reads (summaries, blessings, reports) and serving files from
a folder under the data root without letting a path escape it; on an object-store root a served
file is fetched into a per-process cache folder, since the web server sends local files."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tempfile
from pathlib import Path

import fsspec

from ecom_tasks import fsio, remote, storage

_DAY_DIR = re.compile(r"ds=(\d{4}-\d{2}-\d{2})")


def days_with_file(root: str, stage: str, table: str, filename: str) -> list[dt.date]:
    """Days ``D`` for which ``{root}/{stage}/{table}/ds=D/{filename}`` exists, oldest first."""
    fs, base = fsspec.core.url_to_fs(f"{storage.data_root(root)}/{stage}/{table}")
    if not fs.exists(base):
        return []
    days = []
    for path in fs.glob(f"{base}/ds=*/{filename}"):
        match = _DAY_DIR.fullmatch(path.rstrip("/").rsplit("/", 2)[-2])
        if match:
            days.append(dt.date.fromisoformat(match.group(1)))
    return sorted(days)


def safe_file(folder: Path, relative: str) -> Path | None:
    """``folder/relative`` if it is an existing file inside ``folder``; None otherwise (missing,
    a folder, or a path such as ``../x`` or a link that leads outside)."""
    if not relative or "\x00" in relative or relative.startswith("/"):
        return None
    try:
        base = folder.resolve(strict=True)
        target = (base / relative).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def data_file(root: str, relative: str, *parts: str) -> Path | None:
    """``{root}/part/.../relative`` as a local file to serve, or None (missing, a folder, or a path
    that leads outside ``{root}/part/...``).

    On a local root this is :func:`safe_file`; on an object store the file is downloaded (afresh
    on each call: reports are rewritten by reruns) into a cache folder under the temp directory.
    """
    base = f"{storage.data_root(root)}/{'/'.join(parts)}"
    if remote.is_local_uri(base):
        return safe_file(Path(fsio.resolve(base)[1]), relative)
    if not relative or "\x00" in relative or relative.startswith("/") or "\\" in relative:
        return None
    if any(part in ("", ".", "..") for part in relative.split("/")):
        return None
    fs, path = fsio.resolve(f"{base}/{relative}")
    if not fs.isfile(path):
        return None
    key = hashlib.sha256(f"{base}/{relative}".encode()).hexdigest()[:16]
    target = Path(tempfile.gettempdir(), "ecom-ui-files", key, relative.rsplit("/", 1)[-1])
    target.parent.mkdir(parents=True, exist_ok=True)
    fsio.write_atomic(fsio.LOCAL, str(target), fsio.read_bytes(fs, path) or b"")
    return target
