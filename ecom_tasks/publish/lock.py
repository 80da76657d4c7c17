"""The registry's alias lock: one exclusive ``flock`` on ``{root}/mlflow/.alias.lock``.

Promotions, rollbacks and registrations take it, so the ``champion`` alias, the outputs pointer
and the "one version per fingerprint" rule change in one critical section at a time, across
processes and threads alike (``flock`` locks belong to the open file, not to the process).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ecom_tasks.errors import ConfigError, EcomError
from ecom_tasks.publish import tracking

log = logging.getLogger(__name__)


class RegistryError(EcomError):
    """The registry could not be updated (lock timeout, missing version ...)."""


def lock_path(root: str) -> Path:
    """``{root}/mlflow/.alias.lock``; a temp-dir lock when the root is not a local folder."""
    try:
        return tracking.local_root(root) / "mlflow" / ".alias.lock"
    except ConfigError:
        log.warning("data root %s is not local: the alias lock only guards this machine", root)
        return Path(tempfile.gettempdir()) / "ecom-mlflow-alias.lock"


def alias_lock(root: str, timeout_s: float = 300.0) -> contextlib.AbstractContextManager[None]:
    """Hold the exclusive registry lock (``flock``: excludes other processes and other threads)."""
    return file_lock(lock_path(root), timeout_s)


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
