"""Evaluation gate, MLflow tracking and registry, and publication of the nightly models.

Task functions live in :mod:`ecom_tasks.publish.stage` (``gate_model``, ``publish_model``); a
rollback in :mod:`ecom_tasks.publish.rollback`; the pure gate in :mod:`ecom_tasks.publish.gate`.
Importing this package is cheap: MLflow is imported only inside the functions that talk to it.
"""
