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


def profile_sources(root: str, day: dt.date | None = None) -> dict[dt.date, str]:
    """Every stored customer-profile partition, by the day whose end it describes.

    The feature stage's ``customer_profiles`` partitions, and the ``training_profiles`` of
    ``day`` at its manifest's ``as_of`` (written by ``build_training_data`` for every ``ds``, a
    first run or a backfill included); a ``customer_profiles`` partition wins a tie.
    """
    sources = {
        storage.as_date(d): storage.partition_uri(root, FEATURES_STAGE, USER_FEATURES_TABLE, d)
        for d in storage.list_partitions(root, FEATURES_STAGE, USER_FEATURES_TABLE)
    }
    if day is not None:
        uri = storage.partition_uri(root, FEATURES_STAGE, TRAINING_PROFILES_TABLE, day)
        manifest = storage.read_manifest(uri)
        as_of = manifest.extra.get("as_of") if manifest is not None else None
        if as_of:
            sources.setdefault(storage.as_date(as_of), uri)
    return sources


def read_profiles(root: str, day: dt.date, last_train_day: dt.date) -> tuple[pd.DataFrame | None, str | None]:
    """The customer profiles as of the end of ``last_train_day``, and the partition they come from.

    One of :func:`profile_sources` of ``day``: that day's ``customer_profiles`` partition, or
    ``training_profiles`` when it is as of that day (it is unless ``holdout_days`` differs from
    ``TrainingDataConfig.retrieval_holdout_days``). Never another day's profiles: a later day's
    would see the evaluation window. ``(None, None)`` when there is none: the model trains
    without profile features (logged).
    """
    uri = profile_sources(root, day).get(last_train_day)
    if uri is not None:
        log.info("profile features as of %s: %s", last_train_day, uri)
        return storage.read_partition(uri), uri
    log.warning(
        "no customer profiles as of %s (no %s partition of that day, no %s of %s as of it): training "
        "WITHOUT profile features; run build_training_data for %s with "
        "TrainingDataConfig.retrieval_holdout_days equal to RetrievalConfig.holdout_days",
        last_train_day,
        USER_FEATURES_TABLE,
        TRAINING_PROFILES_TABLE,
        day,
        day,
    )
    return None, None
