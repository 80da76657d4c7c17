"""One writer at a time per data root: a lock file under the root, with an owner and a heartbeat.

Ingest, validation and ``ecom verify --repair`` write the same partitions; two of them at once
on one root raced (each one's clean-up deleted the other's files, and two landings could mix
days of two sources). They now hold ``{root}/_locks/writer.json`` while they write:

- it is created with an exclusive create (``O_EXCL`` locally, ``"xb"`` through fsspec, which
  object stores implement as a conditional PUT), so only one process gets it;
- it names its owner (host, pid, what it is doing, since when) and is refreshed by a heartbeat
  thread; a lock whose heartbeat is older than ``ttl_s`` (a killed process on another machine) or
  whose process is gone (same host) is taken over, so a crash never blocks the root for good;
- a second writer waits up to ``wait_s`` and then fails with :class:`ConcurrentWriterError`
  naming the holder (Airflow retries the task later).

Nested holds in one process (``validate_landed`` calling ``validate_partition``) are re-entrant.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ecom_tasks import catalog, fsio, storage
from ecom_tasks.errors import ConcurrentWriterError

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 120.0
DEFAULT_WAIT_S = 60.0

_held: dict[str, int] = {}  # lock path -> nesting depth in this process
_held_guard = threading.Lock()


def lock_uri(root: str) -> str:
    return f"{storage.data_root(root)}/{catalog.LOCK_FILE}"


def _now() -> float:
    return time.time()


def _create(fs: Any, path: str, body: bytes) -> bool:
    """Create ``path`` with ``body`` only if it does not exist; whether this call created it."""
    fsio.makedirs(fs, path.rsplit("/", 1)[0])
    if fsio.is_local(fs):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        return True
    try:
        with fs.open(path, "xb") as fh:
            fh.write(body)
        return True
    except FileExistsError:
        return False


def _read(fs: Any, path: str) -> dict[str, Any] | None:
    body = fsio.read_bytes(fs, path)
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None  # a holder between create and write: treat as held (see _stale)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(holder: dict[str, Any] | None, ttl_s: float) -> bool:
    if holder is None:
        return False
    if _now() - float(holder.get("heartbeat", 0)) > ttl_s:
        return True
    return holder.get("host") == socket.gethostname() and not _pid_alive(int(holder.get("pid", -1)))


def describe(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "a writer that is just starting"
    since = dt.datetime.fromtimestamp(float(holder.get("since", 0)), dt.UTC).isoformat(timespec="seconds")
    age = _now() - float(holder.get("heartbeat", 0))
    return (
        f"{holder.get('what', '?')} (host {holder.get('host')}, pid {holder.get('pid')}, since {since}, "
        f"heartbeat {age:.0f} s ago)"
    )


@contextlib.contextmanager
def writer_lock(
    root: str, what: str, *, wait_s: float = DEFAULT_WAIT_S, ttl_s: float = DEFAULT_TTL_S
) -> Iterator[None]:
    """Hold the data root's writer lock while the block runs.

    Raises:
        ConcurrentWriterError: when another writer still holds it after ``wait_s`` seconds.
    """
    uri = lock_uri(root)
    fs, path = fsio.resolve(uri)
    with _held_guard:
        if _held.get(path):
            _held[path] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[path] -= 1
        return
    token = uuid.uuid4().hex
    mine = {"token": token, "host": socket.gethostname(), "pid": os.getpid(), "what": what}
    mine["since"] = _now()
    deadline = time.monotonic() + wait_s
    while True:
        mine["heartbeat"] = _now()
        if _create(fs, path, json.dumps(mine).encode()):
            break
        holder = _read(fs, path)
        if _stale(holder, ttl_s):
            log.warning("taking over the writer lock %s from %s (stale)", uri, describe(holder))
            if _read(fs, path) == holder:
                with contextlib.suppress(FileNotFoundError):
                    fsio.remove(fs, path)
            continue
        if time.monotonic() >= deadline:
            raise ConcurrentWriterError(
                f"{storage.data_root(root)}: another writer holds the data root's lock {uri}: "
                f"{describe(holder)}. Only one ingest/validation may write a root at a time; this "
                f"{what} waited {wait_s:.0f} s. Retry when it has finished (a lock whose heartbeat "
                f"is older than {ttl_s:.0f} s is taken over)."
            )
        time.sleep(min(0.2, max(wait_s / 10, 0.01)))
    with _held_guard:
        _held[path] = 1
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(ttl_s / 4):
            current = _read(fs, path)
            if current is None or current.get("token") != token:
                log.error("lost the writer lock %s to %s", uri, describe(current))
                return
            mine["heartbeat"] = _now()
            fsio.write_atomic(fs, path, json.dumps(mine).encode())

    thread = threading.Thread(target=beat, name="ecom-writer-lock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with _held_guard:
            _held.pop(path, None)
        current = _read(fs, path)
        if current is not None and current.get("token") == token:
            fsio.remove(fs, path)
