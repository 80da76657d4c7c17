"""One helper addresses every artifact: ``{root}/{stage}/{table}/ds=YYYY-MM-DD/...``.

A partition is a folder holding data files and a ``_manifest.json``. The manifest is the commit
marker: it is written last, atomically, and lists the data files that belong to the partition, so
readers never see a half-written partition and a failed write leaves the previous one intact.
Data files are named after their content hash, which makes rewriting identical data a no-op.
The manifest also records each file's size and SHA-256 (``file_checksums``): readers check them
and the row count before trusting a file (:class:`CorruptPartitionError` names the partition),
and a write of unchanged content rewrites a file whose bytes no longer match.
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
from dataclasses import dataclass, field, replace
from typing import Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ecom_tasks import __version__, aside, catalog, fsio
from ecom_tasks.errors import ConfigError, CorruptPartitionError

log = logging.getLogger(__name__)

DATA_ROOT_ENV = "ECOM_DATA_ROOT"
MANIFEST = catalog.MANIFEST_FILE  # many readers (and tests) say storage.MANIFEST
HASH_VERSION = 2  # content_hash of the single-chunk table (1: of the table as chunked in memory)
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


def canonical_table(table: pa.Table) -> pa.Table:
    """``table`` with each column as one freshly laid out array (what a Parquet round trip gives).

    A slice of a bigger frame keeps its parent's buffers (and a validity bitmap without nulls),
    and a concatenation keeps its chunks: the IPC stream of the same rows then differs.
    ``concat_arrays`` copies each column into one compact array (memory speed).
    """
    arrays = [
        pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], type=col.type)
        for col in table.columns
    ]
    return pa.Table.from_arrays(arrays, schema=table.schema)


def table_hash(table: pa.Table) -> str:
    """SHA-256 of a table's Arrow IPC stream: its column names, types and values.

    The table is hashed in its canonical layout (:func:`canonical_table`): the same rows and
    schema give the same hash however they sit in memory (a slice of a whole file, a day read
    back from Parquet, a concatenation of chunks). Hash version 1 hashed the layout as it was
    (see :func:`_v1_hash`, kept to migrate older manifests without rewriting their data).
    """
    # The pandas metadata also records library versions: leave it out of the content.
    table = canonical_table(table.replace_schema_metadata(None))
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
    # ``{file: {"bytes": size, "sha256": digest}}``; empty in manifests written before it existed.
    file_checksums: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Content hashes this partition's content had under earlier hash versions (migrated manifests):
    # records that point at the old hash (a validated day's raw_content_hash) stay valid.
    legacy_hashes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, uri: str, raw: dict[str, Any]) -> Manifest:
        """The manifest of the partition at ``uri`` from its JSON body (:meth:`to_dict`)."""
        return cls(
            uri=uri,
            row_count=int(raw["row_count"]),
            schema=dict(raw["schema"]),
            content_hash=str(raw["content_hash"]),
            files=list(raw["files"]),
            source=str(raw.get("source", "")),
            code_version=str(raw.get("code_version", "")),
            written_at=str(raw.get("written_at", "")),
            extra=dict(raw.get("extra", {})),
            file_checksums=dict(raw.get("file_checksums", {})),
            legacy_hashes=list(raw.get("legacy_hashes", [])),
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "row_count": self.row_count,
            "schema": self.schema,
            "content_hash": self.content_hash,
            "files": self.files,
            "source": self.source,
            "code_version": self.code_version,
            "written_at": self.written_at,
            "extra": self.extra,
        }
        if self.file_checksums:
            out["file_checksums"] = self.file_checksums
            out["hash_version"] = HASH_VERSION
        if self.legacy_hashes:
            out["legacy_hashes"] = self.legacy_hashes
        return out

    def hashes(self) -> set[str]:
        """The content hash and any earlier hash of the same content."""
        return {self.content_hash, *self.legacy_hashes}


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
    return Manifest.from_dict(uri, json.loads(body))


def checksum(data: bytes) -> dict[str, Any]:
    """What a manifest records of one data file: its size and SHA-256 (~1 GB/s here)."""
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_problem(manifest: Manifest, name: str, data: bytes | None) -> str | None:
    """Why the bytes ``data`` of file ``name`` do not match ``manifest`` (``None`` when they do)."""
    if data is None:
        return "is missing"
    want = manifest.file_checksums.get(name)
    if want is None:
        return None  # an older manifest: the row count and the Parquet reader are the checks
    if len(data) != want["bytes"]:
        return f"has {len(data)} bytes, the manifest says {want['bytes']}"
    if hashlib.sha256(data).hexdigest() != want["sha256"]:
        return "bytes do not match the manifest's checksum (changed on disk)"
    return None


def corrupt(manifest: Manifest, problem: str) -> CorruptPartitionError:
    """The error of a partition whose files do not match its manifest, naming what to do."""
    return CorruptPartitionError(manifest.uri, problem)


@dataclass(frozen=True)
class PreparedWrite:
    """A partition whose data file is written and whose manifest is not committed yet."""

    manifest: Manifest
    changed: bool  # whether the data changed (else only the manifest is refreshed)
    fresh: bool  # the folder was created by this write: nothing stale to remove


def _unchanged(current: Manifest | None, digest: str, table: pa.Table, fs: Any, path: str) -> Manifest | None:
    """``current`` (checksums filled in) when it holds ``table``'s content in intact files, else None.

    A data file lost or changed under an intact manifest (deleted by hand, a bad disk, a partial
    restore) is written again by the next write of the same content instead of being trusted;
    the corrupt file is kept aside (see :func:`ecom_tasks.aside.quarantine_files`).
    """
    if current is None:
        return None
    same = digest in current.hashes()
    legacy: list[str] = []
    if not same and not current.file_checksums:
        # A manifest from before hash version 2: its hash may be of another chunk layout.
        old = _v1_hash(table)
        same = old == current.content_hash
        legacy = [current.content_hash] if same else []
    if not same:
        return None
    sums = {}
    for name in current.files:
        data = fsio.read_bytes(fs, f"{path}/{name}")
        problem = file_problem(current, name, data)
        if problem is None and data is not None and not current.file_checksums:
            problem = _parquet_problem(data, current.row_count)
        if problem is not None:
            log.warning("%s: %s %s; writing it again", current.uri, name, problem)
            aside.quarantine_files(current, f"{name} {problem}")
            return None
        sums[name] = current.file_checksums.get(name) or checksum(data)
    return replace(
        current, content_hash=digest, file_checksums=sums, legacy_hashes=legacy or current.legacy_hashes
    )


def _v1_hash(table: pa.Table) -> str:
    """The content hash as hash version 1 computed it (the IPC stream of the table as chunked)."""
    table = table.replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def _parquet_problem(data: bytes, rows: int) -> str | None:
    try:
        found = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
    except (OSError, ValueError, pa.ArrowException) as exc:
        return f"is not readable Parquet ({type(exc).__name__}: {exc})"
    return None if found == rows else f"holds {found} rows, the manifest says {rows}"


def prepare_partition(
    df: pd.DataFrame,
    uri: str,
    *,
    source: str,
    extra: dict[str, Any] | None = None,
    written_at: dt.datetime | None = None,
    digest: str | None = None,
    table: pa.Table | None = None,
) -> PreparedWrite | None:
    """Write the data file of ``df`` for the partition at ``uri``; return the manifest to commit.

    Returns ``None`` when the partition already holds the same content in intact files with the
    same ``extra`` (nothing to do). Nothing is visible to readers until :func:`commit_partition`.
    Arguments as for :func:`write_partition`.
    """
    table = to_arrow(df) if table is None else table
    hashed_here = digest is None
    digest = digest or table_hash(table)
    current = read_manifest(uri)
    fs, path = _fs(uri)
    wanted = json.loads(json.dumps(dict(extra or {}), default=str))
    kept = _unchanged(current, digest, table, fs, path)
    if kept is not None:
        if kept == current and current.extra == wanted:
            return None
        # Same data, new metadata (which raw content it came from, checksums of an older
        # manifest, a chunk-independent hash): refresh the manifest only.
        return PreparedWrite(replace(kept, extra=wanted), changed=False, fresh=False)
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
        extra=wanted,
        file_checksums={fname: checksum(data)},
    )
    return PreparedWrite(manifest, changed=True, fresh=fresh)


def commit_partition(prepared: PreparedWrite) -> Manifest:
    """Commit a prepared partition: write its manifest, then remove files no longer referenced.

    Idempotent: committing the same prepared write again (a resumed landing) changes nothing.
    """
    manifest = prepared.manifest
    fs, path = _fs(manifest.uri)
    body = json.dumps(manifest.to_dict(), indent=2, default=str).encode()
    fsio.write_atomic(fs, f"{path}/{MANIFEST}", body)
    if prepared.changed and not prepared.fresh:
        # Hidden names (temporary files of writers still at work) are never touched.
        for name in fsio.list_names(fs, path):
            if name != MANIFEST and name not in manifest.files and not name.startswith("."):
                fsio.remove(fs, f"{path}/{name}")
    if prepared.changed:
        log.info("wrote %s rows to %s", manifest.row_count, manifest.uri)
    return manifest


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
    prepared = prepare_partition(
        df, uri, source=source, extra=extra, written_at=written_at, digest=digest, table=table
    )
    if prepared is None:
        current = read_manifest(uri)
        assert current is not None
        return current, False
    return commit_partition(prepared), prepared.changed


def _read_tables(uri: str, columns: Iterable[str] | None) -> list[pa.Table]:
    """The data files of the committed partition at ``uri``, as Arrow tables, checked.

    Each file's bytes are checked against the manifest's size and SHA-256 (older manifests: the
    file must parse) and the rows against its row count; a mismatch raises
    :class:`CorruptPartitionError` naming the partition and the file.
    """
    manifest = read_manifest(uri)
    if manifest is None:
        raise FileNotFoundError(f"no committed partition at {uri} (missing {MANIFEST})")
    fs, path = _fs(uri)
    cols = list(columns) if columns is not None else None
    tables = []
    for name in manifest.files:
        data = fsio.read_bytes(fs, f"{path}/{name}")
        if data is None:
            raise FileNotFoundError(f"{uri}: data file {name} of the committed partition is missing")
        problem = file_problem(manifest, name, data)
        if problem is not None:
            raise corrupt(manifest, f"{name} {problem}")
        try:
            tables.append(fsio.read_parquet_bytes(data, cols))
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise corrupt(manifest, f"{name} is not readable Parquet ({type(exc).__name__}: {exc})") from exc
    rows = sum(t.num_rows for t in tables)
    if rows != manifest.row_count:
        raise corrupt(manifest, f"holds {rows} rows, the manifest says {manifest.row_count}")
    return tables


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
    uris: Sequence[str],
    columns: Iterable[str] | None = None,
    where: tuple[str, Iterable[str]] | None = None,
) -> tuple[pd.DataFrame, list[int]]:
    """The committed partitions at ``uris`` end to end as one frame, and each one's row count.

    ``where=(column, values)`` keeps only the rows whose ``column`` is one of ``values``, filtered in
    Arrow before the conversion to pandas (a night reading the purchases of 10 million events
    converts the purchases only); the row counts are then those kept.

    The frame equals concatenating :func:`read_partition` of each (``ignore_index=True``), Arrow
    chunks included; it is converted to pandas once rather than once per partition, which for a
    year of small days costs about half as much. Partitions whose schemas differ (or use
    dictionary types, which pandas and Arrow concatenate differently) are converted one by one.

    Raises:
        FileNotFoundError: naming the first partition that is not committed.
    """
    cols = list(columns) if columns is not None else None
    per_uri = [_read_tables(uri, cols) for uri in uris]
    if where is not None:
        column, values = where
        value_set = pa.array(list(values), type=pa.string())
        per_uri = [
            [t.filter(pc.is_in(t.column(column).cast(pa.string()), value_set=value_set)) for t in ts]
            for ts in per_uri
        ]
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
