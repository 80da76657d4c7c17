"""A hash of the source a training result was built from, uncommitted edits included.

Training reuse (:func:`ecom_tasks.nightly.reuse_or_train`) hands back a recorded result when the
inputs, the configuration and the code are unchanged. The git commit alone does not say the code is
unchanged: an edited train function that is not committed yet has the same commit. So the code's
part of the fingerprint also hashes the ``.py`` files themselves: every file of ``ecom_tasks`` and
of the stage's own package when it is registered from outside (``$ECOM_MODEL_STAGES``, e.g.
``tests/toy_stage``).

Hashing is cheap (about a megabyte of source) and cached per process: a tree is hashed again only
when one of its files' path, size or modification time changed, so a process that trains several
models (``airflow dags test`` runs every task in one) reads the files once.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # ecom_tasks/

_Stats = tuple[tuple[str, int, int], ...]
_CACHE: dict[Path, tuple[_Stats, str]] = {}


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def tree_hash(path: Path) -> str:
    """sha256 of the ``.py`` files under ``path`` (or of the file ``path``): names and contents."""
    path = Path(path).resolve()
    files = _files(path)
    base = path.parent if path.is_file() else path
    stats: _Stats = tuple(
        (str(f.relative_to(base)), s.st_size, s.st_mtime_ns) for f in files for s in (f.stat(),)
    )
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stats:
        return cached[1]
    digest = hashlib.sha256()
    for (name, _, _), file in zip(stats, files, strict=True):
        digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    _CACHE[path] = (stats, digest.hexdigest())
    return digest.hexdigest()


def module_source(dotted: str) -> Path | None:
    """Where the code of ``"module:name"`` lives: its package's folder, or the file of a top-level module.

    None for a module of ``ecom_tasks`` (hashed whole anyway) or one that cannot be found (its import
    fails later with the registry's own message).
    """
    module = dotted.partition(":")[0]
    if module == PACKAGE_DIR.name or module.startswith(f"{PACKAGE_DIR.name}."):
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return None
    origin = Path(spec.origin).resolve()
    if spec.submodule_search_locations is not None or "." in module:
        return origin.parent  # the package the module is part of, all of it
    return origin


def source_hash(extra: tuple[str, ...] = ()) -> str:
    """One hash of ``ecom_tasks`` and the sources of the ``"module:name"`` paths in ``extra``."""
    trees = {PACKAGE_DIR} | {p for p in (module_source(d) for d in extra) if p is not None}
    parts = [f"{tree.name}:{tree_hash(tree)}" for tree in sorted(trees)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
