"""One helper addresses every artifact: ``{root}/{stage}/{table}/ds=YYYY-MM-DD/...``.

A partition is a folder holding data files and a ``_manifest.json``. The manifest is the commit
marker: it is written last, atomically, and lists the data files that belong to the partition, so
readers never see a half-written partition and a failed write leaves the previous one intact.
Data files are named after their content hash, which makes rewriting identical data a no-op.
Works on the local file system and on any fsspec URI (``s3://``, ``gs://``, ``memory://`` ...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from ecom_tasks import __version__
from ecom_tasks.errors import ConfigError

log = logging.getLogger(__name__)

DATA_ROOT_ENV = "ECOM_DATA_ROOT"
MANIFEST = "_manifest.json"
DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


def data_root(root: str | None = None) -> str:
    """The data root: ``root`` if given, else ``$ECOM_DATA_ROOT``, else ``./data`` in the project."""
    chosen = root or os.environ.get(DATA_ROOT_ENV) or DEFAULT_ROOT
    return chosen.rstrip("/")


def as_date(ds: str | dt.date) -> dt.date:
    """Parse a ``YYYY-MM-DD`` logical date; raise :class:`ConfigError` naming ``ds`` if malformed."""
    if isinstance(ds, dt.datetime):
        return ds.date()
    if isinstance(ds, dt.date):
        return ds
    try:
        return dt.date.fromisoformat(str(ds)[:10])
    except ValueError:
        raise ConfigError(f"ds: {ds!r} is not a date in YYYY-MM-DD form") from None


def partition_uri(root: str, stage: str, table: str, ds: str | dt.date) -> str:
    """Address of one partition: ``{root}/{stage}/{table}/ds=YYYY-MM-DD``."""
    for name, value in (("stage", stage), ("table", table)):
        if not value or "/" in value or value.startswith("."):
            raise ConfigError(f"{name}: {value!r} is not a valid path segment")
    return f"{data_root(root)}/{stage}/{table}/ds={as_date(ds).isoformat()}"


def _fs(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


def to_arrow(df: pd.DataFrame) -> pa.Table:
    """The frame as an Arrow table without its index (pandas dtypes kept in the schema metadata)."""
    # nthreads=1: pyarrow's per-column thread pool costs more than it saves on day-sized frames.
    return pa.Table.from_pandas(df, preserve_index=False, nthreads=1)


def table_hash(table: pa.Table) -> str:
    """SHA-256 of a table's Arrow IPC stream: its column names, types and values."""
    # The pandas metadata also records library versions: leave it out of the content.
    table = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def content_hash(df: pd.DataFrame) -> str:
    """A stable hash of a frame's values, column names and dtypes (not of its Parquet bytes).

    Hashing the Arrow IPC stream runs at memory speed, about ten times faster than hashing
    the values row by row with pandas.
    """
    return table_hash(to_arrow(df))


@dataclass(frozen=True)
class Manifest:
    """What a partition holds; stored as ``_manifest.json`` beside the data."""

    uri: str
    row_count: int
    schema: dict[str, str]
    content_hash: str
    files: list[str]
    source: str
    code_version: str
    written_at: str
    extra: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "row_count": self.row_count,
            "schema": self.schema,
            "content_hash": self.content_hash,
            "files": self.files,
            "source": self.source,
            "code_version": self.code_version,
            "written_at": self.written_at,
            "extra": self.extra,
        }


