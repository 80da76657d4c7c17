"""The detectors and their ensemble: fitted on past orders, pickled as the stage's artifact.

:class:`AnomalyModel` holds the fitted PyOD detectors (Isolation Forest, ECOD, COPOD, HBOS), each
one's score distribution on its training orders, the rules' settings and the candidate chosen on
validation. Every candidate's score is put on one robust scale, ``(s - median) / (p99 - median)``
of its training scores, so the ensemble can combine them and a severity can be read off as the
share of training orders scored lower. ``predict`` (the publication's ``callable`` flavor, through
:func:`load`) returns the chosen candidate's scores of a frame of :data:`features.DETECTOR_FEATURES`.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote
from ecom_tasks.anomalies import features as f
from ecom_tasks.anomalies.config import (
    COPOD,
    DETECTORS,
    ECOD,
    ENSEMBLE,
    HBOS,
    IFOREST,
    RULES,
    AnomalyConfig,
)
from ecom_tasks.anomalies.rules import rules_score

log = logging.getLogger(__name__)


def _make(name: str, seed: int) -> Any:
    from pyod.models import copod, ecod, hbos
    from pyod.models.iforest import IForest

    if name == IFOREST:
        return IForest(n_estimators=200, random_state=seed, n_jobs=1)
    if name == ECOD:
        return ecod.ECOD()
    if name == COPOD:
        return copod.COPOD()
    if name == HBOS:
        return hbos.HBOS(n_bins="auto")
    raise ValueError(f"unknown detector {name!r}")


# The ensemble is the rules plus ``weight`` times the detectors' average (robust scales): the rules
# know how far is "far" for a price, a quantity or a repeat; the detectors lift what is unusual in
# several features at once and order the many orders no rule fires on. The weight is chosen on the
# validation window. On Online Retail II the larger of the rules and the detectors' average (the
# earlier ensemble) lost to the sum once the rules had a duplicate rule (0.917 against 0.956).
WEIGHTS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)


def ensemble(scores: dict[str, np.ndarray], weight: float | None) -> np.ndarray:
    """The rules' score plus ``weight`` times the detectors' average (every score on its robust scale);
    ``None``: the larger of the two (the ensemble of models pickled before the weight existed)."""
    if not len(scores[RULES]):
        return np.zeros(0)
    detectors = np.mean(np.vstack([scores[name] for name in DETECTORS]), axis=0)
    return np.maximum(scores[RULES], detectors) if weight is None else scores[RULES] + weight * detectors


class AnomalyModel:
    """Fitted detectors, their training score scales and the selected candidate."""

    def __init__(self, config: AnomalyConfig) -> None:
        self.config = config
        self.features = f.DETECTOR_FEATURES
        self.detectors: dict[str, Any] = {}
        self.scale: dict[str, tuple[float, float]] = {}
        self.train_scores: dict[str, np.ndarray] = {}
        self.selected = ENSEMBLE
        self.detector_weight: float | None = WEIGHTS[0]

    def __setstate__(self, state: dict) -> None:
        # A champion pickled before the weighted ensemble keeps scoring as it was published.
        self.__dict__.update({"detector_weight": None, **state})

    def fit(self, train: pd.DataFrame) -> AnomalyModel:
        """Fit every detector on the training orders' features and record each one's scale."""
        rare = len(train) and float(train[f.ANONYMOUS].mean()) < f.RARE_ANONYMOUS
        self.features = f.DETECTOR_FEATURES + ((f.ANONYMOUS,) if rare else ())
        x = f.matrix(train, self.features)
        for name in DETECTORS:
            self.detectors[name] = _make(name, self.config.seed).fit(x)
        raw = self._raw(train, x)
        for name, values in raw.items():
            median, p99 = np.quantile(values, [0.5, 0.99])
            self.scale[name] = (float(median), float(max(p99 - median, 1e-9)))
        scaled = self._scaled(raw)
        self.train_scores = {name: np.sort(values) for name, values in scaled.items()}
        return self

    def _raw(self, frame: pd.DataFrame, x: np.ndarray) -> dict[str, np.ndarray]:
        out = {RULES: rules_score(frame, self.config)}
        for name in DETECTORS:
            out[name] = self.detectors[name].decision_function(x) if len(x) else np.zeros(0)
        return out

    def _scaled(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = {}
        for name, values in raw.items():
            median, spread = self.scale[name]
            out[name] = (np.asarray(values, np.float64) - median) / spread
        out[ENSEMBLE] = ensemble(out, self.detector_weight)
        return out

    def choose_weight(self, scores: dict[str, np.ndarray], recall: Callable[[np.ndarray], float]) -> float:
        """Set the ensemble's detector weight to the one of :data:`WEIGHTS` with the best ``recall``
        of ``scores`` (validation; ties: the smaller weight); recompute ``scores[ENSEMBLE]``."""
        figures = {w: recall(ensemble(scores, w)) for w in WEIGHTS}
        self.detector_weight = max(WEIGHTS, key=lambda w: (np.nan_to_num(figures[w], nan=-1.0), -w))
        scores[ENSEMBLE] = ensemble(scores, self.detector_weight)
        return self.detector_weight

    def scores(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Every candidate's score (robust scale, higher is more unusual) per order of ``frame``."""
        return self._scaled(self._raw(frame, f.matrix(frame, self.features)))

    def severity(self, scores: np.ndarray, name: str | None = None) -> np.ndarray:
        """The share of training orders the candidate (default: the selected) scored lower."""
        reference = self.train_scores[name or self.selected]
        return np.searchsorted(reference, scores, side="left") / max(len(reference), 1)

    def predict(self, model_input: Any) -> np.ndarray:
        """The selected candidate's scores of orders given as a frame (or dict) of FEATURES."""
        frame = pd.DataFrame(model_input)
        for name in self.features:
            if name not in frame.columns:
                raise KeyError(f"anomaly model input: missing feature {name!r}")
        return self.scores(frame)[self.selected]


def save(model: AnomalyModel, folder: str) -> str:
    """Pickle ``model`` into ``folder/model.pkl`` (through remote: the root may be s3://)."""
    uri = f"{folder}/{catalog.PICKLE_FILE}"
    remote.write_uri(uri, pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    return uri


def load(path: str) -> AnomalyModel:
    """Open a saved model folder (the publication's loader)."""
    data = remote.read_uri(f"{path}/{catalog.PICKLE_FILE}")
    if data is None:
        raise FileNotFoundError(f"{path}: no {catalog.PICKLE_FILE} (not an anomaly model folder)")
    model = pickle.loads(data)
    if not isinstance(model, AnomalyModel):
        raise TypeError(f"{path}/{catalog.PICKLE_FILE} holds a {type(model).__name__}, not an AnomalyModel")
    return model


def smoke_input(model: AnomalyModel, frame: pd.DataFrame) -> dict[str, list[float]]:
    """Two orders' features as JSON: what the publication's serving check sends."""
    rows = frame[list(model.features)].head(2)
    return {name: [float(v) for v in rows[name]] for name in model.features}
