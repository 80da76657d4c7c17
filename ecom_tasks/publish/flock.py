"""An exclusive ``flock`` with a timeout, on any lock file.

It sits below both of its users, the registry's alias lock (lock.py) and the first-run
initialisation of the embedded MLflow store (tracking.py), so that neither has to import the other.
"""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

from ecom_tasks.errors import EcomError


class RegistryError(EcomError):
    """The registry could not be updated (lock timeout, missing version ...)."""


@contextlib.contextmanager
def file_lock(path: Path, timeout_s: float = 300.0) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed); RegistryError after ``timeout_s``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    with open(path, "a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RegistryError(
                        f"{path}: another publish held the lock for over {timeout_s:.0f}s"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
