"""A toy model stage registered from outside the package, as a new model would be.

Registered with ``ECOM_MODEL_STAGES=tests.toy_stage.entry:STAGE``: the DAG, the trigger-form check,
the gate and publication follow the registry without any other file changing.
"""
