"""Two-tower retrieval pretraining with TensorFlow Recommenders (stage ``pretrain``).

Modules: ``config`` (settings and names), ``data`` (vocabularies and sequences from frames),
``pipeline`` (``tf.data``), ``layers`` (lookups, causal attention), ``towers`` (query and item
towers), ``model`` (the ``tfrs.Model`` loss), ``train`` (fit with early stopping, evaluation),
``warmstart``, ``export`` (the SavedModel with a BruteForce index), ``evaluate`` (full-ranking
metrics), ``baselines`` (popularity, item-kNN) and ``stage`` (the task function ``pretrain_retrieval``).
The TFRS tutorial configuration the benchmarks compare speed against is bench/retrieval_tutorial.py.
"""

import os

# TFRS 0.7.7 runs on tf-keras only and refuses to import unless this is set before TensorFlow is.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
