"""Published tables held in memory with an index, reloaded only when their content changes.

A customer lookup must answer in well under 200 ms with 100,000 customers published, so a table
is read once and indexed by its key (``pd.factorize`` plus one stable sort: every key's rows are
one contiguous slice). The cache entry is keyed by the partition's manifest ``content_hash``:
reading the small manifest on every request is cheap, and a new publication (or a rollback that
moves the pointer) is picked up on the next request.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import storage


@dataclass(frozen=True)
class Indexed:
    """A frame sorted so that each key's rows are contiguous, with the slice of every key."""

    frame: pd.DataFrame
    spans: dict[str, tuple[int, int]]
    version: Hashable = None

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        key: str,
        order_by: Sequence[str] = (),
        ascending: bool | Sequence[bool] = True,
        version: Hashable = None,
    ) -> Indexed:
        """Index ``frame`` by ``key``; within a key, rows follow ``order_by`` (and ``ascending``)."""
        frame = frame[frame[key].notna()]
        if order_by:
            frame = frame.sort_values(list(order_by), ascending=ascending, kind="stable")
        codes, uniques = pd.factorize(frame[key].astype(str), sort=False)
        order = np.argsort(codes, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        counts = np.bincount(codes, minlength=len(uniques))
        ends = np.cumsum(counts)
        starts = ends - counts
        spans = dict(zip(np.asarray(uniques, dtype=object), zip(starts.tolist(), ends.tolist(), strict=True),
                         strict=True))  # fmt: skip
        return cls(frame, spans, version)

    def rows(self, key: str, limit: int | None = None) -> pd.DataFrame:
        """The rows of ``key`` (an empty frame when it has none), at most ``limit``."""
        start, end = self.spans.get(key, (0, 0))
        if limit is not None:
            end = min(end, start + limit)
        return self.frame.iloc[start:end]

    @functools.cached_property
    def _columns(self) -> dict[str, np.ndarray]:
        # One array per column, built once: reading a few rows from them is several times faster
        # than slicing a wide frame with mixed dtypes and converting the slice.
        return {str(name): self.frame[name].to_numpy() for name in self.frame.columns}

    def records(self, key: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The rows of ``key`` as plain dicts (values as stored: numpy scalars, ``pd.NA``)."""
        start, end = self.spans.get(key, (0, 0))
        if limit is not None:
            end = min(end, start + limit)
        columns = self._columns
        return [{name: values[i] for name, values in columns.items()} for i in range(start, end)]

    def __contains__(self, key: object) -> bool:
        return key in self.spans

    def __len__(self) -> int:
        return len(self.spans)


class TableCache:
    """Indexed partitions by URI, each reloaded when its manifest's content hash changes.

    ``memo`` keeps any other derived value under a caller's key and version (e.g. the purchase
    index over many partitions). At most ``max_entries`` values are kept, the least recently used
    dropped first (each night publishes new partitions; yesterday's must not pile up). Safe to
    share between the web server's threads.
    """

    def __init__(self, max_entries: int = 32) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, Any] = {}
        self._checked: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def partition(
        self, uri: str, key: str, order_by: Sequence[str] = (), ascending: bool | Sequence[bool] = True
    ) -> Indexed | None:
        """The partition at ``uri`` indexed by ``key``; None when no committed partition is there."""
        manifest = storage.read_manifest(uri)
        if manifest is None:
            return None
        cache_key = ("partition", uri, key, tuple(order_by))
        return self.memo(
            cache_key,
            manifest.content_hash,
            lambda: Indexed.build(storage.read_partition(uri), key, order_by, ascending),
        )

    def memo(self, key: Hashable, version: Hashable, build: Callable[[], Any]) -> Any:
        """The value stored under ``key`` if it was built for ``version``; else ``build()`` it."""
        with self._lock:
            found = self._entries.get(key)
            if found is not None and found[0] == version:
                self._entries[key] = self._entries.pop(key)  # most recently used last
                return found[1]
        value = build()
        self._store(key, (version, value))
        return value

    def ttl(self, key: Hashable, seconds: float, build: Callable[[], Any]) -> Any:
        """The value under ``key`` if built less than ``seconds`` ago (monotonic clock), else rebuild."""
        now = time.monotonic()  # a cache lifetime, never an input to what is shown
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - self._checked.get(key, -np.inf) < seconds:
                return found[1]
        value = build()
        self._store(key, (None, value))
        with self._lock:
            self._checked[key] = now
        return value

    def _store(self, key: Hashable, entry: tuple[Hashable, Any]) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry
            while len(self._entries) > self.max_entries:
                oldest = next(iter(self._entries))
                del self._entries[oldest]
                self._checked.pop(oldest, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._checked.clear()
