"""Columns of the batch output tables that consumers (and the UI) read.

Written per ``ds`` under ``{root}/outputs/<table>/ds=<ds>/`` by the training stages, pointed at by
``{root}/outputs/current.json`` once their model is the champion (:mod:`ecom_tasks.publish.outputs`).

- ``recommendations`` (from the ranking model): one row per (user, rank):
  ``user_id, rank`` (1 = best), ``item_id, score`` (the ranking head's probability),
  ``retrieval_rank`` (the item's place in the retrieval model's list), ``title``.
- ``churn_scores``: one row per active customer: ``user_id, churn_risk`` (probability of no purchase
  in the next 90 days), ``segment`` (RFM segment), ``churn_reasons`` (JSON list of
  ``{"feature", "value", "effect"}``, strongest first; a positive effect pushes the risk up).
- ``repurchase_scores``: one row per active customer: ``user_id, repurchase_propensity``
  (probability of a purchase in the next 30 days), ``expected_orders`` (in those 30 days),
  ``segment``.

Every table also carries ``model_version``, which is not an MLflow version number: it is a content
fingerprint of the candidate that wrote the rows, ``<model>-<ds>-<selected>-<hash>`` (``selected``:
the fine-tuned head or the baseline the task chose; computed by
:func:`ecom_tasks.publish.outputs.candidate_version` for every model). The training task writes
its tables before the gate, when the candidate has no registered version yet and may never get
one. The MLflow version that published a table is recorded in ``{root}/outputs/current.json``
(``tables.<table>.version``, with the ``ds`` of the partition it points at).
"""

from __future__ import annotations

RANK = "rank"
SCORE = "score"
RETRIEVAL_RANK = "retrieval_rank"
CHURN_RISK = "churn_risk"
CHURN_REASONS = "churn_reasons"
REPURCHASE_PROPENSITY = "repurchase_propensity"
EXPECTED_ORDERS = "expected_orders"
MODEL_VERSION = "model_version"
# Keys of each entry of CHURN_REASONS.
REASON_FEATURE, REASON_VALUE, REASON_EFFECT = "feature", "value", "effect"
