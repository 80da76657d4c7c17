"""Task heads on the pretrained retrieval towers: churn risk and repurchase propensity.

The task functions are :func:`ecom_tasks.heads.stage.fine_tune_churn` and
:func:`~ecom_tasks.heads.stage.fine_tune_repurchase`; importing this package does not import
TensorFlow.
"""
