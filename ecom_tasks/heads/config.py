"""Configuration and names of the task-head stage (churn risk, repurchase propensity).

Defaults live here in one place: :class:`HeadConfig` (frozen), the feature stage's tables this
stage reads, the model folders it writes and the stable profile features the models use.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc

# --- inputs: {root}/features/<table>/ds=D and the pretrained backbone -----------------------------
FEATURES_STAGE = catalog.FEATURES
EXAMPLES_TABLE = catalog.TRAINING_EXAMPLES
PROFILES_TABLE = catalog.CUSTOMER_PROFILES
INTERACTIONS_TABLE = catalog.TRAINING_INTERACTIONS
MODELS_STAGE = catalog.MODELS
BACKBONE_TABLE = catalog.RETRIEVAL

# --- outputs: {root}/models/<head>/ds=D/ and {root}/reports/heads/ds=D/ ---------------------------
CHURN, REPURCHASE = catalog.CHURN, catalog.REPURCHASE
HEADS: tuple[str, ...] = (CHURN, REPURCHASE)
METRICS_FILE = catalog.METRICS_FILE
CHAMPION_METRICS_FILE = catalog.CHAMPION_METRICS_FILE
HISTORY_FILE = catalog.HISTORY_FILE
SMOKE_INPUT_FILE = catalog.SMOKE_INPUT_FILE
SAVED_MODEL_DIR = catalog.SAVED_MODEL_DIR  # the fine-tuned head, when it is selected
PICKLE_FILE = catalog.PICKLE_FILE  # the best baseline, when it is selected instead
HEAD_SPEC_FILE = catalog.HEAD_SPEC_FILE  # inputs of the exported head (feature names and order)
RELIABILITY_PLOT = catalog.RELIABILITY_PLOT
REPORTS_STAGE = catalog.REPORTS
REPORT_TABLE = catalog.HEADS_REPORT

# --- model names in metrics.json ---------------------------------------------------------------
HEAD_MODEL = "head"  # the fine-tuned head: metrics without a prefix
RFM_LOGREG = "rfm_logreg"
GBDT = "gbdt"
BASELINES: tuple[str, ...] = (RFM_LOGREG, GBDT)

# The profile features that mean the same thing on every day (why the others are left out: the
# feature stage's contract); a model trained at the cutoff and served at ds reads only these.
STABLE_FEATURES: tuple[str, ...] = fc.STABLE_PROFILE_FEATURES
RFM_FEATURES: tuple[str, ...] = (fc.RECENCY_DAYS, fc.FREQUENCY, fc.MONETARY)
CALIBRATIONS = ("platt", "none")


@dataclass(frozen=True)
class HeadConfig:
    """How to split, train, calibrate, select and explain the customer heads.

    Attributes:
        active_days: a customer is active when they bought within this many days (before the
            cutoff for training, before the end of ``ds`` for scoring); ``None``: every buyer.
        min_customers: refuse to train on fewer labelled active customers than this.
        valid_fraction / test_fraction: customer split (seeded); the validation part drives early
            stopping and calibration, the test part every reported metric (head, baselines, champion).
        hidden_units / dropout: the head's MLP over [query vector, standardised profile features].
        wide: add a linear path from the standardised profile features straight to the logit (and
            the log rate) beside the MLP (wide & deep).
        l2: L2 penalty on the head's kernels (MLP, outputs, wide path; not the towers).
        members: MLPs (each ``hidden_units``, own initialisation) whose logits are averaged, each
            trained on its own loss: a seed ensemble, less dependent on one fit's initialisation.
            Defaults chosen on Online Retail II by the mean validation ROC AUC over 5 split seeds
            (bench/RESULTS.md, "A stronger fine-tuned head"): 5 members, the wide path and patience 10
            gave churn 0.7522 / repurchase 0.7235 against 0.7483 / 0.7210 for one MLP without them;
            ``l2`` did not help there (off by default), nor did a projected or dropped-out query
            vector (not kept).
        batch_size: examples per step.
        frozen_epochs / frozen_learning_rate: phase 1, towers frozen (only the MLP learns).
        tuned_epochs / tuned_learning_rate: phase 2, towers unfrozen at a lower rate (0 epochs
            skips it).
        patience: epochs without a better validation loss before a phase stops (best weights kept).
        orders_loss_weight: weight of the Poisson expected-orders loss (repurchase only).
        use_user_id: feed the user id to the pretrained query tower. Off by default: the backbone
            learned its user-id embeddings from interactions up to ``ds``, which include the
            label window after the training cutoff, so they would leak the labels.
        calibration: ``platt`` (sigmoid on the logit, fitted on the validation split) or ``none``;
            baselines are calibrated the same way.
        ece_bins: equal-width bins of the expected calibration error and the reliability plot.
        top_reasons: explanation entries kept per customer.
        gbdt_max_iter / gbdt_learning_rate / gbdt_max_leaf_nodes: the HistGradientBoosting baseline
            (tuned on Online Retail II: 200 iterations of 15 leaves at 0.05 overfit, 0.716 vs 0.736 AUC).
        seed: seeds the split, TensorFlow, NumPy and the baselines.
    """

    active_days: int | None = 90
    min_customers: int = 50
    valid_fraction: float = 0.2
    test_fraction: float = 0.2
    hidden_units: tuple[int, ...] = (32,)
    dropout: float = 0.3
    wide: bool = True
    l2: float = 0.0
    members: int = 5
    batch_size: int = 64
    frozen_epochs: int = 40
    frozen_learning_rate: float = 1e-3
    tuned_epochs: int = 10
    tuned_learning_rate: float = 2e-4
    patience: int = 10
    orders_loss_weight: float = 0.5
    use_user_id: bool = False
    calibration: str = "platt"
    ece_bins: int = 10
    top_reasons: int = 3
    gbdt_max_iter: int = 100
    gbdt_learning_rate: float = 0.03
    gbdt_max_leaf_nodes: int = 8
    seed: int = 42

    def __post_init__(self) -> None:
        for name in (
            "min_customers",
            "batch_size",
            "members",
            "ece_bins",
            "top_reasons",
            "gbdt_max_iter",
            "gbdt_max_leaf_nodes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"HeadConfig.{name}: must be a positive integer, got {value!r}")
        for name in ("frozen_epochs", "tuned_epochs", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"HeadConfig.{name}: must be an integer >= 0, got {value!r}")
        if self.active_days is not None and (not isinstance(self.active_days, int) or self.active_days < 1):
            raise ConfigError(
                f"HeadConfig.active_days: must be a positive integer or None, got {self.active_days!r}"
            )
        for name in ("valid_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.05 <= value <= 0.45:
                raise ConfigError(f"HeadConfig.{name}: must be in [0.05, 0.45], got {value!r}")
        for name in ("frozen_learning_rate", "tuned_learning_rate", "gbdt_learning_rate"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"HeadConfig.{name}: must be positive, got {getattr(self, name)!r}")
        if self.tuned_epochs and self.tuned_learning_rate > self.frozen_learning_rate:
            raise ConfigError(
                f"HeadConfig.tuned_learning_rate: {self.tuned_learning_rate} should not exceed "
                f"frozen_learning_rate {self.frozen_learning_rate} (unfrozen towers learn more slowly)"
            )
        if not self.hidden_units or any(not isinstance(u, int) or u < 1 for u in self.hidden_units):
            raise ConfigError(
                f"HeadConfig.hidden_units: positive layer sizes needed, got {self.hidden_units!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"HeadConfig.dropout: must be in [0, 1), got {self.dropout!r}")
        if not self.l2 >= 0:
            raise ConfigError(f"HeadConfig.l2: must be >= 0, got {self.l2!r}")
        if self.orders_loss_weight < 0:
            raise ConfigError(f"HeadConfig.orders_loss_weight: must be >= 0, got {self.orders_loss_weight!r}")
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(
                f"HeadConfig.calibration: {self.calibration!r} is not one of {list(CALIBRATIONS)}"
            )

    @classmethod
    def from_run(cls, run: Any) -> HeadConfig:
        """The nightly configuration with a run's ``epochs`` (a cap on each phase) and ``seed``."""
        base = cls()
        changes: dict[str, Any] = {"seed": run.seed}
        if run.epochs:
            changes["frozen_epochs"] = min(base.frozen_epochs, run.epochs)
            changes["tuned_epochs"] = min(base.tuned_epochs, run.epochs)
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-able dict (recorded beside the model)."""
        return asdict(self)


DEFAULT_CONFIG = HeadConfig()
