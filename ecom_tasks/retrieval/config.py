"""Configuration and names of the two-tower retrieval pretraining stage.

Defaults live here in one place: :class:`RetrievalConfig` (frozen), the feature tables this stage
reads, the artifacts it writes and the input/output names of the exported SavedModel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.features import columns as fc
from ecom_tasks.features import stage as feature_stage

# --- inputs: the feature stage's partitions {root}/features/<table>/ds=D --------------------------
FEATURES_STAGE = catalog.FEATURES
INTERACTIONS_TABLE = catalog.TRAINING_INTERACTIONS  # user_id, item_id, ts, event_type, weight
ITEM_FEATURES_TABLE = catalog.ITEM_FEATURES  # item_id, category, title, title_tokens, ...
USER_FEATURES_TABLE = catalog.CUSTOMER_PROFILES  # user_id + profile columns (fc.STABLE_PROFILE_FEATURES used)
# The profiles as of the last training day, written for each ds by build_training_data.
TRAINING_PROFILES_TABLE = catalog.TRAINING_PROFILES
WEIGHT = fc.WEIGHT  # an interaction's weight (by event type), used as the loss's sample weight
ITEM_TEXT = fc.TITLE_TOKENS  # normalised title tokens; the raw title is used where it is absent

# --- outputs: {root}/models/retrieval/ds=D/ ----------------------------------------------------------
MODELS_STAGE = catalog.MODELS
MODEL_TABLE = catalog.RETRIEVAL
SAVED_MODEL_DIR = catalog.SAVED_MODEL_DIR
WEIGHTS_FILE = catalog.WEIGHTS_FILE
VOCABULARIES_FILE = catalog.VOCABULARIES_FILE
METRICS_FILE = catalog.METRICS_FILE
HISTORY_FILE = catalog.HISTORY_FILE
# Non-trainable state the towers need to be rebuilt (catalogue tables, feature scaling, target
# frequencies for logQ): with weights.npz and vocabularies.json it restores the model exactly.
TOWER_STATE_FILE = catalog.TOWER_STATE_FILE
CHAMPION_METRICS_FILE = catalog.CHAMPION_METRICS_FILE

# --- the exported SavedModel's signature --------------------------------------------------------
SERVING_USER_ID = "user_id"
SERVING_HISTORY = "history"  # [batch, n] item ids, oldest first, "" padding at the end
SERVING_FEATURES = "user_features"  # [batch, n_features] float32, NaN where unknown
SERVING_EXCLUDE = "exclude"  # [batch, m] item ids never to return, "" padding
SERVING_K = "k"
OUT_ITEM_IDS = "item_ids"
OUT_SCORES = "scores"
SIGNATURE_EXCLUDING = "recommend_excluding"

# Reserved vocabulary rows: 0 is padding (the empty string), 1 out-of-vocabulary; the item
# vocabulary's first real entry is the begin-of-sequence token that starts every history.
PAD, OOV = "", "[UNK]"
BOS = "[BOS]"
NUM_RESERVED = 2

METRIC_KS: tuple[int, ...] = (10, 20, 50)
# The repeat bonuses tried on validation after training (``RetrievalConfig.learn_repeat_bonus``).
REPEAT_BONUS_GRID: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 2.0)
# With each of them, the weights of log(1 + times the customer had the item) tried.
REPEAT_COUNT_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
NEGATIVES = ("auto", "full", "sampled")
# ``negatives="auto"``: the full softmax up to this many items. A sampled batch scores its
# positions against tokens_per_batch + num_sampled candidates (1024 + 512 by default), so up to
# there the exact loss costs no more than the sampled one.
FULL_SOFTMAX_MAX_ITEMS = 1536
TARGETS = ("next_item", "next_day")


@dataclass(frozen=True)
class RetrievalConfig:
    """How to train, evaluate and export the retrieval model.

    Attributes:
        embedding_dim: size of every embedding and of the towers' outputs.
        max_history: items of history the query tower reads (its window, counting the BOS token).
        num_blocks / num_heads: causal self-attention blocks over the history.
        dropout: dropout in the query tower. On Amazon Beauty 0.5 plateaus ~10% above 0.2 but needs
            ~40 epochs to get there (the bench uses it); on `make demo`'s shop 0.5 was no better
            (Recall@20 0.4653 vs 0.4660), so the nightly keeps 0.2 (bench/RESULTS.md, 2026-12-07).
        use_user_id: add a user-id embedding (with an out-of-vocabulary row) to the query.
        title_length / title_max_tokens: title tokens kept per item / size of the token vocabulary.
        negatives: ``sampled`` (in-batch plus ``num_sampled`` uniformly drawn items, with logQ
            correction when ``logq_correction``), ``full`` softmax over every item (on Amazon
            Beauty's 12k items ~4x slower per example than sampled on this 2-core machine), or
            ``auto`` (the default): full up to ``FULL_SOFTMAX_MAX_ITEMS`` items, sampled above. On
            the built-in shops (226 / 466 items) auto trained on 32-37% less CPU than sampled at
            the same Recall@20 (0.502 vs 0.506, 0.424 vs 0.427: within the noise of 676 / 865
            users) and NDCG@10 (0.350 vs 0.349, 0.321 vs 0.314); Online Retail II (4k items)
            stays sampled (bench/RESULTS.md, 2026-12-07).
        target: what each history position learns to predict: ``next_item``, or ``next_day``
            (an item of the user's next day with interactions; validation holds out each user's
            last day). ``next_day`` suits baskets and windows of several days (retail invoices:
            the next line of an invoice says little about the next order, which repeats items).
            ``next_day`` is the default: the nightly evaluates on the distinct items of the
            held-out days, and on `make demo`'s shop it lifted test Recall@20 from 0.424 to
            0.448 (Online Retail II's bench already used it); sequence benchmarks (Amazon Beauty)
            set ``next_item``.
        validation_days: with ``next_day``, validation holds out each customer's last this many
            days of activity (their distinct items the targets): the horizon of the nightly's
            held-out week. On `make demo`'s shop 7 instead of 1 lifted test Recall@20 from 0.4660
            to 0.4721 (item-kNN 0.4676) and Online Retail II's from 0.1944 to 0.1966 (1.16x
            item-kNN; bench/RESULTS.md, 2026-12-07).
        every_prefix: one training window per predicted position (its newest ``max_history``
            positions, the loss at its last only) instead of each sequence cut once into windows
            whose every position is a target: each target is read with its full context and its
            own dropout, for more of the query tower's work: on Amazon Beauty ~3-4x slower per
            example with sampled negatives, ~1.5x with full, and no better on validation with
            full softmax (bench/RESULTS.md, 2026-12-07), hence off.
        temperature: softmax temperature over cosine scores (embeddings are L2-normalised).
        remove_accidental_hits: mask negatives that are the row's own positive (sampled mode).
        tokens_per_batch: predicted positions per batch (batch size = this / window length); on
            this 2-core machine 1024 positions with 1024 negatives ran ~3x faster per example
            than 2048 with 2048 (the score matrix stays in cache).
        learning_rate / max_epochs / patience: Adam; early stopping on validation recall after
            ``patience`` + 1 epochs without a gain (Online Retail II: 1 instead of 2 stopped one
            epoch sooner at the same best epoch).
        learning_rate_decay: lower the learning rate along a cosine from ``learning_rate`` to 5%
            of it over ``max_epochs`` (steps counted from the training windows) instead of keeping
            it constant.
        warm_patience: the patience of a warm-started night (from the champion's weights, whose
            validation recall is epoch 0's): on Online Retail II one more day of data left the
            champion best (epoch 0) and the default patience trained 3 epochs for nothing.
        val_k / val_users: early-stopping metric ``recall_at_{val_k}`` over a sample of users.
        val_repeat_bonus: early stopping measures the ranking as served (``repeat_bonus``
            included), ties broken by the towers' own ranking; False: the towers' own only. On
            Online Retail II (bench, 90 test days) the served ranking's validation recall peaked at
            epoch 3-4 and so did the test Recall@20 (0.19; 0.181 after 12 epochs) while the
            towers' own kept rising to epoch 12: stopping on it trained 3x longer for a worse
            model (so did the mean of both). The tie-break matters where the bonus fills the top
            k with items never bought again (a shop without repeats): the served recall is flat
            there and would otherwise keep the untrained model; such a shop wants
            ``repeat_bonus=0``.
        holdout_days: the last days of interactions held out to evaluate the nightly model
            (default: ``TrainingDataConfig.retrieval_holdout_days``, the day the features stage
            writes the profiles for, see ``inputs.read_profiles``).
        eval_exclude_history: drop items a user already has from the evaluated rankings.
        repeat_bonus: added to the (cosine) score of every item in the user's history input (its
            last ``max_history`` items) wherever the model ranks items for a user: evaluation
            (``metrics.json``, the gate), champion scoring, ``Backbone.top_k`` and the exported
            SavedModel (exclusions still win). Repeat purchases dominate retail data: on Online Retail II (12
            epochs) the model's Recall@20 was 0.1075 without it, 0.136 / 0.165 / 0.180 / 0.181 /
            0.181 with 0.1 / 0.25 / 0.5 / 1 / 2 (item-kNN 0.170, popularity 0.056). Cosines lie in
            [-1, 1], so 2 (the default, the best measured) ranks a user's earlier items first,
            ordered by the model, then the rest; 0 turns it off (sequence data without repeats).
            Early stopping measures with it too, see ``val_repeat_bonus``.
        repeat_per_count: added, times ``log(1 + n)``, to the score of an item the customer had
            ``n`` times in their last ``repeat_window`` items: how often they bought it says how
            likely they are to buy it again. Fitted on validation with ``repeat_bonus`` when
            ``learn_repeat_bonus`` (on `make demo`'s shop it chose 0.05 with bonus 0).
        repeat_window: the history items the repeat lift counts (the query tower reads the last
            ``max_history`` of them): older purchases still say what a customer buys again. On
            `make demo`'s shop (122 items of history per evaluated customer) the lift over 500
            items with a per-count weight took test Recall@20 from 0.448 (bonus only, last 50
            items) to 0.466 (bench/RESULTS.md, 2026-12-07).
        repeat_features: learn the repeat signal with the towers: in the loss, each query's logit
            of an item it has read gets ``w_read + w_count * log(1 + times read)``, two weights
            trained with the rest (``RetrievalModel.repeat_lift``); evaluation, the champion's
            scoring, ``Backbone`` and the exported model add the same lift (in score units) on
            top of ``repeat_bonus``. On a shop whose customers buy again it learns how much their
            own items are worth and how that grows with how often they had them; on one without
            repeats it learns a negative lift. False: only the post-hoc ``repeat_bonus``.
        learn_repeat_bonus: after training, set ``repeat_bonus`` to the value of
            ``REPEAT_BONUS_GRID`` (or the configured one, which wins ties) with the best validation
            recall: how much a shop's customers buy again, fitted per shop and night. On the built-in
            shop test Recall@20 went from 0.4361 (bonus 2) to 0.4367 (item-kNN 0.4761; the best
            bonus on the test users, 0.1, would give 0.4512); on Online Retail II 0.5 and 2 tie and
            2 stays; without repeats (the tests' walks) it picks one below 0.5. A run's ``repeat_bonus``
            turns it off.
        collapse_repeats: merge consecutive interactions with the same item (view, cart, buy).
        max_embedding_bytes: refuse to train when the embedding tables (with Adam's two slots)
            would need more memory than this.
        export_k: default number of items the SavedModel returns.
        seed: seeds TensorFlow, NumPy and the data order.
    """

    embedding_dim: int = 64
    max_history: int = 50
    num_blocks: int = 2
    num_heads: int = 1
    dropout: float = 0.2
    use_user_id: bool = True
    title_length: int = 16
    title_max_tokens: int = 20_000
    negatives: str = "auto"
    num_sampled: int = 512
    logq_correction: bool = True
    target: str = "next_day"
    validation_days: int = 7
    every_prefix: bool = False
    temperature: float = 0.05
    remove_accidental_hits: bool = True
    tokens_per_batch: int = 1024
    learning_rate: float = 2e-3
    learning_rate_decay: bool = False
    max_epochs: int = 20
    patience: int = 1
    warm_patience: int = 0
    val_k: int = 10
    val_users: int = 10_000
    val_repeat_bonus: bool = True
    holdout_days: int = feature_stage.DEFAULT_TRAINING.retrieval_holdout_days
    eval_exclude_history: bool = False
    repeat_bonus: float = 2.0
    repeat_per_count: float = 0.0
    repeat_window: int = 500
    repeat_features: bool = False
    learn_repeat_bonus: bool = True
    collapse_repeats: bool = True
    max_embedding_bytes: int = 4 * 2**30
    export_k: int = 100
    seed: int = 42

    def __post_init__(self) -> None:
        positive = (
            "embedding_dim",
            "num_blocks",
            "num_heads",
            "title_length",
            "title_max_tokens",
            "num_sampled",
            "tokens_per_batch",
            "max_epochs",
            "val_k",
            "val_users",
            "holdout_days",
            "max_embedding_bytes",
            "export_k",
            "repeat_window",
            "validation_days",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"RetrievalConfig.{name}: must be a positive integer, got {value!r}")
        if not isinstance(self.max_history, int) or self.max_history < 2:
            raise ConfigError(
                f"RetrievalConfig.max_history: must be an integer >= 2, got {self.max_history!r}"
            )
        if self.embedding_dim % self.num_heads:
            raise ConfigError(
                f"RetrievalConfig.num_heads: {self.num_heads} does not divide "
                f"embedding_dim {self.embedding_dim}"
            )
        if self.negatives not in NEGATIVES:
            raise ConfigError(
                f"RetrievalConfig.negatives: {self.negatives!r} is not one of {list(NEGATIVES)}"
            )
        if self.target not in TARGETS:
            raise ConfigError(f"RetrievalConfig.target: {self.target!r} is not one of {list(TARGETS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"RetrievalConfig.dropout: must be in [0, 1), got {self.dropout!r}")
        if not self.temperature > 0:
            raise ConfigError(f"RetrievalConfig.temperature: must be positive, got {self.temperature!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"RetrievalConfig.learning_rate: must be positive, got {self.learning_rate!r}")
        for name in ("repeat_bonus", "repeat_per_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
                raise ConfigError(f"RetrievalConfig.{name}: must be a finite number >= 0, got {value!r}")
        for name in ("patience", "warm_patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"RetrievalConfig.{name}: must be a non-negative integer, got {value!r}")

    @classmethod
    def from_run(cls, run: Any) -> RetrievalConfig:
        """The nightly configuration with a run's ``epochs``, ``embedding_size``, ``repeat_bonus``, ``seed``.

        Raises:
            ConfigError: naming ``embedding_size`` when it is not a multiple of the attention heads.
        """
        base = cls()
        changes: dict[str, Any] = {"seed": run.seed}
        if run.epochs:
            changes["max_epochs"] = run.epochs
        if getattr(run, "repeat_bonus", None) is not None:  # the shop's repeat behaviour, as given
            changes["repeat_bonus"] = float(run.repeat_bonus)
            changes["learn_repeat_bonus"] = False
        if run.embedding_size:
            if run.embedding_size % base.num_heads:
                raise ConfigError(
                    f"embedding_size: {run.embedding_size} is not a multiple of the retrieval model's "
                    f"{base.num_heads} attention heads"
                )
            changes["embedding_dim"] = run.embedding_size
        return replace(base, **changes)

    def uses_full_softmax(self, num_items: int) -> bool:
        """Whether training over ``num_items`` items uses the full softmax (see ``negatives``)."""
        return self.negatives == "full" or (self.negatives == "auto" and num_items <= FULL_SOFTMAX_MAX_ITEMS)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-able dict (recorded beside the model)."""
        return asdict(self)
