"""Task heads on the pretrained retrieval towers: churn risk and repurchase propensity.

The stage functions live in :mod:`ecom_tasks.heads.stage`; importing this package does not import
TensorFlow (the DAG imports it at parse time).
"""

from __future__ import annotations

from ecom_tasks.heads.config import DEFAULT_CONFIG, HeadConfig

__all__ = ["DEFAULT_CONFIG", "HeadConfig", "fine_tune_churn", "fine_tune_repurchase"]


def fine_tune_churn(*args, **kwargs) -> dict:
    """See :func:`ecom_tasks.heads.stage.fine_tune_churn` (imported lazily: TensorFlow is heavy)."""
    from ecom_tasks.heads.stage import fine_tune_churn as run

    return run(*args, **kwargs)


def fine_tune_repurchase(*args, **kwargs) -> dict:
    """See :func:`ecom_tasks.heads.stage.fine_tune_repurchase`."""
    from ecom_tasks.heads.stage import fine_tune_repurchase as run

    return run(*args, **kwargs)
