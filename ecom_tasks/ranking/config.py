"""Configuration and names of the ranking head (stage ``fine_tune``), defaults in one place.

The ranking head re-ranks the retrieval model's top ``candidates`` items per user. Its
training is point-in-time: the pretrained backbone of ``ds`` never saw the last
``holdout_days`` of interactions (its own held-out window), and this stage splits that window in
two: candidates generated as of the window's start, labelled by the purchases before
``ds + 1 - eval_days`` (training), and candidates generated as of that instant, labelled by the
purchases of the last ``eval_days`` (evaluation, against the retrieval order on the same lists).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc

# --- inputs and outputs (names from the catalog, under the names this stage's modules use) ------
MODELS_STAGE = catalog.MODELS
BACKBONE_TABLE = catalog.RETRIEVAL  # {root}/models/retrieval/ds=D: the pretrained two towers
MODEL_TABLE = catalog.RANKING  # {root}/models/ranking/ds=D: this stage's output folder
SAVED_MODEL_DIR = catalog.SAVED_MODEL_DIR  # the re-ranker (or the identity re-ranker), a SavedModel
METRICS_FILE = catalog.METRICS_FILE
CHAMPION_METRICS_FILE = catalog.CHAMPION_METRICS_FILE
HISTORY_FILE = catalog.HISTORY_FILE
RANKER_FILE = catalog.RANKER_FILE  # what the artifact expects: profile feature names, selection

# --- the exported SavedModel's signature (serving_default) ---------------------------------------
SERVING_USER_ID = "user_id"  # [b] strings
SERVING_HISTORY = "history"  # [b, n] item ids, oldest first, "" padding
SERVING_FEATURES = "user_features"  # [b, f] float32 (ranker.json's user_feature_names), NaN unknown
SERVING_ITEM_IDS = "item_ids"  # [b, c] the candidates, "" padding
SERVING_RETRIEVAL_RANK = "retrieval_rank"  # [b, c] int32, 1 = the retrieval model's best
OUT_SCORES = "scores"  # [b, c] float32 purchase probabilities (identity: 1 / retrieval_rank)

# --- selection recorded in metrics.json ----------------------------------------------------------
SELECTED = "selected"
SELECTED_HEAD = "ranking_head"
SELECTED_RETRIEVAL = "retrieval_order"
METRIC_K = 10


@dataclass(frozen=True)
class FreezeSchedule:
    """Towers frozen first (only the head learns), then unfrozen at a lower learning rate.

    Attributes:
        frozen_epochs / frozen_learning_rate: epochs with the towers frozen, and Adam's rate then.
        unfrozen_epochs / unfrozen_learning_rate: epochs fine-tuning everything (rate < frozen).
    """

    frozen_epochs: int = 10
    frozen_learning_rate: float = 3e-3
    unfrozen_epochs: int = 3
    unfrozen_learning_rate: float = 3e-4

    def __post_init__(self) -> None:
        for name in ("frozen_epochs", "unfrozen_epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"FreezeSchedule.{name}: must be an integer >= 0, got {value!r}")
        for name in ("frozen_learning_rate", "unfrozen_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"FreezeSchedule.{name}: must be positive, got {getattr(self, name)!r}")
        if self.frozen_epochs + self.unfrozen_epochs < 1:
            raise ConfigError("FreezeSchedule: needs at least one epoch (frozen_epochs + unfrozen_epochs)")

    @property
    def phases(self) -> list[tuple[bool, int, float]]:
        """``(towers_trainable, epochs, learning_rate)`` of each phase, in order."""
        out = [(False, self.frozen_epochs, self.frozen_learning_rate)]
        out.append((True, self.unfrozen_epochs, self.unfrozen_learning_rate))
        return [p for p in out if p[1] > 0]


@dataclass(frozen=True)
class RankingConfig:
    """How to build, train, select and apply the ranking head.

    Attributes:
        candidates: items the retrieval model proposes per user (the lists being re-ranked).
        top_k: items per user in the ``recommendations`` output table.
        eval_days: the last days of the backbone's held-out window used for evaluation; the
            days before them (and after the backbone's training data) label the training lists.
        exclude_purchased: leave items a user already bought out of the output lists (off by
            default: repeat purchases are common in retail).
        max_seen_negatives: per user, at most this many items viewed or carted in the label
            window but not bought are added to the training lists (where the source has views).
        hidden_units / dropout: the head's MLP.
        profile_features: profile columns fed to the MLP directly (those the backbone has).
        batch_users: users (lists) per training step.
        validation_fraction: share of training users held out to pick the best epoch.
        min_improvement: the head is selected only when its NDCG@10 beats the retrieval order's
            by more than this (absolute); otherwise the retrieval order is published.
        schedule: the freeze/unfreeze schedule.
        seed: seeds TensorFlow, NumPy and the data order.
    """

    candidates: int = 100
    top_k: int = 20
    eval_days: int = 3
    exclude_purchased: bool = False
    max_seen_negatives: int = 50
    hidden_units: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    profile_features: tuple[str, ...] = (fc.RECENCY_DAYS, fc.FREQUENCY, fc.MONETARY, fc.TENURE_DAYS)
    batch_users: int = 64
    validation_fraction: float = 0.2
    min_improvement: float = 0.0
    schedule: FreezeSchedule = field(default_factory=FreezeSchedule)
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("candidates", "top_k", "eval_days", "batch_users"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"RankingConfig.{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.max_seen_negatives, int) or self.max_seen_negatives < 0:
            raise ConfigError(
                f"RankingConfig.max_seen_negatives: must be an integer >= 0, got {self.max_seen_negatives!r}"
            )
        if not self.hidden_units or any(not isinstance(u, int) or u < 1 for u in self.hidden_units):
            raise ConfigError(f"RankingConfig.hidden_units: positive integers, got {self.hidden_units!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"RankingConfig.dropout: must be in [0, 1), got {self.dropout!r}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(
                f"RankingConfig.validation_fraction: must be in [0, 1), got {self.validation_fraction!r}"
            )
        if self.top_k > self.candidates:
            raise ConfigError(
                f"RankingConfig.top_k: {self.top_k} is more than the {self.candidates} candidates re-ranked"
            )
        if not isinstance(self.schedule, FreezeSchedule):
            raise ConfigError(f"RankingConfig.schedule: expected a FreezeSchedule, got {self.schedule!r}")

    @classmethod
    def from_run(cls, run: Any) -> RankingConfig:
        """The nightly configuration with a run's ``epochs`` (a cap on each phase) and ``seed``."""
        base = cls()
        schedule = base.schedule
        if run.epochs:
            schedule = replace(
                schedule,
                frozen_epochs=min(schedule.frozen_epochs, run.epochs),
                unfrozen_epochs=min(schedule.unfrozen_epochs, run.epochs),
            )
        return replace(base, schedule=schedule, seed=run.seed)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-able dict (recorded beside the model)."""
        return asdict(self)
