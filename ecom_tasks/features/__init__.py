"""The feature stage: customer profiles, item features, behaviour analytics and its report, and
point-in-time training data, all as of the end of a run's data interval from validated data.

Modules: ``stage`` (the task functions), ``state``/``aggregate`` (the running state and how a
span of events is summarised into it), ``profiles``, ``items``, ``analytics``, ``report``,
``training`` (pure dataframe cores), ``store`` (partition I/O), ``encode`` (vectorised helpers),
``columns`` (output column names) and ``config``.
"""

from ecom_tasks.features.config import FeatureConfig, TrainingDataConfig
from ecom_tasks.features.stage import build_features, build_training_data

__all__ = ["FeatureConfig", "TrainingDataConfig", "build_features", "build_training_data"]
