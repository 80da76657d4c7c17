"""Configuration of the gate and publication stage, with every default in one place.

Where things are (``{root}`` is the data root):

- a trained candidate: ``{root}/models/<model>/ds=<ds>/`` holding the artifact (a SavedModel
  directory, a pickled model or any directory a loader understands), ``metrics.json`` (the
  candidate's and the baselines' metrics), ``champion_metrics.json`` (the current champion scored
  on the same held-out data in the same run; absent when there is no champion) and optionally
  ``smoke_input.json`` (the serving check's query; derived from the model's signature otherwise);
- the gate's verdict: ``blessing.json`` and the model card beside them;
- MLflow: ``$MLFLOW_TRACKING_URI`` or ``sqlite:///{root}/mlflow/mlflow.db`` with artifacts under
  ``{root}/mlflow/artifacts``;
- batch outputs: ``{root}/outputs/<table>/ds=<ds>/`` and the pointer ``{root}/outputs/current.json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.gate import GateConfig

MODELS_STAGE = "models"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"  # the training stage's record (config, cutoff), logged when present
CHAMPION_METRICS_FILE = "champion_metrics.json"
BLESSING_FILE = "blessing.json"
SMOKE_INPUT_FILE = "smoke_input.json"
CARD_MARKDOWN = "model_card.md"
CARD_HTML = "model_card.html"

OUTPUTS_STAGE = "outputs"
RECOMMENDATIONS = "recommendations"  # top-K items per user, with titles (from the ranking champion)
CHURN_SCORES = "churn_scores"  # churn risk and segment per customer
REPURCHASE_SCORES = "repurchase_scores"  # repurchase propensity, expected orders and segment

CHAMPION = "champion"  # the registry alias consumers load: models:/<name>@champion
FLAVORS = ("auto", "tensorflow", "pickle", "callable")
DEFAULT_ARTIFACTS = ("saved_model", "model", "model.pkl", "model.joblib")


@dataclass(frozen=True)
class ModelSpec:
    """Where one model's candidate lives and how to wrap it for serving.

    Attributes:
        name: the pipeline's name for the model (``retrieval``, ``churn`` ...).
        registered_name: its name in the MLflow Model Registry (default ``ecom_<name>``).
        stage / table: the candidate's folder is ``{root}/{stage}/{table}/ds=<ds>`` (table defaults
            to ``name``).
        artifacts: candidate artifact names inside that folder; the first one present is published.
        flavor: ``tensorflow`` (SavedModel directory), ``pickle`` (a pickled/joblib model, or a
            directory holding ``model.pkl``), ``callable`` (any directory, opened by ``loader``) or
            ``auto`` (detected from the artifact).
        loader: ``"module:function"`` taking the artifact path and returning an object with
            ``predict`` (flavor ``callable`` only).
        signature: the SavedModel signature served (flavor ``tensorflow``).
        output_tables: batch output tables whose "current" pointer follows this model's champion.
        input_stages: stages whose partitions for ``ds`` are the model's inputs (hashed for lineage).
    """

    name: str
    registered_name: str = ""
    stage: str = MODELS_STAGE
    table: str = ""
    artifacts: tuple[str, ...] = DEFAULT_ARTIFACTS
    flavor: str = "auto"
    loader: str | None = None
    signature: str = "serving_default"
    output_tables: tuple[str, ...] = ()
    input_stages: tuple[str, ...] = ("features",)

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"ModelSpec.name: {self.name!r} is not a valid model name")
        if self.flavor not in FLAVORS:
            raise ConfigError(f"ModelSpec({self.name}).flavor: {self.flavor!r} is not one of {list(FLAVORS)}")
        if self.flavor == "callable" and not (self.loader and ":" in self.loader):
            raise ConfigError(f"ModelSpec({self.name}).loader: flavor 'callable' needs 'module:function'")
        if not self.artifacts:
            raise ConfigError(f"ModelSpec({self.name}).artifacts: give at least one artifact name")
        if not self.registered_name:
            object.__setattr__(self, "registered_name", f"ecom_{self.name}")
        if not self.table:
            object.__setattr__(self, "table", self.name)


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("retrieval", artifacts=("saved_model",), flavor="tensorflow"),
    ModelSpec("ranking", output_tables=(RECOMMENDATIONS,)),
    ModelSpec("churn", output_tables=(CHURN_SCORES,)),
    ModelSpec("repurchase", output_tables=(REPURCHASE_SCORES,)),
)


@dataclass(frozen=True)
class PublishConfig:
    """How to gate and publish.

    Attributes:
        gate: the absolute thresholds and comparison rules of every model.
        models: where each model's candidate lives and how it is served.
        experiment: the MLflow experiment runs are logged to.
        require_outputs: refuse to promote when a model's output tables for ``ds`` are missing
            (otherwise the pointer keeps its previous entry for them and the result says so).
        lock_timeout_s: how long a publish waits for another one holding the alias lock.
    """

    gate: GateConfig = field(default_factory=GateConfig)
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    experiment: str = "ecom_nightly"
    require_outputs: bool = False
    lock_timeout_s: float = 300.0

    def model(self, name: str) -> ModelSpec:
        """The :class:`ModelSpec` of ``name``; :class:`ConfigError` naming the known ones otherwise."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise ConfigError(f"model: unknown model {name!r}; known: {[m.name for m in self.models]}")
