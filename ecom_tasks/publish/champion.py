"""Scoring the current champion on the candidate's held-out data: one way for every model stage.

Every train function gets the champion's folder (``champion_uri``, an earlier output of the same
stage, or None) and scores it on exactly the examples, users or items its candidate is tested on,
with the same metric function and names, so the gate's ``no_regression`` check compares like with
like. What differs per model is only how its artifact answers (the ``scorer``); how a champion is
looked up, scored, cleaned, recorded and forgotten is here:

- :func:`evaluate` calls the stage's scorer on the champion and cleans the figures (non-finite
  values become None, floats are rounded for JSON); a scorer may return None for a champion it
  cannot rebuild (an older artifact format), which is logged and leaves the gate to say so;
- :func:`record` writes ``champion_metrics.json`` beside the candidate, or removes a stale one when
  this run has no champion figures (a rerun must never gate against an earlier run's champion).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping

from ecom_tasks import catalog, remote, storage

log = logging.getLogger(__name__)

Scorer = Callable[[str], Mapping[str, float] | None]


def clean(metrics: Mapping[str, float | None]) -> dict[str, float | None]:
    """Metrics for JSON: non-finite values as None, floats rounded to 6 places."""
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        number = None if value is None else float(value)
        out[key] = round(number, 6) if number is not None and math.isfinite(number) else None
    return out


def evaluate(champion_uri: str | None, scorer: Scorer) -> dict[str, float | None] | None:
    """The champion's metrics on the candidate's held-out data, or None without a champion.

    Args:
        champion_uri: the champion's output folder (None: no champion yet).
        scorer: the stage's own scoring of an artifact folder on this run's held-out data, under
            the candidate's metric names; None when that champion cannot be rebuilt.
    """
    if not champion_uri:
        return None
    metrics = scorer(champion_uri)
    if metrics is None:
        log.warning("champion %s could not be scored on this run's held-out data", champion_uri)
        return None
    cleaned = clean(metrics)
    log.info("champion %s on this run's held-out data: %s", champion_uri, cleaned)
    return cleaned


def record(folder: str, metrics: Mapping[str, float | None] | None) -> str | None:
    """Write ``champion_metrics.json`` into the candidate's ``folder``; remove a stale one for None.

    Returns the file's URI, or None when there are no champion figures for this run.
    """
    uri = f"{folder}/{catalog.CHAMPION_METRICS_FILE}"
    if metrics is None:
        remote.remove_uri(uri)
        return None
    storage.write_json(dict(metrics), uri)
    return uri
