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
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ecom_tasks import __version__, fsio
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
    return fsio.resolve(uri)


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


def to_parquet_bytes(data: pd.DataFrame | pa.Table) -> bytes:
    """Encode a frame (or Arrow table) as zstd-compressed Parquet, without its index."""
    table = data if isinstance(data, pa.Table) else to_arrow(data)
    buf = io.BytesIO()
    # Column statistics and dictionaries cost more than they give on these small, id-heavy files.
    pq.write_table(table, buf, compression="zstd", use_dictionary=False, write_statistics=False)
    return buf.getvalue()


# The last few small encodings, by content: the same rows with the same schema (the empty
# quarantine of every day, an unchanged dimension snapshot) encode to the same bytes every time.
_ENCODED: OrderedDict[tuple[str, tuple[tuple[bytes, bytes], ...]], bytes] = OrderedDict()
_ENCODED_SLOTS, _ENCODED_MAX_BYTES = 8, 1 << 20


def _encoded(table: pa.Table, digest: str) -> bytes:
    """:func:`to_parquet_bytes` of ``table``, whose :func:`table_hash` is ``digest``."""
    # The hash covers names, types and values but not the schema metadata (pandas dtypes): key on both.
    key = (digest, tuple(sorted((table.schema.metadata or {}).items())))
    data = _ENCODED.get(key)
    if data is not None:
        _ENCODED.move_to_end(key)
    else:
        data = to_parquet_bytes(table)
        if len(data) <= _ENCODED_MAX_BYTES:
            _ENCODED[key] = data
            if len(_ENCODED) > _ENCODED_SLOTS:
                _ENCODED.popitem(last=False)
    return data


def read_manifest(uri: str) -> Manifest | None:
    """The manifest of the partition at ``uri``, or ``None`` when no committed partition is there."""
    fs, path = _fs(uri)
    body = fsio.read_bytes(fs, f"{path}/{MANIFEST}")
    if body is None:
        return None
    raw = json.loads(body)
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
    table: pa.Table | None = None,
) -> tuple[Manifest, bool]:
    """Write ``df`` as the partition at ``uri``, replacing it atomically.

    Returns the manifest and whether anything changed: when the partition already holds the same
    content, nothing is rewritten (reruns are idempotent and leave landed data untouched).
    ``written_at`` is recorded in the manifest; it defaults to the wall clock, which is metadata
    only and never feeds a computation. ``digest`` may pass a precomputed :func:`content_hash`;
    ``table`` may pass :func:`to_arrow` of ``df`` when the caller has it (a slice of one
    conversion of many partitions' rows): it is what gets hashed and written, so it must be that.
    """
    table = to_arrow(df) if table is None else table
    hashed_here = digest is None
    digest = digest or table_hash(table)
    current = read_manifest(uri)
    fs, path = _fs(uri)
    # A data file lost under an intact manifest (deleted by hand, a partial restore) is written
    # again by the next write of the same content instead of being trusted.
    intact = current is not None and all(fsio.exists(fs, f"{path}/{name}") for name in current.files)
    if intact and current.content_hash == digest:
        wanted = json.loads(json.dumps(dict(extra or {}), default=str))
        if current.extra == wanted:
            return current, False
        # Same data, new metadata (e.g. which raw content it came from): refresh the manifest only.
        refreshed = replace(current, extra=wanted)
        body = json.dumps(refreshed.to_dict(), indent=2, default=str).encode()
        fsio.write_atomic(fs, f"{path}/{MANIFEST}", body)
        return refreshed, False
    # A folder made just now holds nothing stale; one that existed may (a replaced version).
    fresh = fsio.makedirs(fs, path)
    fname = f"part-{digest[:16]}.parquet"
    data = _encoded(table, digest) if hashed_here else to_parquet_bytes(table)
    fsio.write_atomic(fs, f"{path}/{fname}", data)
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
    fsio.write_atomic(
        fs, f"{path}/{MANIFEST}", json.dumps(manifest.to_dict(), indent=2, default=str).encode()
    )
    # The new manifest is committed; files of the replaced version are now unreferenced.
    for name in [] if fresh else fsio.list_names(fs, path):
        if name != MANIFEST and name != fname and not name.startswith("."):
            fsio.remove(fs, f"{path}/{name}")
    log.info("wrote %s rows to %s", len(df), uri)
    return manifest, True


def _read_tables(uri: str, columns: Iterable[str] | None) -> list[pa.Table]:
    """The data files of the committed partition at ``uri``, as Arrow tables."""
    manifest = read_manifest(uri)
    if manifest is None:
        raise FileNotFoundError(f"no committed partition at {uri} (missing {MANIFEST})")
    fs, path = _fs(uri)
    cols = list(columns) if columns is not None else None
    return [fsio.read_parquet(fs, f"{path}/{name}", cols) for name in manifest.files]


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas.read_parquet returns it (dtypes from the pandas metadata, ``attrs``)."""
    df = table.to_pandas()
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs:
        df.attrs = json.loads(attrs)
    return df


def read_partition(uri: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Read the committed partition at ``uri``; raise ``FileNotFoundError`` naming it if absent."""
    frames = [_to_frame(t) for t in _read_tables(uri, columns)]
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def read_partitions(
    uris: Sequence[str], columns: Iterable[str] | None = None
) -> tuple[pd.DataFrame, list[int]]:
    """The committed partitions at ``uris`` end to end as one frame, and each one's row count.

    The frame equals concatenating :func:`read_partition` of each (``ignore_index=True``), Arrow
    chunks included; it is converted to pandas once rather than once per partition, which for a
    year of small days costs about half as much. Partitions whose schemas differ (or use
    dictionary types, which pandas and Arrow concatenate differently) are converted one by one.

    Raises:
        FileNotFoundError: naming the first partition that is not committed.
    """
    cols = list(columns) if columns is not None else None
    per_uri = [_read_tables(uri, cols) for uri in uris]
    sizes = [sum(t.num_rows for t in tables) for tables in per_uri]
    tables = [t for ts in per_uri for t in ts]
    if not tables:
        return pd.DataFrame(columns=cols), sizes
    first = tables[0].schema
    uniform = all(t.schema.equals(first, check_metadata=True) for t in tables[1:])
    if uniform and not any(pa.types.is_dictionary(f.type) for f in first):
        return _to_frame(pa.concat_tables(tables)), sizes
    return pd.concat([_to_frame(t) for t in tables], ignore_index=True), sizes


def list_partitions(root: str, stage: str, table: str) -> list[dt.date]:
    """Dates of the committed partitions of ``stage/table``, oldest first."""
    base = f"{data_root(root)}/{stage}/{table}"
    fs, path = _fs(base)
    if not fsio.exists(fs, path):
        return []
    dates = []
    for name in fsio.list_names(fs, path):
        if name.startswith("ds=") and fsio.exists(fs, f"{path}/{name}/{MANIFEST}"):
            dates.append(dt.date.fromisoformat(name[3:]))
    return sorted(dates)


def write_json(obj: Any, uri: str) -> str:
    """Atomically write a small JSON document (summaries, metrics) and return its URI."""
    fs, path = _fs(uri)
    fsio.makedirs(fs, path.rsplit("/", 1)[0])
    fsio.write_atomic(fs, path, json.dumps(obj, indent=2, sort_keys=True, default=str).encode())
    return uri


def read_json(uri: str) -> Any:
    """Read a JSON document written by :func:`write_json`."""
    fs, path = _fs(uri)
    body = fsio.read_bytes(fs, path)
    if body is None:
        raise FileNotFoundError(f"no JSON document at {uri}")
    return json.loads(body)
