"""Units of the head stage without TensorFlow: baselines, calibration, explanations, split, config."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.contract import USER_ID
from ecom_tasks.errors import ConfigError, ContractError
from ecom_tasks.features import columns as fc
from ecom_tasks.heads import explain
from ecom_tasks.heads.baselines import Platt, fit_baseline, sigmoid
from ecom_tasks.heads.config import GBDT, RFM_LOGREG, STABLE_FEATURES, HeadConfig
from ecom_tasks.heads.data import (
    TEST,
    TRAIN,
    VALID,
    HeadDataError,
    active,
    check_labels,
    feature_matrix,
    split_customers,
)
from ecom_tasks.publish.tables import REASON_EFFECT, REASON_FEATURE, REASON_VALUE


def customers(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Profiles where churn follows recency and repeat orders follow frequency."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({c: rng.random(n) for c in STABLE_FEATURES})
    frame[fc.RECENCY_DAYS] = rng.integers(0, 90, n).astype(float)
    frame[fc.FREQUENCY] = rng.integers(1, 12, n).astype(float)
    frame[fc.MONETARY] = frame[fc.FREQUENCY] * 20 + rng.random(n)
    churn = (frame[fc.RECENCY_DAYS] + rng.normal(0, 15, n) > 45).astype(float).to_numpy()
    orders = rng.poisson(frame[fc.FREQUENCY] / 4).astype(float)
    return frame, churn, orders


@pytest.mark.parametrize("name", [RFM_LOGREG, GBDT])
def test_baselines_learn_and_pickle(name: str) -> None:
    frame, churn, orders = customers()
    config = HeadConfig(gbdt_max_iter=30)
    model = fit_baseline(
        name, "repurchase", frame[:80], churn[:80], frame[80:], churn[80:], config, orders[:80]
    )
    p = model.predict(frame[80:])
    assert p.shape == (40,) and ((p > 0) & (p < 1)).all()
    assert np.corrcoef(p, frame[fc.RECENCY_DAYS][80:])[0, 1] > 0.5  # risk grows with recency
    assert model.predict_proba(frame[80:]).shape == (40, 2)
    assert (model.predict_orders(frame[80:]) >= 0).all()
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict(frame[80:]), p)
    assert set(again.feature_names_in_) <= set(frame.columns)  # the publish wrapper selects these


def test_platt_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, 4000)
    y = (rng.random(4000) < sigmoid(2 * z - 1)).astype(float)
    platt = Platt.fit(z, y)
    assert platt.a == pytest.approx(2, abs=0.25) and platt.b == pytest.approx(-1, abs=0.2)
    assert Platt.fit(z, y, "none") == Platt()
    np.testing.assert_allclose(Platt()(np.zeros(2)), [0.5, 0.5])


def test_occlusion_signs_follow_a_linear_model() -> None:
    w = np.array([2.0, -1.0, 0.0])

    def predict(x: np.ndarray) -> np.ndarray:
        return sigmoid(x @ w)

    x = np.array([[1.0, 1.0, 5.0], [-1.0, 2.0, 0.0], [0.0, -1.0, 1.0]])
    effects = explain.occlusion_effects(predict, x, np.zeros(3))
    assert np.sign(effects[0, 0]) == 1 and np.sign(effects[1, 0]) == -1  # above/below the reference
    assert np.sign(effects[0, 1]) == -1 and np.sign(effects[2, 1]) == 1  # negative weight flips it
    assert np.all(effects[:, 2] == 0)  # a feature the model ignores has no effect
    reasons = [json.loads(r) for r in explain.reasons(effects, x, ["a", "b", "c"], top_k=2)]
    assert [e[REASON_FEATURE] for e in reasons[0]] == ["a", "b"]  # strongest first
    assert reasons[0][0][REASON_VALUE] == 1.0 and reasons[0][0][REASON_EFFECT] > 0
    assert all("c" not in {e[REASON_FEATURE] for e in r} for r in reasons)
    summary = explain.summary(effects, ["a", "b", "c"])
    assert list(summary[REASON_FEATURE]) == ["a", "b"]


def test_split_is_seeded_and_order_free() -> None:
    ids = pd.Series([f"u{i}" for i in range(100)])
    config = HeadConfig()
    split = split_customers(ids, config)
    assert (split == TEST).sum() == 20 and (split == VALID).sum() == 20 and (split == TRAIN).sum() == 60
    shuffled = ids.sample(frac=1.0, random_state=3)
    again = split_customers(shuffled, config)
    assert dict(zip(shuffled, again, strict=True)) == dict(zip(ids, split, strict=True))
    assert not np.array_equal(split_customers(ids, HeadConfig(seed=7)), split)


def test_labels_need_both_classes_in_every_split() -> None:
    split = np.array([TRAIN, TRAIN, VALID, VALID, TEST, TEST])
    check_labels(np.array([0, 1, 0, 1, 0, 1.0]), split, "churn", "features/training_examples/ds=D")
    with pytest.raises(
        HeadDataError, match=r"training_examples/ds=D: the test split holds no positive churn"
    ):
        check_labels(np.array([0, 1, 0, 1, 0, 0.0]), split, "churn", "features/training_examples/ds=D")
    with pytest.raises(HeadDataError, match="no negative repurchase"):
        check_labels(np.ones(6), split, "repurchase", "x")


def test_active_customers_and_features() -> None:
    frame = pd.DataFrame(
        {USER_ID: ["a", "b", "c"], fc.HAS_PURCHASE: [1, 1, 0], fc.RECENCY_DAYS: [10.0, 100.0, 5.0]}
    )
    assert list(active(frame, 90)[USER_ID]) == ["a"]
    assert list(active(frame, None)[USER_ID]) == ["a", "b"]
    with pytest.raises(ContractError, match=r"profiles: missing profile column\(s\) \['frequency'\]"):
        feature_matrix(frame, [fc.RECENCY_DAYS, fc.FREQUENCY], where="profiles")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"batch_size": 0}, "HeadConfig.batch_size"),
        ({"test_fraction": 0.9}, "HeadConfig.test_fraction"),
        ({"tuned_learning_rate": 1.0}, "HeadConfig.tuned_learning_rate"),
        ({"calibration": "isotonic"}, "HeadConfig.calibration"),
        ({"hidden_units": ()}, "HeadConfig.hidden_units"),
        ({"active_days": 0}, "HeadConfig.active_days"),
        ({"l2": -1e-3}, "HeadConfig.l2"),
    ],
)
def test_bad_config_names_the_parameter(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        HeadConfig(**overrides)


def test_selection_is_honest() -> None:
    from ecom_tasks.heads.train import select

    def scores(head: float, rfm: float, gbdt: float) -> dict:
        return {m: {"churn_roc_auc": v} for m, v in (("head", head), (RFM_LOGREG, rfm), (GBDT, gbdt))}

    assert select("churn", scores(0.80, 0.75, 0.78))[0] == "head"
    chosen, reason = select("churn", scores(0.78, 0.75, 0.78))  # a tie is not a win
    assert chosen == GBDT and "does not beat the best baseline gbdt" in reason
    assert select("churn", scores(float("nan"), 0.75, 0.70))[0] == RFM_LOGREG
