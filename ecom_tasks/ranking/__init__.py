"""The ranking head (stage ``fine_tune``): re-ranks the retrieval model's top candidates.

Modules: ``config`` (settings, names, the freeze schedule), ``metrics`` (NDCG/Recall@10 of
ordered lists), ``data`` (point-in-time candidate lists), ``model`` (the head on the pretrained
towers), ``train`` (frozen then unfrozen fitting), ``export`` (the re-ranker SavedModels), ``core``
(fit, evaluate, select), ``outputs`` (the ``recommendations`` table) and ``stage`` (the task
function ``fine_tune_ranking``).
"""

import os

# TFRS 0.7.7 runs on tf-keras only and refuses to import unless this is set before TensorFlow is.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
