"""The model-stage registry: every model the nightly trains, gates and publishes, declared once.

One :class:`ModelStage` per model names its train function and its typed config class (dotted
paths, imported only inside the task, so nothing heavy is imported when Airflow parses the DAG),
what it runs after (the training data, or another model), its Airflow pool, its gate (metrics with
their direction, thresholds, baseline prefixes), its artifact and flavor, its output tables and
its section on the UI page. The DAG (``dags/ecom_nightly.py``) builds one task group per entry,
``train -> gate -> publish``, placed after its upstream; the trigger-form check, training reuse,
gates, publication, assets, the UI and ``ecom models`` all read the same entries.

Adding a model: a package with its train function and config class, one entry in :data:`STAGES`,
its tests. A model kept outside this package (or a test's toy model) is registered without
editing this file by naming its entry in ``$ECOM_MODEL_STAGES`` (``package.module:NAME``, comma
separated; ``NAME`` is a :class:`ModelStage` or a tuple of them).

The contract of a train function::

    def train(root: str, ds: str, config: MyConfig, champion_uri: str | None) -> dict

It writes its candidate into ``{root}/models/<name>/ds=<ds>/`` (the artifact, ``metrics.json``
with the candidate's and the baselines' metrics on the held-out data and, when ``champion_uri``
is given, ``champion_metrics.json``: the champion scored on the same held-out data through
:func:`ecom_tasks.publish.champion.score_champion`), writes its output tables, and returns a
small dict for XCom. The config class has ``from_run(run: RunParams)``, the configuration a
run's parameters (``epochs``, ``embedding_size``, ``seed``) select, raising ``ConfigError``
naming the parameter when they do not fit.

A train function that finds too little data to train or judge its model honestly (a young, small or
sparse shop) raises :class:`~ecom_tasks.errors.NotEnoughDataError` saying what it needs and what
the shop has: the task is then skipped with that reason, not failed. What a stage can know before
training (``min_history_days``) or before its gate (``min_test_examples``) is declared here.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError
from ecom_tasks.publish.specs import ModelGate, ModelSpec, Threshold, directions

ENV = "ECOM_MODEL_STAGES"
TF_POOL = "tensorflow"  # one slot by default: at most one TensorFlow training task at a time


@dataclass(frozen=True)
class ModelStage:
    """One model of the nightly: how it is trained, gated, published and shown.

    Attributes:
        name: the model's name (folders ``models/<name>/ds=D``, registry ``ecom_<name>``).
        train: ``"module:function"``, the train function (see the module docstring).
        config: ``"module:Class"``, its frozen config class, with ``from_run(run)``.
        gate: thresholds, comparisons and baselines, with every gated metric's direction.
        publication: the artifact names, flavor, serving signature and output tables.
        after: the model whose output this one starts from (its train task runs after that
            model's), or None: after the training data only.
        pool: the Airflow pool of the train task (``tensorflow`` for TensorFlow training), or None
            for the default pool.
        task_id: the train task's id (default ``train_<name>``).
        title: the model's heading on the UI page.
        description: one line for the DAG's docs and the UI.
        test_unit: what one held-out example is (``customers``, ``users`` ...), named in the gate's
            noise intervals.
        min_history_days: what the model needs of the shop's history (its first validated day to
            the run's day, both included) before it can be trained honestly; with less, its train
            task is skipped in seconds with the reason ``needs_history`` (0: no pre-check).
        needs_history: why it needs that history, said in the skip's reason.
        min_test_examples: with fewer held-out ``test_unit`` than this, the gate cannot decide: it
            is skipped with the reason (the candidate stays unpublished, the champion stays).
        ui: ``"module:function"``, the model's own section on the UI page beyond its gate and
            champion (a product explorer, a day's anomalies), or "" for none; see
            :mod:`ecom_tasks.ui.sections` for the function's contract.
    """

    name: str
    train: str
    config: str
    gate: ModelGate
    publication: ModelSpec
    after: str | None = None
    pool: str | None = None
    task_id: str = ""
    title: str = ""
    description: str = ""
    test_unit: str = "test examples"
    min_history_days: int = 0
    needs_history: str = ""
    min_test_examples: int = 0
    ui: str = ""

    def __post_init__(self) -> None:
        for key in ("train", "config", "ui"):
            value = getattr(self, key)
            if key == "ui" and value == "":
                continue
            if not isinstance(value, str) or value.count(":") != 1:
                raise ConfigError(f"ModelStage({self.name}).{key}: expected 'module:name', got {value!r}")
        if self.gate.model != self.name or self.publication.name != self.name:
            raise ConfigError(
                f"ModelStage({self.name}): its gate and publication must be declared for {self.name!r}"
            )
        if self.min_history_days < 0 or self.min_test_examples < 0:
            raise ConfigError(f"ModelStage({self.name}): min_history_days and min_test_examples must be >= 0")
        if not self.task_id:
            object.__setattr__(self, "task_id", f"train_{self.name}")
        if not self.title:
            object.__setattr__(self, "title", self.name.replace("_", " ").capitalize())

    def train_function(self) -> Any:
        """The train function (imports its module: call it inside a task, not at parse time)."""
        return _import(self.train, f"ModelStage({self.name}).train")

    def config_class(self) -> type:
        return _import(self.config, f"ModelStage({self.name}).config")

    def ui_function(self) -> Any:
        """The UI section's function, or None when the model has no section of its own."""
        return _import(self.ui, f"ModelStage({self.name}).ui") if self.ui else None

    def make_config(self, run: Any) -> Any:
        """The stage's configuration for a run's parameters (``RunParams``)."""
        return self.config_class().from_run(run)

    @property
    def upstream(self) -> tuple[str, ...]:
        """The models this one's output depends on (part of its training fingerprint)."""
        return (self.after,) if self.after else ()


def _import(path: str, where: str) -> Any:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{where}: cannot import {path!r}: {exc}") from None


_RETRIEVAL_KS = (10, 20, 50)  # the retrieval stage's METRIC_KS (its config imports pandas)
_HEAD_HORIZON_DAYS = 90  # the training data's default churn horizon (TrainingDataConfig.churn_horizon_days)
_FORECAST_HORIZON_DAYS = 28  # the forecast stage's default horizon (ForecastConfig.horizon_days)
# Held-out examples (users, customers) below which a gated metric is a coin toss (one example moves
# recall, NDCG or ROC AUC by several points): the gate cannot decide and steps aside. One rule for
# every built-in model, the scale of the paired bootstrap's noise (publish/gate.py).
MIN_TEST_EXAMPLES = 20


# The anomaly stage's default history: 28 days to learn from, 14 to choose on, 28 to test on
# (AnomalyConfig.history_days; its config imports pandas). A longer anomaly_test_days is checked
# by the train function itself.
_ANOMALY_HISTORY_DAYS = 28 + 14 + 28
_ANOMALY_METRICS = ("injected_recall_at_budget", "injected_precision_at_budget", "injected_roc_auc")


def _head(task: str, output: str, title: str, extra_lower: tuple[str, ...] = ()) -> ModelStage:
    """The churn and repurchase heads: the same package, trainer and gate shape."""
    metrics = directions(
        higher=(f"{task}_roc_auc", f"{task}_pr_auc", f"{task}_top_decile_lift"),
        lower=(f"{task}_log_loss", f"{task}_ece", *extra_lower),
    )
    return ModelStage(
        name=task,
        train=f"ecom_tasks.heads.stage:fine_tune_{task}",
        config="ecom_tasks.heads.config:HeadConfig",
        after=catalog.RETRIEVAL,
        pool=TF_POOL,
        task_id=f"fine_tune_{task}",
        title=title,
        test_unit="test customers",
        min_test_examples=MIN_TEST_EXAMPLES,
        # Labels come from the 90 days after the cutoff (ds - 90): before the shop has more than
        # 90 days, no customer has a labelled future (HeadDataError would say so after the backbone).
        min_history_days=_HEAD_HORIZON_DAYS + 1,
        needs_history=f"{_HEAD_HORIZON_DAYS} days of history after the first purchase for its labels",
        description=f"{title}: a head fine-tuned on the retrieval towers, against RFM logistic "
        "regression and gradient boosting",
        gate=ModelGate(
            task,
            thresholds=(Threshold(f"{task}_roc_auc", minimum=0.6), Threshold(f"{task}_ece", maximum=0.1)),
            compare=(f"{task}_roc_auc",),
            baselines=("rfm_logreg_", "gbdt_"),
            metrics=metrics,
        ),
        publication=ModelSpec(task, output_tables=(output,)),
    )


STAGES: tuple[ModelStage, ...] = (
    ModelStage(
        name=catalog.RETRIEVAL,
        train="ecom_tasks.retrieval.stage:train_stage",
        config="ecom_tasks.retrieval.config:RetrievalConfig",
        pool=TF_POOL,
        task_id="pretrain_retrieval",
        title="Retrieval (two towers)",
        test_unit="held-out users",
        min_test_examples=MIN_TEST_EXAMPLES,
        description="Two-tower retrieval pretraining (TFRS), warm-started from the champion",
        gate=ModelGate(
            catalog.RETRIEVAL,
            thresholds=(Threshold("recall_at_20", minimum=0.02), Threshold("ndcg_at_10", minimum=0.005)),
            compare=("recall_at_20", "ndcg_at_10"),
            baselines=("popularity_", "itemknn_"),
            metrics=directions(
                higher=tuple(f"{m}_at_{k}" for m in ("recall", "ndcg", "hr") for k in _RETRIEVAL_KS)
            ),
        ),
        publication=ModelSpec(catalog.RETRIEVAL, artifacts=(catalog.SAVED_MODEL_DIR,), flavor="tensorflow"),
    ),
    ModelStage(
        name=catalog.RANKING,
        train="ecom_tasks.ranking.stage:fine_tune_ranking",
        config="ecom_tasks.ranking.config:RankingConfig",
        after=catalog.RETRIEVAL,
        pool=TF_POOL,
        task_id="fine_tune_ranking",
        title="Recommendations (ranking)",
        test_unit="evaluation users",
        min_test_examples=MIN_TEST_EXAMPLES,
        description="Ranking head re-ranking the retrieval candidates, against the retrieval order",
        gate=ModelGate(
            catalog.RANKING,
            thresholds=(Threshold("ranking_ndcg_at_10", minimum=0.01),),
            compare=("ranking_ndcg_at_10",),
            baselines=("retrieval_",),
            metrics=directions(higher=("ranking_ndcg_at_10", "ranking_recall_at_10")),
        ),
        publication=ModelSpec(catalog.RANKING, output_tables=(catalog.RECOMMENDATIONS,)),
    ),
    _head(catalog.CHURN, catalog.CHURN_SCORES, "Churn risk"),
    _head(catalog.REPURCHASE, catalog.REPURCHASE_SCORES, "Repurchase propensity", ("repurchase_orders_mae",)),
    ModelStage(
        name=catalog.ANOMALIES,
        train="ecom_tasks.anomalies.stage:train_anomalies",
        config="ecom_tasks.anomalies.config:AnomalyConfig",
        title="Anomalies (orders and daily metrics)",
        test_unit="injected anomalies",
        min_history_days=_ANOMALY_HISTORY_DAYS,
        needs_history="4 weeks to learn from, 2 to choose the detector on and the test window",
        min_test_examples=20,
        ui="ecom_tasks.anomalies.ui:section",
        description="The day's unusual orders with reasons (rules, Isolation Forest, ECOD, COPOD, HBOS, "
        "their ensemble) and daily metrics outside their seasonal band",
        gate=ModelGate(
            catalog.ANOMALIES,
            thresholds=(Threshold("injected_recall_at_budget", minimum=0.5),),
            compare=("injected_recall_at_budget",),
            baselines=("rules_",),
            metrics=directions(higher=_ANOMALY_METRICS),
        ),
        publication=ModelSpec(
            catalog.ANOMALIES,
            artifacts=("model",),
            flavor="callable",
            loader="ecom_tasks.anomalies.model:load",
            output_tables=(catalog.ORDER_ANOMALIES, catalog.METRIC_ANOMALIES),
        ),
    ),
    ModelStage(
        name=catalog.ASSISTANT,
        train="ecom_tasks.assistant.stage:train_assistant",
        config="ecom_tasks.assistant.config:AssistantConfig",
        pool=TF_POOL,
        title="Customer-service assistant",
        test_unit="test utterances",
        min_test_examples=50,
        ui="ecom_tasks.assistant.ui:section",
        description="Intents (a pretrained n-gram network against TF-IDF and no pretraining), out-of-scope "
        "rejection, slots and grounded answers, when support data is configured",
        gate=ModelGate(
            catalog.ASSISTANT,
            thresholds=(Threshold("intent_macro_f1", minimum=0.8), Threshold("intent_accuracy", minimum=0.8)),
            compare=("intent_macro_f1", "intent_accuracy"),
            baselines=("tfidf_", "nopretrain_"),
            metrics=directions(
                higher=("intent_macro_f1", "intent_accuracy", "oos_recall", "oos_precision", "slot_f1"),
                lower=("in_scope_rejected", "p95_ms"),
            ),
        ),
        publication=ModelSpec(
            catalog.ASSISTANT,
            artifacts=(catalog.ASSISTANT_DIR,),
            flavor="callable",
            loader="ecom_tasks.assistant.model:load",
            output_tables=(catalog.ASSISTANT_INTENTS,),
        ),
    ),
    ModelStage(
        name=catalog.FORECAST,
        train="ecom_tasks.forecast.stage:train_forecast",
        config="ecom_tasks.forecast.config:ForecastConfig",
        # After the training data only: it reads the retrieval *champion* (point in time), not
        # tonight's candidate, so it runs beside the TensorFlow stages (no TensorFlow training).
        after=None,
        title="Demand forecast",
        test_unit="items",
        min_history_days=3 * _FORECAST_HORIZON_DAYS,
        needs_history=f"two {_FORECAST_HORIZON_DAYS}-day backtest windows and {_FORECAST_HORIZON_DAYS} days "
        "to fit on",
        min_test_examples=MIN_TEST_EXAMPLES,
        ui="ecom_tasks.forecast.ui:section",
        description="Daily demand per item (statsforecast baselines, a global LightGBM with item "
        "embeddings), inventory plan and price elasticity",
        gate=ModelGate(
            catalog.FORECAST,
            # coverage has a target (0.8), not a direction: the gate holds its distance to it.
            thresholds=(Threshold("wape", maximum=2.0), Threshold("coverage_80_gap", maximum=0.1)),
            compare=("wape",),
            baselines=("snaive_", "ets_", "intermittent_"),
            metrics=directions(
                higher=("elasticity_sign_accuracy",),
                lower=("wape", "weekly_wape", "mase", "pinball_90", "coverage_80_gap", "elasticity_log_mae"),
            ),
        ),
        publication=ModelSpec(
            catalog.FORECAST,
            artifacts=("model",),
            flavor="callable",
            loader="ecom_tasks.forecast.artifact:load",
            output_tables=(catalog.DEMAND_FORECAST, catalog.INVENTORY_PLAN, catalog.PRICE_ELASTICITY),
        ),
    ),
)


def _extra_stages() -> tuple[ModelStage, ...]:
    found: list[ModelStage] = []
    for path in filter(None, (p.strip() for p in os.environ.get(ENV, "").split(","))):
        value = _import(path, ENV)
        entries = value if isinstance(value, tuple | list) else (value,)
        for entry in entries:
            if not isinstance(entry, ModelStage):
                raise ConfigError(f"{ENV}: {path!r} is not a ModelStage (got {type(entry).__name__})")
            found.append(entry)
    return tuple(found)


def registered() -> tuple[ModelStage, ...]:
    """Every model stage, built-ins then ``$ECOM_MODEL_STAGES``, upstreams before their dependants.

    Raises:
        ConfigError: a duplicate name or task id, an unknown or cyclic ``after``.
    """
    stages = STAGES + _extra_stages()
    by_name: dict[str, ModelStage] = {}
    task_ids: set[str] = set()
    for stage in stages:
        if stage.name in by_name:
            raise ConfigError(f"model stage {stage.name!r} is registered twice")
        if stage.task_id in task_ids:
            raise ConfigError(f"model stage {stage.name!r}: task id {stage.task_id!r} is already used")
        by_name[stage.name] = stage
        task_ids.add(stage.task_id)
    ordered: list[ModelStage] = []
    placed: set[str] = set()
    pending = list(stages)
    while pending:
        ready = [s for s in pending if s.after is None or s.after in placed]
        if not ready:
            stuck = pending[0]
            if stuck.after not in by_name:
                raise ConfigError(
                    f"model stage {stuck.name!r}: after={stuck.after!r} is not a registered model"
                )
            raise ConfigError(f"model stages {[s.name for s in pending]}: their 'after' form a cycle")
        ordered += ready
        placed |= {s.name for s in ready}
        pending = [s for s in pending if s.name not in placed]
    return tuple(ordered)


def names() -> tuple[str, ...]:
    return tuple(s.name for s in registered())


def get(name: str) -> ModelStage:
    """The stage of model ``name``; :class:`ConfigError` naming the registered ones otherwise."""
    for stage in registered():
        if stage.name == name:
            return stage
    raise ConfigError(f"model: unknown model {name!r}; registered: {list(names())}")
