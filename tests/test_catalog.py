"""Names under the data root live in ecom_tasks.catalog only (issue #17).

A module-level ``NAME = "literal"`` anywhere else in ``ecom_tasks/`` whose literal is one of the
catalog's names is a second spelling of that name: it fails here. A few constants whose value merely
coincides with a catalog name (a severity, a policy, a statistic's key) are listed, with why.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ecom_tasks import catalog

PACKAGE = Path(catalog.__file__).resolve().parent

# (module path relative to ecom_tasks/, constant): same string as a catalog name, another meaning.
COINCIDENCES: dict[tuple[str, str], str] = {
    ("validation/config.py", "QUARANTINE"): "a rule severity: failing rows are quarantined",
    ("ingest_checks.py", "QUARANTINE"): "a future-rows policy value",
    ("heads/data.py", "SPLIT_NAMES"): "the 'validation' split of a dataset",
    ("features/columns.py", "HOUR_OF_WEEK"): "a column of the hour_of_week table",
    ("sources/synthetic/frames.py", "STAT_EVENTS"): "a key of the generator's statistics",
    ("sources/synthetic/frames.py", "STAT_USERS"): "a key of the generator's statistics",
    ("sources/synthetic/frames.py", "STAT_ITEMS"): "a key of the generator's statistics",
}


def catalog_names() -> set[str]:
    """Every string value the catalog defines (tuples of names included)."""
    names: set[str] = set()
    for key, value in vars(catalog).items():
        if key.startswith("_"):
            continue
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, tuple):
            names.update(v for v in value if isinstance(v, str))
    return names


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for elt in node.elts for s in _strings(elt)]
    return []


def _pairs(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """``(name, value)`` for ``NAME = v`` and ``A, B = v1, v2``; a tuple value of one name is kept whole."""
    if isinstance(target, ast.Name):
        return [(target.id, value)]
    same_shape = isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
    if same_shape and len(target.elts) == len(value.elts):
        return [p for t, v in zip(target.elts, value.elts, strict=True) for p in _pairs(t, v)]
    return []


def duplicates(source: str, names: set[str]) -> list[tuple[str, str]]:
    """Module-level constants of ``source`` whose string literal (or one in a tuple) is in ``names``."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            pairs = [p for target in node.targets for p in _pairs(target, node.value)]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            pairs = _pairs(node.target, node.value)
        else:
            continue
        found += [(name, s) for name, value in pairs for s in _strings(value) if s in names]
    return found


def test_scanner_finds_a_planted_duplicate() -> None:
    source = (
        "from ecom_tasks import catalog\n"
        'METRICS_FILE = "metrics.json"\n'
        'STAGE: str = "raw"\n'
        'A, B = "x", "validated"\n'
        'STAGES = ("features", "y")\n'
        "OK = catalog.METRICS_FILE\n"
        'ALSO_OK = "metrics"\n'
        "def f():\n"
        '    local = "metrics.json"\n'
    )
    got = duplicates(source, catalog_names())
    assert got == [
        ("METRICS_FILE", "metrics.json"),
        ("STAGE", "raw"),
        ("B", "validated"),
        ("STAGES", "features"),
    ]


def test_catalog_names_cover_the_data_root() -> None:
    names = catalog_names()
    assert {catalog.MODELS, catalog.METRICS_FILE, catalog.MANIFEST_FILE, catalog.LOCK_FILE} <= names
    assert catalog.ALERTS_FILE == "alerts/alerts.jsonl" and catalog.LOCK_FILE == "_locks/writer.json"


def test_no_module_spells_a_catalog_name_again() -> None:
    names = catalog_names()
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "catalog.py":
            continue
        for name, value in duplicates(path.read_text(encoding="utf-8"), names):
            if (rel, name) not in COINCIDENCES:
                found.append(f"ecom_tasks/{rel}: {name} = {value!r} (use ecom_tasks.catalog)")
    assert not found, "\n".join(found)


def test_coincidences_still_exist() -> None:
    """A listed coincidence that is gone (renamed, removed) is taken off the list."""
    names = catalog_names()
    for rel, name in COINCIDENCES:
        got = dict(duplicates((PACKAGE / rel).read_text(encoding="utf-8"), names))
        assert name in got, f"{rel}: {name} no longer equals a catalog name; drop it from COINCIDENCES"
