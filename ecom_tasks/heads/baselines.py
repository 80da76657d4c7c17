"""Baselines trained and scored on the same split as the fine-tuned head, and the pickled model
the publish stage serves when a baseline wins.

- ``rfm_logreg``: logistic regression on log-scaled recency, frequency and monetary value;
  expected orders from a Poisson regression on the same inputs.
- ``gbdt``: scikit-learn's HistGradientBoosting on the stable profile features (Poisson loss for
  expected orders).

Both are Platt-calibrated on the validation split like the head (``HeadConfig.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from ecom_tasks.heads.config import GBDT, RFM_FEATURES, RFM_LOGREG, STABLE_FEATURES, HeadConfig

EPS = 1e-7


def one_thread() -> threadpool_limits:
    """Limit OpenMP/BLAS to one thread: on customer-sized tables HistGradientBoosting's thread pool
    costs more than it saves, and on a shared 2-core worker it spun for seconds per fit."""
    return threadpool_limits(limits=1)


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``: tames heavy-tailed counts and money, keeps the sign."""
    return np.sign(x) * np.log1p(np.abs(x))


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return expit(np.asarray(z, dtype=np.float64))  # no overflow warning for large |z|


@dataclass(frozen=True)
class Platt:
    """Platt scaling ``p = sigmoid(a * logit + b)``; the identity is ``a=1, b=0``."""

    a: float = 1.0
    b: float = 0.0

    @classmethod
    def fit(cls, logits: np.ndarray, y: np.ndarray, method: str = "platt") -> Platt:
        """Fit on held-out logits (the validation split); ``method="none"`` returns the identity."""
        if method == "none" or len(np.unique(y)) < 2:
            return cls()
        model = LogisticRegression(C=1e4, max_iter=1000).fit(np.asarray(logits).reshape(-1, 1), y)
        return cls(float(model.coef_[0, 0]), float(model.intercept_[0]))

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * np.asarray(logits, dtype=np.float64) + self.b)


class TabularModel:
    """A calibrated classifier over named profile columns, with an optional expected-orders model.

    ``feature_names_in_`` tells the publish stage's pickle wrapper which columns to pass;
    ``predict_proba`` follows scikit-learn's two-column convention.
    """

    def __init__(
        self, name: str, task: str, features: tuple[str, ...], classifier, calibrator: Platt, counter=None
    ) -> None:
        self.name, self.task = name, task
        self.feature_names_in_ = np.array(features, dtype=object)
        self.classifier, self.calibrator, self.counter = classifier, calibrator, counter

    def _matrix(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        if isinstance(frame, pd.DataFrame):
            frame = frame[list(self.feature_names_in_)].astype("float64").to_numpy(na_value=0.0)
        return np.nan_to_num(np.asarray(frame, dtype=np.float64))

    def raw_logit(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """The classifier's uncalibrated logit."""
        with one_thread():
            return logit(self.classifier.predict_proba(self._matrix(frame))[:, 1])

    def predict(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Calibrated probability of the positive class (churn, or a purchase in the horizon)."""
        return self.calibrator(self.raw_logit(frame))

    def predict_proba(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray:
        p = self.predict(frame)
        return np.column_stack([1 - p, p])

    def predict_orders(self, frame: pd.DataFrame | np.ndarray) -> np.ndarray | None:
        """Expected orders in the horizon, or None without a count model."""
        if self.counter is None:
            return None
        with one_thread():
            return np.maximum(self.counter.predict(self._matrix(frame)), 0.0)


def _rfm_models(config: HeadConfig) -> tuple:
    def prep():
        return [FunctionTransformer(signed_log1p), StandardScaler()]

    classifier = make_pipeline(*prep(), LogisticRegression(C=1.0, max_iter=2000))
    counter = make_pipeline(*prep(), PoissonRegressor(alpha=1e-3, max_iter=1000))
    return classifier, counter


def _gbdt_models(config: HeadConfig) -> tuple:
    common = dict(
        max_iter=config.gbdt_max_iter,
        learning_rate=config.gbdt_learning_rate,
        max_leaf_nodes=config.gbdt_max_leaf_nodes,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=config.seed,
    )
    return HistGradientBoostingClassifier(**common), HistGradientBoostingRegressor(loss="poisson", **common)


BASELINE_FEATURES = {RFM_LOGREG: RFM_FEATURES, GBDT: STABLE_FEATURES}


def fit_baseline(
    name: str,
    task: str,
    train: pd.DataFrame,
    y_train: np.ndarray,
    valid: pd.DataFrame,
    y_valid: np.ndarray,
    config: HeadConfig,
    orders_train: np.ndarray | None = None,
) -> TabularModel:
    """Fit baseline ``name`` on the training split and calibrate it on the validation split.

    Args:
        orders_train: order counts of the training split; fits the expected-orders model too.
    """
    classifier, counter = (_rfm_models if name == RFM_LOGREG else _gbdt_models)(config)
    features = BASELINE_FEATURES[name]
    model = TabularModel(name, task, features, classifier, Platt())
    x_train = model._matrix(train)
    with one_thread():
        classifier.fit(x_train, y_train)
        if orders_train is not None:
            counter.fit(x_train, orders_train)
            model.counter = counter
    model.calibrator = Platt.fit(model.raw_logit(valid), y_valid, config.calibration)
    return model
