"""Which published tables are judged, how, and against which gates: one :class:`Monitor` per model.

A model without a monitor here (or not registered in :mod:`ecom_tasks.stages`) is simply absent
from the monitoring tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecom_tasks import catalog
from ecom_tasks.publish.tables import CHURN_RISK, REPURCHASE_PROPENSITY

# What a monitor judges: top-K lists, probabilities, daily forecasts, or the assistant's answers log.
LISTS, SCORES, FORECASTS, HANDOVERS = "lists", "scores", "forecasts", "handovers"


@dataclass(frozen=True)
class Monitor:
    """How one model's published table is judged.

    Attributes:
        model: the model (``monitoring/<model>/ds=D`` holds its nightly row).
        table: its published output table (the assistant: its answers log, ``handover/answers``).
        kind: ``lists`` (top-K lists against the next day's purchases), ``scores``
            (probabilities against their label window once it has closed), ``forecasts`` (daily
            forecasts against the units sold, by horizon) or ``handovers`` (the share of the day's
            answered messages handed over to a person, against ``handover_bound``).
        score: the probability column (``scores``).
        horizon: ``churn_horizon_days`` or ``repurchase_days`` of the config (``scores``): the
            table published that many days before ds is judged on the window after it.
        positive_if_bought: the label is 1 for a customer who bought in the window (repurchase),
            or who did not (churn).
        gates: the models whose gate thresholds apply to the realized figures (a figure is named
            as the gate's metric: ``recall_at_20`` of the retrieval gate, ``churn_roc_auc`` ...).
    """

    model: str
    table: str
    kind: str
    score: str = ""
    horizon: str = ""
    positive_if_bought: bool = False
    gates: tuple[str, ...] = ()


MONITORS: tuple[Monitor, ...] = (
    Monitor(catalog.RANKING, catalog.RECOMMENDATIONS, LISTS,
            gates=(catalog.RANKING, catalog.RETRIEVAL)),
    Monitor(catalog.CHURN, catalog.CHURN_SCORES, SCORES, CHURN_RISK, "churn_horizon_days",
            gates=(catalog.CHURN,)),
    Monitor(catalog.REPURCHASE, catalog.REPURCHASE_SCORES, SCORES, REPURCHASE_PROPENSITY, "repurchase_days",
            positive_if_bought=True, gates=(catalog.REPURCHASE,)),
    Monitor(catalog.FORECAST, catalog.DEMAND_FORECAST, FORECASTS, gates=(catalog.FORECAST,)),
    Monitor(catalog.ASSISTANT, catalog.ANSWERS, HANDOVERS),
)  # fmt: skip


def active(registered: tuple[str, ...]) -> tuple[Monitor, ...]:
    """The monitors of the registered models."""
    return tuple(m for m in MONITORS if m.model in registered)
