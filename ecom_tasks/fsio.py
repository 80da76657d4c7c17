"""File operations for :mod:`ecom_tasks.storage`: ``os`` on local paths, fsspec elsewhere.

fsspec adds 10-30 us to each call on a local path (URL parsing, protocol stripping), and writing
one small partition made about ten calls; with ``pandas.read_parquet`` on top, reading and writing
the ~3,400 partitions of a year-long validation backlog spent seconds outside the data itself.
Local paths, the common case, go straight to ``os`` and ``pyarrow``; any other URI (``s3://``,
``memory://`` ...) goes through fsspec as before.
"""

from __future__ import annotations

import contextlib
import io
import os
import uuid

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

LOCAL = LocalFileSystem()
TMP_PREFIX = ".tmp-"
_SCAN_BATCH_ROWS = 131_072  # pyarrow.dataset's default batch size, which pq.read_table scans with


def resolve(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The file system of ``uri`` and the path on it (a plain path is local, made absolute)."""
    if "://" not in uri and "::" not in uri:
        return LOCAL, LocalFileSystem._strip_protocol(uri)
    return fsspec.core.url_to_fs(uri)


def is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


def read_bytes(fs: fsspec.AbstractFileSystem, path: str) -> bytes | None:
    """The content of the file at ``path``, or ``None`` when there is none."""
    if is_local(fs):
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        return fh.read()


def write_atomic(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old content or the new, never a part.

    The temporary file is hidden (``.tmp-<unique>-<name>``) and unique to this call: clean-ups
    skip hidden names, so a concurrent writer never deletes another one's temporary file, and a
    failed write removes its own.
    """
    folder, _, name = path.rpartition("/")
    tmp = f"{folder}/{TMP_PREFIX}{uuid.uuid4().hex}-{name}"
    try:
        if is_local(fs):
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)  # atomic on POSIX
            return
        with fs.open(tmp, "wb") as fh:
            fh.write(data)
        fs.mv(tmp, path)  # object stores: the PUT of the final key is atomic
    except BaseException:
        with contextlib.suppress(OSError):
            if exists(fs, tmp):
                remove(fs, tmp)
        raise


def makedirs(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    """Create the folder ``path`` (and its parents) if absent; return whether it was absent."""
    existed = os.path.isdir(path) if is_local(fs) else fs.exists(path)
    if not existed:
        if is_local(fs):
            os.makedirs(path, exist_ok=True)
        else:
            fs.makedirs(path, exist_ok=True)
    return not existed


def exists(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    return os.path.exists(path) if is_local(fs) else fs.exists(path)


def list_names(fs: fsspec.AbstractFileSystem, path: str) -> list[str]:
    """The names (not paths) of the entries of the folder ``path``."""
    if is_local(fs):
        return os.listdir(path)
    return [entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(path, detail=False)]


def remove(fs: fsspec.AbstractFileSystem, path: str) -> None:
    if is_local(fs):
        os.remove(path)
    else:
        fs.rm(path)


def read_parquet(fs: fsspec.AbstractFileSystem, path: str, columns: list[str] | None) -> pa.Table:
    """The Parquet file at ``path`` as ``pandas.read_parquet`` reads it (``pq.read_table``), chunks included.

    ``pq.read_table`` scans in batches of at most 131,072 rows, one chunk per batch and row group;
    a file of one row group within that size is one chunk either way, and ``ParquetFile.read``
    reads it for about half the cost (small partitions are the common case).
    """
    if is_local(fs):
        return _read_parquet(path, columns)
    with fs.open(path, "rb") as fh:
        return _read_parquet(fh, columns)


def read_parquet_bytes(data: bytes, columns: list[str] | None) -> pa.Table:
    """:func:`read_parquet` of a file already read into memory (to check its bytes first)."""
    return _read_parquet(pa.BufferReader(data), columns)


def _read_parquet(source: str | io.IOBase | pa.BufferReader, columns: list[str] | None) -> pa.Table:
    parquet = pq.ParquetFile(source)
    if parquet.metadata.num_row_groups <= 1 and parquet.metadata.num_rows <= _SCAN_BATCH_ROWS:
        return parquet.read(columns=columns, use_pandas_metadata=True)
    if not isinstance(source, str):
        source.seek(0)
    return pq.read_table(source, columns=columns, use_pandas_metadata=True)
