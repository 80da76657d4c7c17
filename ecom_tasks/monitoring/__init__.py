"""Monitoring: what the published models turned out to be, and how far their inputs have drifted.

The task function is :func:`ecom_tasks.monitoring.stage.monitor` (the nightly's ``monitor`` task).
Importing this package imports neither pandas nor scikit-learn.
"""
