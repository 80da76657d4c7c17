"""The ensemble on hand-made scores: the rules plus a weight chosen on validation times the detectors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from ecom_tasks.anomalies.config import DETECTORS, ENSEMBLE, RULES, AnomalyConfig
from ecom_tasks.anomalies.model import WEIGHTS, AnomalyModel, ensemble


def scores(rules: list[float], detectors: list[float]) -> dict[str, np.ndarray]:
    return {RULES: np.array(rules), **{name: np.array(detectors) for name in DETECTORS}}


def test_the_ensemble_adds_a_weighted_detector_average_to_the_rules():
    s = scores([1.0, 0.0], [0.0, 2.0])
    assert ensemble(s, 0.25) == pytest.approx([1.0, 0.5])
    assert ensemble(s, None) == pytest.approx([1.0, 2.0])  # the larger of the two (older models)
    assert ensemble(scores([], []), 0.5).size == 0


def test_the_weight_with_the_best_validation_figure_is_kept():
    model = AnomalyModel(AnomalyConfig())
    s = scores([1.0, 0.0], [0.0, 4.0])
    # Recall here: order 1 (detectors only) must beat order 0 (rules only): only weights above 0.25.
    chosen = model.choose_weight(s, lambda e: float(e[1] > e[0]))
    assert chosen == 0.5 and chosen in WEIGHTS and model.detector_weight == 0.5
    assert s[ENSEMBLE] == pytest.approx([1.0, 2.0])
    assert model.choose_weight(s, lambda e: 1.0) == WEIGHTS[0]  # a tie: the smallest weight


def test_a_model_pickled_before_the_weight_scores_as_it_was_published():
    model = AnomalyModel(AnomalyConfig())
    state = dict(model.__dict__)
    del state["detector_weight"]
    old = AnomalyModel.__new__(AnomalyModel)
    old.__setstate__(state)
    assert old.detector_weight is None
    assert pickle.loads(pickle.dumps(model)).detector_weight == WEIGHTS[0]
