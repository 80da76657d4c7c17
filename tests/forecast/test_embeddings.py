"""The forecast's item embeddings come from the retrieval model that was champion on the run's day."""

from __future__ import annotations

import datetime as dt

from ecom_tasks import catalog, remote, storage
from ecom_tasks.forecast.embeddings import champion_backbone
from ecom_tasks.publish.config import PublishConfig
from ecom_tasks.publish.outputs import move_pointer

RETRIEVAL = PublishConfig().model(catalog.RETRIEVAL)


def _publish(root: str, ds: str, version: str, *, weights: bool = True) -> str:
    folder = storage.partition_uri(root, catalog.MODELS, catalog.RETRIEVAL, ds)
    if weights:
        remote.write_uri(f"{folder}/{catalog.WEIGHTS_FILE}", b"weights")
    move_pointer(root, RETRIEVAL, version, ds, require_outputs=False)
    return folder


def test_a_backfill_gets_the_champion_of_its_day_not_a_later_one(tmp_path) -> None:
    root = str(tmp_path)
    assert champion_backbone(root, dt.date(2024, 3, 1)) is None  # nothing published yet
    first = _publish(root, "2024-03-01", "1")
    later = _publish(root, "2024-03-10", "2")
    assert champion_backbone(root, dt.date(2024, 2, 28)) is None  # before any champion
    assert champion_backbone(root, dt.date(2024, 3, 5)) == first  # a backfill: the champion then
    assert champion_backbone(root, dt.date(2024, 3, 10)) == later


def test_a_champion_whose_weights_are_gone_is_not_used(tmp_path) -> None:
    root = str(tmp_path)
    _publish(root, "2024-03-01", "1", weights=False)
    assert champion_backbone(root, dt.date(2024, 3, 2)) is None
