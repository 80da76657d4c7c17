"""The declarations a model stage is made of: where its candidate lives and how it is gated.

Plain frozen dataclasses with no behaviour beyond checking themselves, so the stage registry
(:mod:`ecom_tasks.stages`), the gate (:mod:`ecom_tasks.publish.gate`) and publication
(:mod:`ecom_tasks.publish.config`) all import them without importing each other. Light: the DAG
files import them at parse time through the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError

# Metric directions: a gate compares every metric the way its model declares, never by its name.
HIGHER, LOWER = "higher", "lower"
DIRECTIONS = (HIGHER, LOWER)

FLAVORS = ("auto", "tensorflow", "pickle", "callable")
DEFAULT_ARTIFACTS = (catalog.SAVED_MODEL_DIR, "model", catalog.PICKLE_FILE, "model.joblib")


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
    stage: str = catalog.MODELS
    table: str = ""
    artifacts: tuple[str, ...] = DEFAULT_ARTIFACTS
    flavor: str = "auto"
    loader: str | None = None
    signature: str = "serving_default"
    output_tables: tuple[str, ...] = ()
    input_stages: tuple[str, ...] = (catalog.FEATURES,)

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


@dataclass(frozen=True)
class Threshold:
    """An absolute bound on one metric: ``minimum <= value <= maximum`` (either may be None)."""

    metric: str
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class ModelGate:
    """The gate of one model.

    Attributes:
        model: the model's name (``retrieval``, ``ranking``, ``churn``, ``repurchase`` ...).
        thresholds: absolute bounds.
        compare: metrics compared with the champion and with the baselines.
        baselines: metric-name prefixes of the baselines in ``metrics.json`` (``popularity_`` ...);
            empty: no ``beats_baselines`` check (a gate file can turn it off for tiny test sets).
        regression_tolerance: relative slack against the champion (0.02: may be 2% worse).
        baseline_margin: relative margin the candidate must beat the best baseline by (0: a tie passes).
        metrics: every metric the gate may name, with its direction (``higher`` or ``lower`` is
            better); a threshold or comparison on a metric not listed here is refused.
    """

    model: str
    thresholds: tuple[Threshold, ...] = ()
    compare: tuple[str, ...] = ()
    baselines: tuple[str, ...] = ()
    regression_tolerance: float = 0.02
    baseline_margin: float = 0.0
    metrics: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("regression_tolerance", "baseline_margin"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value < 1:
                raise ConfigError(f"ModelGate({self.model}).{name}: must be in [0, 1), got {value!r}")
        for metric, direction in self.metrics.items():
            if direction not in DIRECTIONS:
                raise ConfigError(
                    f"ModelGate({self.model}).metrics.{metric}: direction {direction!r} is not one of "
                    f"{list(DIRECTIONS)}"
                )
        named = [("thresholds", t.metric) for t in self.thresholds] + [("compare", m) for m in self.compare]
        for key, metric in named:
            if metric not in self.metrics:
                raise ConfigError(
                    f"ModelGate({self.model}).{key}: unknown metric {metric!r}; the model declares "
                    f"{sorted(self.metrics)}"
                )

    def lower_is_better(self, metric: str) -> bool:
        """Whether smaller values of ``metric`` are better, as the model declares it."""
        try:
            return self.metrics[metric] == LOWER
        except KeyError:
            raise ConfigError(
                f"ModelGate({self.model}): no direction declared for metric {metric!r}"
            ) from None


def directions(higher: tuple[str, ...] = (), lower: tuple[str, ...] = ()) -> dict[str, str]:
    """``{metric: direction}`` from the metrics where higher and where lower is better."""
    return {**dict.fromkeys(higher, HIGHER), **dict.fromkeys(lower, LOWER)}
