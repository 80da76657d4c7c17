"""Item embeddings of the retrieval champion as static features of the global model, point in time.

The retrieval model used is the one that was champion once the night of the run's ``ds`` was over
(a backfill never borrows vectors that saw later data); without one the global model runs without
embeddings and the run says so (``embeddings_used``, ``backbone_uri`` in the history).
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np

from ecom_tasks import catalog, remote, storage

log = logging.getLogger(__name__)


def champion_backbone(root: str, ds: dt.date) -> str | None:
    """The folder of the retrieval model that was champion once the night of ``ds`` was over, or None.

    Point in time through the outputs pointer's history (``outputs.current_as_of``): a backfill gets
    the champion of its day, never a later one, and a rollback counts from when it was made.
    """
    from ecom_tasks.publish.outputs import current_as_of

    entry = current_as_of(root, ds, model=catalog.RETRIEVAL)
    if entry is None:
        log.info("no retrieval champion as of ds=%s: the global model runs without item embeddings", ds)
        return None
    folder = storage.partition_uri(root, catalog.MODELS, catalog.RETRIEVAL, entry["ds"])
    if not remote.uri_exists(f"{folder}/{catalog.WEIGHTS_FILE}"):
        log.warning("%s: the retrieval champion's weights are missing; running without embeddings", folder)
        return None
    return folder


def item_embeddings(backbone_uri: str, items: np.ndarray, dims: int) -> np.ndarray:
    """``[items, dims]``: the backbone's item vectors projected on their first principal components
    (unknown items get the out-of-vocabulary vector, the same for all of them)."""
    from ecom_tasks.retrieval.backbone import load_backbone

    vectors = load_backbone(backbone_uri).item_vectors([str(i) for i in items]).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    k = max(1, min(dims, *centred.shape))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T
