"""The toy stage's registry entry: one declaration (what a new model adds to ecom_tasks/stages.py)."""

from __future__ import annotations

from ecom_tasks.publish.specs import ModelGate, ModelSpec, Threshold
from ecom_tasks.stages import ModelStage

NAME = "basket_value"
OUTPUT_TABLE = "basket_value_predictions"

STAGE = ModelStage(
    name=NAME,
    train="tests.toy_stage.train:train",
    config="tests.toy_stage.train:ToyConfig",
    after=None,  # needs only the training data; no TensorFlow, so not in the tensorflow pool
    title="Basket value (toy)",
    ui="tests.toy_stage.ui:section",  # its own section on the page (the generic template shows it)
    description="A linear model of each customer's spend from their order count (a registry test)",
    gate=ModelGate(
        NAME,
        # mae has no direction in its name that the gate could guess: the declaration says lower.
        thresholds=(Threshold("basket_value_mae", maximum=1e9),),
        compare=("basket_value_mae",),
        baselines=("mean_",),
        metrics={"basket_value_mae": "lower", "basket_value_r2": "higher"},
    ),
    publication=ModelSpec(
        NAME,
        artifacts=("model",),
        flavor="callable",
        loader="tests.toy_stage.train:load",
        output_tables=(OUTPUT_TABLE,),
    ),
)