def _atomic_write_bytes(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{uuid.uuid4().hex}"
    with fs.open(tmp, "wb") as fh:
        fh.write(data)
    if isinstance(fs, LocalFileSystem):
        os.replace(tmp, path)  # atomic on POSIX
    else:
        fs.mv(tmp, path)  # object stores: the PUT of the final key is atomic


def to_parquet_bytes(data: pd.DataFrame | pa.Table) -> bytes:
    """Encode a frame (or Arrow table) as zstd-compressed Parquet, without its index."""
    table = data if isinstance(data, pa.Table) else to_arrow(data)
    buf = io.BytesIO()
    # Column statistics and dictionaries cost more than they give on these small, id-heavy files.
    pq.write_table(table, buf, compression="zstd", use_dictionary=False, write_statistics=False)
    return buf.getvalue()


def read_manifest(uri: str) -> Manifest | None:
    """The manifest of the partition at ``uri``, or ``None`` when no committed partition is there."""
    fs, path = _fs(uri)
    mpath = f"{path}/{MANIFEST}"
    if not fs.exists(mpath):
        return None
    with fs.open(mpath, "rb") as fh:
        raw = json.load(fh)
    return Manifest(
        uri=uri,
        row_count=int(raw["row_count"]),
        schema=dict(raw["schema"]),
        content_hash=str(raw["content_hash"]),
        files=list(raw["files"]),
        source=str(raw.get("source", "")),
        code_version=str(raw.get("code_version", "")),
        written_at=str(raw.get("written_at", "")),
        extra=dict(raw.get("extra", {})),
    )


def write_partition(
    df: pd.DataFrame,
    uri: str,
    *,
    source: str,
    extra: dict[str, Any] | None = None,
    written_at: dt.datetime | None = None,
    digest: str | None = None,
) -> tuple[Manifest, bool]:
    """Write ``df`` as the partition at ``uri``, replacing it atomically.

    Returns the manifest and whether anything changed: when the partition already holds the same
    content, nothing is rewritten (reruns are idempotent and leave landed data untouched).
    ``written_at`` is recorded in the manifest; it defaults to the wall clock, which is metadata
    only and never feeds a computation. ``digest`` may pass a precomputed :func:`content_hash`.
    """
    table = to_arrow(df)
    digest = digest or table_hash(table)
    current = read_manifest(uri)
    fs, path = _fs(uri)
    if current is not None and current.content_hash == digest:
        wanted = json.loads(json.dumps(dict(extra or {}), default=str))
        if current.extra == wanted:
            return current, False
        # Same data, new metadata (e.g. which raw content it came from): refresh the manifest only.
        refreshed = replace(current, extra=wanted)
        body = json.dumps(refreshed.to_dict(), indent=2, default=str).encode()
        _atomic_write_bytes(fs, f"{path}/{MANIFEST}", body)
        return refreshed, False
    fs.makedirs(path, exist_ok=True)
    fname = f"part-{digest[:16]}.parquet"
    _atomic_write_bytes(fs, f"{path}/{fname}", to_parquet_bytes(table))
    stamp = (written_at or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    manifest = Manifest(
        uri=uri,
        row_count=len(df),
        schema={c: str(t) for c, t in df.dtypes.items()},
        content_hash=digest,
        files=[fname],
        source=source,
        code_version=__version__,
        written_at=stamp,
        extra=dict(extra or {}),
    )
    _atomic_write_bytes(
        fs, f"{path}/{MANIFEST}", json.dumps(manifest.to_dict(), indent=2, default=str).encode()
    )
    # The new manifest is committed; files of the replaced version are now unreferenced.
    for stale in fs.ls(path, detail=False):
        name = stale.rsplit("/", 1)[-1]
        if name != MANIFEST and name != fname and not name.startswith("."):
            fs.rm(stale)
    log.info("wrote %s rows to %s", len(df), uri)
    return manifest, True


def read_partition(uri: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read the committed partition at ``uri``; raise ``FileNotFoundError`` naming it if absent."""
    manifest = read_manifest(uri)
    if manifest is None:
        raise FileNotFoundError(f"no committed partition at {uri} (missing {MANIFEST})")
    fs, path = _fs(uri)
    cols = list(columns) if columns is not None else None
    frames = []
    for name in manifest.files:
        with fs.open(f"{path}/{name}", "rb") as fh:
            frames.append(pd.read_parquet(fh, columns=cols, engine="pyarrow"))
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def list_partitions(root: str, stage: str, table: str) -> list[dt.date]:
    """Dates of the committed partitions of ``stage/table``, oldest first."""
    base = f"{data_root(root)}/{stage}/{table}"
    fs, path = _fs(base)
    if not fs.exists(path):
        return []
    dates = []
    for entry in fs.ls(path, detail=False):
        name = entry.rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("ds=") and fs.exists(f"{entry}/{MANIFEST}"):
            dates.append(dt.date.fromisoformat(name[3:]))
    return sorted(dates)


def write_json(obj: Any, uri: str) -> str:
    """Atomically write a small JSON document (summaries, metrics) and return its URI."""
    fs, path = _fs(uri)
    parent = path.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    _atomic_write_bytes(fs, path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())
    return uri


def read_json(uri: str) -> Any:
    """Read a JSON document written by :func:`write_json`."""
    fs, path = _fs(uri)
    with fs.open(path, "rb") as fh:
        return json.load(fh)
