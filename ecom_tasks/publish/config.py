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

from ecom_tasks import catalog, stages
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.gate import GateConfig
from ecom_tasks.publish.specs import DEFAULT_ARTIFACTS, FLAVORS, ModelSpec

__all__ = ["DEFAULT_ARTIFACTS", "FLAVORS", "ModelSpec", "PublishConfig"]

# The names publication reads and writes, from the catalog (where every name under the root lives).
MODELS_STAGE = catalog.MODELS
METRICS_FILE = catalog.METRICS_FILE
HISTORY_FILE = catalog.HISTORY_FILE
CHAMPION_METRICS_FILE = catalog.CHAMPION_METRICS_FILE
BLESSING_FILE = catalog.BLESSING_FILE
SMOKE_INPUT_FILE = catalog.SMOKE_INPUT_FILE
CARD_MARKDOWN = catalog.CARD_MARKDOWN
CARD_HTML = catalog.CARD_HTML
OUTPUTS_STAGE = catalog.OUTPUTS
RECOMMENDATIONS = catalog.RECOMMENDATIONS
CHURN_SCORES = catalog.CHURN_SCORES
REPURCHASE_SCORES = catalog.REPURCHASE_SCORES

CHAMPION = "champion"  # the registry alias consumers load: models:/<name>@champion


def _registered_models() -> tuple[ModelSpec, ...]:
    return tuple(stage.publication for stage in stages.registered())


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
    models: tuple[ModelSpec, ...] = field(default_factory=_registered_models)
    experiment: str = "ecom_nightly"
    require_outputs: bool = False
    lock_timeout_s: float = 300.0

    def model(self, name: str) -> ModelSpec:
        """The :class:`ModelSpec` of ``name``; :class:`ConfigError` naming the known ones otherwise."""
        for spec in self.models:
            if spec.name == name:
                return spec
        raise ConfigError(f"model: unknown model {name!r}; known: {[m.name for m in self.models]}")
