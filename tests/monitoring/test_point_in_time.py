"""The partition monitoring judges is the one that was current for the day, not the latest."""

from __future__ import annotations

import json

import pandas as pd

from ecom_tasks import catalog
from ecom_tasks.publish import outputs
from ecom_tasks.publish.config import ModelSpec

SPEC = ModelSpec(catalog.RANKING, output_tables=(catalog.RECOMMENDATIONS,))


def _publish(root: str, ds: str, version: str) -> None:
    outputs.write_output(root, catalog.RECOMMENDATIONS, ds, pd.DataFrame({"x": [ds]}), source="test")
    outputs.move_pointer(root, SPEC, version, ds, require_outputs=True)


def test_the_move_current_after_the_night_of_the_day_is_chosen(tmp_path) -> None:
    root = str(tmp_path)
    for version, ds in enumerate(("2024-01-10", "2024-01-11", "2024-01-13"), start=1):
        _publish(root, ds, str(version))
    table = catalog.RECOMMENDATIONS
    assert outputs.current_as_of(root, "2024-01-11", table=table) == {
        "ds": "2024-01-11", "version": "2", "model": catalog.RANKING}  # fmt: skip
    # Nothing was published on the 12th: the 11th's lists were still current; the 13th's is later.
    assert outputs.current_as_of(root, "2024-01-12", table=table)["ds"] == "2024-01-11"
    assert outputs.current_as_of(root, "2024-01-13", model=catalog.RANKING)["version"] == "3"
    assert outputs.current_as_of(root, "2024-01-09", table=table) is None
    # The pointer itself designates the latest.
    assert outputs.read_pointer(root)["tables"][table]["ds"] == "2024-01-13"


def test_a_rollback_counts_from_when_it_was_made_and_a_re_move_adds_nothing(tmp_path) -> None:
    root = str(tmp_path)
    _publish(root, "2024-01-10", "1")
    _publish(root, "2024-01-11", "2")
    outputs.move_pointer(root, SPEC, "2", "2024-01-11", require_outputs=True)  # idempotent: no new line
    outputs.move_pointer(root, SPEC, "1", "2024-01-10", require_outputs=True)  # a rollback
    assert len(outputs.read_history(root)) == 3
    assert outputs.current_as_of(root, "2024-01-12", table=catalog.RECOMMENDATIONS)["version"] == "1"


def test_a_root_without_history_falls_back_to_the_pointer_when_not_newer(tmp_path) -> None:
    root = str(tmp_path)
    _publish(root, "2024-01-10", "1")
    (tmp_path / catalog.OUTPUTS / catalog.POINTER_HISTORY_FILE).unlink()
    assert outputs.current_as_of(root, "2024-01-12", table=catalog.RECOMMENDATIONS)["ds"] == "2024-01-10"
    assert outputs.current_as_of(root, "2024-01-09", table=catalog.RECOMMENDATIONS) is None
    pointer = json.loads((tmp_path / catalog.OUTPUTS / catalog.POINTER_FILE).read_text())
    assert pointer["tables"][catalog.RECOMMENDATIONS]["version"] == "1"
