"""Inputs of the customer heads: labelled examples at the cutoff, customers to score at ``ds``.

- Training population: the ``training_examples`` of ``ds`` (profiles as of the cutoff, labels from
  the horizon after it) restricted to customers active before the cutoff.
- Scoring population: the ``customer_profiles`` of ``ds`` restricted to customers active before
  the end of ``ds``, scored with features as of ``ds``.
- A seeded customer split (train / validation / test) shared by the head and both baselines.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ecom_tasks import storage
from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ContractError, NotEnoughDataError
from ecom_tasks.features import columns as fc
from ecom_tasks.heads.config import (
    BACKBONE_TABLE,
    EXAMPLES_TABLE,
    FEATURES_STAGE,
    INTERACTIONS_TABLE,
    MODELS_STAGE,
    PROFILES_TABLE,
    HeadConfig,
)

log = logging.getLogger(__name__)

TRAIN, VALID, TEST = 0, 1, 2
SPLIT_NAMES = ("train", "validation", "test")


class HeadDataError(NotEnoughDataError):
    """Too few labelled customers (or a split without both classes) to train or evaluate a head.

    The data is not wrong, there is not enough of it yet: the head is skipped with this reason.
    """

    retryable = False  # the same data and parameters give the same answer on every try


@dataclass
class HeadInputs:
    """What a head stage reads for ``ds``, with the URIs it came from."""

    examples: pd.DataFrame  # active labelled customers: profile at the cutoff + labels
    cutoff_end: pd.Timestamp  # end of the cutoff day: features and histories use data before it
    profiles: pd.DataFrame  # active customers as of ds (to score)
    ds_end: pd.Timestamp  # end of ds
    interactions: pd.DataFrame
    split: np.ndarray  # TRAIN / VALID / TEST per example
    uris: dict[str, str]
    horizons: dict[str, int]


def active(profiles: pd.DataFrame, active_days: int | None) -> pd.DataFrame:
    """Customers with a purchase, within ``active_days`` of the profile date when given."""
    keep = profiles[fc.HAS_PURCHASE].to_numpy() == 1
    if active_days is not None:
        keep &= profiles[fc.RECENCY_DAYS].to_numpy(np.float64) <= active_days
    return profiles[keep].reset_index(drop=True)


def split_customers(user_ids: pd.Series, config: HeadConfig) -> np.ndarray:
    """A seeded TRAIN / VALID / TEST assignment per customer, independent of row order."""
    order = np.argsort(user_ids.astype(str).to_numpy(), kind="stable")
    rng = np.random.default_rng(config.seed)
    shuffled = order[rng.permutation(len(order))]
    n = len(order)
    n_test = round(n * config.test_fraction)
    n_valid = round(n * config.valid_fraction)
    out = np.full(n, TRAIN, dtype=np.int8)
    out[shuffled[:n_test]] = TEST
    out[shuffled[n_test : n_test + n_valid]] = VALID
    return out


def feature_matrix(frame: pd.DataFrame, names: tuple[str, ...] | list[str], *, where: str) -> np.ndarray:
    """``[n, f]`` float64 of the named profile columns; ContractError naming a missing column."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ContractError(f"{where}: missing profile column(s) {missing}")
    values = frame[list(names)].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isfinite(values), values, 0.0)


def check_labels(y: np.ndarray, split: np.ndarray, task: str, where: str) -> None:
    """Each split must hold both classes of ``task``'s label, or nothing can be learned or scored."""
    for code, name in enumerate(SPLIT_NAMES):
        part = y[split == code]
        positives = int(part.sum())
        if positives == 0 or positives == len(part):
            kind = "no positive" if positives == 0 else "no negative"
            raise HeadDataError(
                f"{where}: the {name} split holds {kind} {task} labels ({positives} of {len(part)} "
                f"customers positive); more history or more customers are needed"
            )


def _read(uri: str, what: str) -> pd.DataFrame:
    if storage.read_manifest(uri) is None:
        raise FileNotFoundError(f"{uri}: no {what} partition (run the feature stage for this ds first)")
    return storage.read_partition(uri)


def backbone_uri(root: str, ds: dt.date) -> str:
    """``{root}/models/retrieval/ds=D``: the pretrained towers of ``ds``."""
    return storage.partition_uri(root, MODELS_STAGE, BACKBONE_TABLE, ds)


def load_inputs(root: str, ds: dt.date, config: HeadConfig) -> HeadInputs:
    """Read and check the feature partitions of ``ds`` (see the module docstring).

    Raises:
        FileNotFoundError: a partition is missing (named).
        HeadDataError: too few active labelled customers, or a split without both classes.
    """
    uris = {
        t: storage.partition_uri(root, FEATURES_STAGE, t, ds)
        for t in (EXAMPLES_TABLE, PROFILES_TABLE, INTERACTIONS_TABLE)
    }
    raw = _read(uris[EXAMPLES_TABLE], "training examples")
    manifest = storage.read_manifest(uris[EXAMPLES_TABLE])
    extra = manifest.extra if manifest else {}
    horizons = {
        "churn_horizon_days": int(extra.get("churn_horizon_days", 90)),
        "repurchase_days": int(extra.get("repurchase_days", 30)),
    }
    profiles = active(_read(uris[PROFILES_TABLE], "customer profiles"), config.active_days)
    interactions = _read(uris[INTERACTIONS_TABLE], "training interactions")
    examples = active(raw, config.active_days)
    if len(examples) < config.min_customers:
        raise HeadDataError(
            f"{uris[EXAMPLES_TABLE]}: {len(examples)} active labelled customers (of {len(raw)} buyers "
            f"at the cutoff, active_days={config.active_days}); min_customers is {config.min_customers}"
        )
    if fc.CUTOFF in examples.columns and len(examples):
        cutoff_end = pd.Timestamp(examples[fc.CUTOFF].iloc[0])
    else:
        cutoff_end = pd.Timestamp(storage.as_date(extra["cutoff"]) + dt.timedelta(days=1), tz="UTC")
    ds_end = pd.Timestamp(ds + dt.timedelta(days=1), tz="UTC")
    split = split_customers(examples[USER_ID], config)
    log.info(
        "head inputs for %s: %d active labelled customers (cutoff %s), %d to score",
        ds,
        len(examples),
        cutoff_end,
        len(profiles),
    )
    return HeadInputs(examples, cutoff_end, profiles, ds_end, interactions, split, uris, horizons)
