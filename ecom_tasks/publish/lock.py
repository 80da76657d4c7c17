"""The registry's alias lock: one exclusive ``flock`` on ``{root}/mlflow/.alias.lock``.

Promotions, rollbacks and registrations take it, so the ``champion`` alias, the outputs pointer
and the "one version per fingerprint" rule change in one critical section at a time, across
processes and threads alike (``flock`` locks belong to the open file, not to the process).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish import tracking
from ecom_tasks.publish.flock import RegistryError, file_lock

# RegistryError is defined in flock.py, below tracking.py, which takes a file lock too; callers
# keep catching it from here.
__all__ = ["RegistryError", "alias_lock", "lock_path"]

log = logging.getLogger(__name__)


def lock_path(root: str) -> Path:
    """``{root}/mlflow/.alias.lock``; beside a local SQLite store when the root is not a local
    folder (the lock then guards exactly the database every publish on this machine writes);
    else a temp-dir lock."""
    try:
        return tracking.local_root(root) / catalog.MLFLOW / ".alias.lock"
    except ConfigError:
        pass
    uri = tracking.tracking_uri(root)
    if uri.startswith("sqlite:///"):
        return Path(uri.removeprefix("sqlite:///")).with_name(".alias.lock")
    log.warning("data root %s is not local: the alias lock only guards this machine", root)
    return Path(tempfile.gettempdir()) / "ecom-mlflow-alias.lock"


def alias_lock(root: str, timeout_s: float = 300.0) -> contextlib.AbstractContextManager[None]:
    """Hold the exclusive registry lock (``flock``: excludes other processes and other threads)."""
    return file_lock(lock_path(root), timeout_s)
