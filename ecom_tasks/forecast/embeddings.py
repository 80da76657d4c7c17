"""Item embeddings of the retrieval champion as static features of the global model, point in time.

The retrieval champion is used only when it was trained on a ``ds`` on or before the run's ``ds``
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
    """The retrieval champion's folder when its ``ds`` is on or before ``ds``, else None."""
    from ecom_tasks.publish.stage import champion_info

    try:
        info = champion_info(root, catalog.RETRIEVAL)
    except Exception as exc:  # a registry that cannot answer: run without, and say why
        log.warning(
            "no retrieval champion could be looked up (%s); the global model runs without embeddings", exc
        )
        return None
    if info is None:
        log.info("no retrieval champion yet: the global model runs without item embeddings")
        return None
    if storage.as_date(info["ds"]) > ds:
        log.info(
            "the retrieval champion (ds=%s) is newer than ds=%s: not used (point in time)", info["ds"], ds
        )
        return None
    if not remote.uri_exists(f"{info['folder']}/{catalog.WEIGHTS_FILE}"):
        log.warning(
            "%s: the retrieval champion's weights are missing; running without embeddings", info["folder"]
        )
        return None
    return info["folder"]


def item_embeddings(backbone_uri: str, items: np.ndarray, dims: int) -> np.ndarray:
    """``[items, dims]``: the backbone's item vectors projected on their first principal components
    (unknown items get the out-of-vocabulary vector, the same for all of them)."""
    from ecom_tasks.retrieval.backbone import load_backbone

    vectors = load_backbone(backbone_uri).item_vectors([str(i) for i in items]).astype(np.float64)
    centred = vectors - vectors.mean(axis=0)
    k = max(1, min(dims, *centred.shape))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:k].T
