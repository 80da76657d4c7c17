"""What a pretraining run reads of the feature stage: optional tables, and the profiles as of the
last training day (never a later day's, so profile features cannot see the evaluation window)."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from ecom_tasks import storage
from ecom_tasks.retrieval.config import FEATURES_STAGE, TRAINING_PROFILES_TABLE, USER_FEATURES_TABLE

log = logging.getLogger(__name__)


def read_optional(uri: str) -> pd.DataFrame | None:
    """The partition at ``uri``, or None (logged) when it does not exist."""
    if storage.read_manifest(uri) is None:
        log.warning("%s is missing; training without it", uri)
        return None
    return storage.read_partition(uri)


def read_profiles(root: str, day: dt.date, last_train_day: dt.date) -> tuple[pd.DataFrame | None, str | None]:
    """The customer profiles as of the end of ``last_train_day``, and the partition they come from.

    First the features stage's ``training_profiles`` of ``day`` (written by
    ``build_training_data`` for every ``ds``, a first run or a backfill included), when its
    manifest says it is as of ``last_train_day``; otherwise (a ``holdout_days`` other than
    ``TrainingDataConfig.retrieval_holdout_days``, a data root from before that table) the
    ``customer_profiles`` partition of ``last_train_day`` itself. Never a later day's profiles.
    ``(None, None)`` when neither exists: the model trains without profile features (logged).
    """
    uri = storage.partition_uri(root, FEATURES_STAGE, TRAINING_PROFILES_TABLE, day)
    manifest = storage.read_manifest(uri)
    as_of = manifest.extra.get("as_of") if manifest is not None else None
    if as_of == last_train_day.isoformat():
        log.info("profile features as of %s: %s (%d customers)", last_train_day, uri, manifest.row_count)
        return storage.read_partition(uri), uri
    if manifest is not None:
        log.warning(
            "%s is as of %s, not the last training day %s (RetrievalConfig.holdout_days differs from "
            "TrainingDataConfig.retrieval_holdout_days): not used",
            uri,
            as_of,
            last_train_day,
        )
    day_uri = storage.partition_uri(root, FEATURES_STAGE, USER_FEATURES_TABLE, last_train_day)
    if storage.read_manifest(day_uri) is not None:
        log.info("profile features as of %s: %s", last_train_day, day_uri)
        return storage.read_partition(day_uri), day_uri
    log.warning(
        "no customer profiles as of %s (neither %s nor %s): training WITHOUT profile features; "
        "run build_training_data for %s",
        last_train_day,
        uri,
        day_uri,
        day,
    )
    return None, None
