"""Finding the per-day files the UI reads (summaries, blessings, reports) and serving files from
a folder without letting a path escape it."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import fsspec

from ecom_tasks import storage

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


def local_folder(root: str, *parts: str) -> Path:
    """``{root}/part/...`` as a local path (the UI serves files only from a local data root)."""
    base = storage.data_root(root).removeprefix("file://")
    if "://" in base:
        raise FileNotFoundError(f"{base}: serving files needs a local data root")
    return Path(base, *parts)


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
