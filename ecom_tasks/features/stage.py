"""Task functions of the feature stage (the DAG calls these; each returns a small dict).

``build_features`` works as of the end of ``ds`` from validated data up to ``ds`` only; it
updates the running state from the state of ``ds - 1`` and the day's partition, or rebuilds it
from the earliest validated partition when that state is missing or stale. A backfill of an old
date therefore computes as of that date. ``build_training_data`` builds point-in-time training
data with features as of a cutoff and labels from the horizon after it, and the customer
profiles as of the retrieval model's last training day (``training_profiles``), which exist for
every ``ds`` it ran for, a first run or a backfill included.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pandas as pd

from ecom_tasks import catalog, contract, storage
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import analytics, items, profiles, report, store, training
from ecom_tasks.features import columns as fc
from ecom_tasks.features.aggregate import summarise
from ecom_tasks.features.config import DEFAULT_FEATURES, DEFAULT_TRAINING, FeatureConfig, TrainingDataConfig
from ecom_tasks.features.state import FeatureState, empty_state, merge

log = logging.getLogger(__name__)

# The tables this stage writes under features/, by the names many callers and tests use.
PROFILES = catalog.CUSTOMER_PROFILES
ITEM_FEATURES = catalog.ITEM_FEATURES
INTERACTIONS = catalog.TRAINING_INTERACTIONS
TRAINING_PROFILES = catalog.TRAINING_PROFILES  # customer_profiles as of ds - retrieval_holdout_days
EXAMPLES = catalog.TRAINING_EXAMPLES
NEXT_ITEMS = catalog.TRAINING_NEXT_ITEMS
PURCHASE_COLUMNS = [
    contract.TS,
    contract.USER_ID,
    contract.ITEM_ID,
    contract.ORDER_ID,
    contract.QUANTITY,
    contract.UNIT_PRICE,
]


def state_as_of(
    root: str, ds: dt.date, config: FeatureConfig, *, reuse_stored: bool = False
) -> tuple[FeatureState, str, int, dict[str, object]]:
    """The running state as of the end of ``ds``: ``(state, how, partitions read, record)``.

    ``how`` is ``stored`` (with ``reuse_stored``: the state of ``ds`` itself, still matching its
    inputs), ``incremental`` (the state of ``ds - 1`` + the day's partition) or ``rebuilt`` (every
    validated events partition up to ``ds``; an empty state when there is none yet). ``record``
    is what to store with the state (see ``store.state_records``).
    """
    prev_day = ds - dt.timedelta(days=1)
    records = store.state_records(root, [prev_day, ds], config)
    if reuse_stored:
        stored = store.load_state(root, ds, records[ds])
        if stored is not None:
            return stored, "stored", 0, records[ds]
    prev = store.load_state(root, prev_day, records[prev_day])
    day_uri = storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, ds)
    if prev is not None and storage.read_manifest(day_uri) is not None:
        day = store.read_validated(root, contract.EVENTS, ds)
        return merge(prev, summarise(day, ds, config), config), "incremental", 1, records[ds]
    days = store.event_days(root, None, ds)
    if not days:
        return empty_state(ds), "rebuilt", 0, records[ds]
    log.info(
        "rebuilding feature state as of %s from %d partitions (%s .. %s)", ds, len(days), days[0], days[-1]
    )
    return summarise(store.read_events(root, days), ds, config), "rebuilt", len(days), records[ds]


def build_features(root: str, ds: str, config: FeatureConfig = DEFAULT_FEATURES) -> dict:
    """Customer profiles, item features, analytics tables, the report and the running state as of
    the end of ``ds``.

    Returns:
        Counts, how the state was obtained and the output URIs.
    """
    root = storage.data_root(root)
    day = storage.as_date(ds)
    started = time.perf_counter()
    if not storage.read_manifest(storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, day)):
        raise FileNotFoundError(
            f"{storage.partition_uri(root, catalog.VALIDATED, contract.EVENTS, day)}: no validated events "
            f"for ds={day} (run validation for that day first)"
        )
    users = store.read_snapshot(root, contract.USERS, day)
    catalogue = store.read_snapshot(root, contract.ITEMS, day)
    state, how, n_read, record = state_as_of(root, day, config)
    state_uris = store.save_state(root, state, record)
    prof, categories = profiles.customer_profiles(state, users, catalogue, config)
    feats = items.item_features(state, catalogue, config)
    tables = analytics.build_analytics(state, catalogue, config)
    uris = {
        PROFILES: store.write_table(root, PROFILES, day, prof, {"affinity_categories": categories}),
        ITEM_FEATURES: store.write_table(root, ITEM_FEATURES, day, feats),
    }
    for name, frame in tables.items():
        uris[name] = store.write_table(root, name, day, frame, {"window_days": config.basket_days})
    if config.write_report:
        uris["report"] = report.write_report(root, day, prof, feats, tables, config)
    result = {
        "ds": day.isoformat(),
        "state": how,
        "partitions_read": n_read,
        "customers": len(prof),
        "buyers": int(prof[fc.HAS_PURCHASE].sum()) if len(prof) else 0,
        "items": len(feats),
        "seconds": round(time.perf_counter() - started, 3),
        "uris": uris,
        "state_uris": state_uris,
    }
    log.info("features as of %s: %s", day, {k: v for k, v in result.items() if "uris" not in k})
    return result


def training_cutoff(ds: dt.date, config: TrainingDataConfig) -> dt.date:
    """The cutoff: ``config.cutoff`` or ``ds`` minus the longest horizon (labels observed by ``ds``)."""
    latest = ds - dt.timedelta(days=config.horizon_days)
    if config.cutoff is None:
        return latest
    cutoff = storage.as_date(config.cutoff)
    if cutoff > latest:
        raise ConfigError(
            f"cutoff: {cutoff} leaves labels unobserved: a {config.horizon_days}-day horizon needs data "
            f"up to {cutoff + dt.timedelta(days=config.horizon_days)}, but ds is {ds}"
        )
    return cutoff


def profiles_as_of(root: str, day: dt.date, config: FeatureConfig) -> tuple[pd.DataFrame, list[str], str]:
    """Customer profiles as of the end of ``day``, from validated data up to ``day`` only.

    Returns ``(profiles, affinity categories, how the state was obtained)``: the stored state of
    ``day`` when it still matches its inputs, else built as ``state_as_of`` does; user and item
    snapshots are the last ones up to ``day``.
    """
    state, how, _, _ = state_as_of(root, day, config, reuse_stored=True)
    if store.event_days(root, None, day):
        users = store.read_snapshot(root, contract.USERS, day, latest_before=True)
        catalogue = store.read_snapshot(root, contract.ITEMS, day, latest_before=True)
    else:
        users, catalogue = contract.empty_frame(contract.USERS), contract.empty_frame(contract.ITEMS)
    prof, categories = profiles.customer_profiles(state, users, catalogue, config)
    return prof, categories, how


def build_training_data(root: str, ds: str, config: TrainingDataConfig = DEFAULT_TRAINING) -> dict:
    """Retrieval interactions and profiles, and labelled examples for the task heads, for ``ds``.

    Features of an example are the customer's profile as of the end of the cutoff day (data
    before the cutoff only); labels come from the purchases in the horizon after it. The
    retrieval model's profile features (``training_profiles``) are as of the end of its last
    training day, ``ds - retrieval_holdout_days``, computed here so that they exist whether or
    not ``build_features`` ever ran for that day.
    """
    root = storage.data_root(root)
    day = storage.as_date(ds)
    cutoff = training_cutoff(day, config)
    fcfg = config.features
    prof, categories, how = profiles_as_of(root, cutoff, fcfg)
    profile_day = day - dt.timedelta(days=config.retrieval_holdout_days)
    if profile_day == cutoff:
        retrieval_prof, retrieval_cats, retrieval_how = prof, categories, how
    else:
        retrieval_prof, retrieval_cats, retrieval_how = profiles_as_of(root, profile_day, fcfg)
    horizon = store.event_days(
        root, cutoff + dt.timedelta(days=1), cutoff + dt.timedelta(days=config.horizon_days)
    )
    future = store.read_events(root, horizon, PURCHASE_COLUMNS, [contract.PURCHASE])
    examples = training.label_examples(prof, future, cutoff, config)
    next_items = training.next_items(future, prof, cutoff, config)
    first = None if config.interaction_days is None else day - dt.timedelta(days=config.interaction_days - 1)
    columns = [contract.TS, contract.USER_ID, contract.ITEM_ID, contract.EVENT_TYPE]
    inter = training.interactions(
        store.read_events(root, store.event_days(root, first, day), columns), config
    )
    extra = {"cutoff": cutoff.isoformat(), "affinity_categories": categories, "state": how}
    extra |= {"churn_horizon_days": config.churn_horizon_days, "repurchase_days": config.repurchase_days}
    uris = {
        EXAMPLES: store.write_table(root, EXAMPLES, day, examples, extra),
        NEXT_ITEMS: store.write_table(root, NEXT_ITEMS, day, next_items, extra),
        INTERACTIONS: store.write_table(
            root, INTERACTIONS, day, inter, {"interaction_days": config.interaction_days}
        ),
        TRAINING_PROFILES: store.write_table(
            root,
            TRAINING_PROFILES,
            day,
            retrieval_prof,
            {"as_of": profile_day.isoformat(), "affinity_categories": retrieval_cats, "state": retrieval_how},
        ),
    }
    result = {
        "ds": day.isoformat(),
        "cutoff": cutoff.isoformat(),
        "state": how,
        "examples": len(examples),
        "churn_rate": round(float(examples[fc.LABEL_CHURN].mean()), 4) if len(examples) else 0.0,
        "repurchase_rate": round(float(examples[fc.LABEL_REPURCHASE].mean()), 4) if len(examples) else 0.0,
        "next_items": len(next_items),
        "interactions": len(inter),
        "profiles_as_of": profile_day.isoformat(),
        "profiles": len(retrieval_prof),
        "uris": uris,
    }
    log.info("training data for %s: %s", day, {k: v for k, v in result.items() if k != "uris"})
    return result
