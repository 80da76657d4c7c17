"""The head on a real pretrained backbone: the freeze/unfreeze schedule, export and reload."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ecom_tasks import storage
from ecom_tasks.heads import data
from ecom_tasks.heads.baselines import Platt
from ecom_tasks.heads.config import SAVED_MODEL_DIR, STABLE_FEATURES
from ecom_tasks.heads.export import export_head, score_artifact
from ecom_tasks.heads.model import (
    LOG_RATE,
    LOGIT,
    MAX_LOG_RATE,
    MEMBER_LOGITS,
    CustomerHead,
    expected_orders,
    profile_scaling,
)
from ecom_tasks.heads.network import Labels, fit_head, predict_head, take
from ecom_tasks.heads.train import tower_inputs
from ecom_tasks.publish.tables import EXPECTED_ORDERS
from ecom_tasks.retrieval.backbone import load_backbone
from ecom_tasks.retrieval.config import SERVING_HISTORY
from tests.heads.conftest import DS, head_config


@pytest.fixture(scope="module")
def prepared(shop_root: str):
    config = head_config(frozen_epochs=1, tuned_epochs=1, patience=5)
    day = storage.as_date(DS)
    inputs = data.load_inputs(shop_root, day, config)
    backbone = load_backbone(data.backbone_uri(shop_root, day))
    x = tower_inputs(backbone, inputs.interactions, inputs.examples, inputs.cutoff_end, config)
    return config, inputs, backbone, x


def _tower_weights(head: CustomerHead) -> list[np.ndarray]:
    return [v.numpy().copy() for v in head.tower.trainable_variables]


def test_frozen_phase_leaves_the_towers_alone_and_tuning_moves_them(prepared) -> None:
    config, inputs, backbone, x = prepared
    y = inputs.examples["label_repurchase"].to_numpy(float)
    orders = inputs.examples["label_orders"].to_numpy(float)
    train, valid = np.flatnonzero(inputs.split == data.TRAIN), np.flatnonzero(inputs.split == data.VALID)
    mean, std = profile_scaling(x["profile"][train])
    head = CustomerHead(backbone.query_tower, mean, std, config, counts=True)
    predict_head(head, take(x, train[:2]))
    before = _tower_weights(head)
    mlp_before = [v.numpy().copy() for v in head.members[0].logit_layer.trainable_variables]

    def fit(cfg):
        return fit_head(
            head,
            take(x, train),
            Labels(y[train], orders[train]),
            take(x, valid),
            Labels(y[valid], orders[valid]),
            cfg,
        )

    report = fit(head_config(frozen_epochs=2, tuned_epochs=0, patience=5))
    assert [p["phase"] for p in report.phases] == ["frozen"]
    assert all(np.array_equal(a, b) for a, b in zip(before, _tower_weights(head), strict=True))
    assert not np.allclose(mlp_before[0], head.members[0].logit_layer.kernel.numpy())  # the MLP did learn
    frozen_vars = report.phases[0]["trainable_variables"]
    report = fit(head_config(frozen_epochs=0, tuned_epochs=2, patience=5, tuned_learning_rate=1e-3))
    assert report.phases[0]["phase"] == "tuned" and report.phases[0]["trainable_variables"] > frozen_vars
    moved = [not np.array_equal(a, b) for a, b in zip(before, _tower_weights(head), strict=True)]
    assert any(moved)
    assert head.tower.trainable  # left unfrozen for whoever uses the tower next


def export_task_head(task: str, head: CustomerHead, platt: Platt, backbone, folder: str) -> str:
    """Export ``head`` as the ``task`` model into ``folder`` (returned)."""
    spec = {
        "task": task,
        "tower_feature_names": list(backbone.feature_columns),
        "profile_features": list(STABLE_FEATURES),
        "use_user_id": False,
    }
    export_head(head, platt, task, folder, spec)
    return folder


def test_exported_head_reloads_and_scores_like_the_live_one(prepared, tmp_path) -> None:
    config, inputs, backbone, x = prepared
    mean, std = profile_scaling(x["profile"])
    head = CustomerHead(backbone.query_tower, mean, std, config, counts=True)
    live = predict_head(head, x)
    platt = Platt(1.5, -0.2)
    folder = export_task_head("repurchase", head, platt, backbone, str(tmp_path / "champion"))
    p, orders = score_artifact(folder, "repurchase", inputs.examples, x[SERVING_HISTORY])
    np.testing.assert_allclose(p, platt(live[LOGIT]), atol=1e-5)
    np.testing.assert_allclose(orders, np.exp(live[LOG_RATE]), rtol=1e-4)
    # What the publish stage's serving check does with flavor "tensorflow" and smoke_input.json.
    from ecom_tasks.publish.config import ModelSpec
    from ecom_tasks.publish.pyfunc_model import ArtifactModel
    from ecom_tasks.publish.registry import read_smoke_input, resolve_flavor

    artifact = Path(folder) / SAVED_MODEL_DIR
    flavor = resolve_flavor(ModelSpec("repurchase"), artifact)
    wrapper = ArtifactModel()
    wrapper.load_context(SimpleNamespace(model_config={"flavor": flavor}, artifacts={"model": str(artifact)}))
    answer = wrapper.predict(None, read_smoke_input(folder))
    assert flavor == "tensorflow" and answer[EXPECTED_ORDERS].shape == (1,)


def test_expected_orders_stay_finite_for_a_runaway_log_rate(prepared, tmp_path) -> None:
    """A customer far outside the training range can drive the log rate past what exp() holds;
    the live and the exported head both cap it at MAX_LOG_RATE instead of returning inf."""
    config, inputs, backbone, x = prepared
    mean, std = profile_scaling(x["profile"])
    head = CustomerHead(backbone.query_tower, mean, std, config, counts=True)
    predict_head(head, take(x, np.arange(2)))
    for member in head.members:
        member.rate_layer.bias.assign([1000.0])  # exp(1000) overflows even in float64
    live = predict_head(head, x)
    assert np.all(live[LOG_RATE] > 900)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        orders = expected_orders(live[LOG_RATE])
    np.testing.assert_allclose(orders, np.exp(MAX_LOG_RATE))
    folder = export_task_head("repurchase", head, Platt(), backbone, str(tmp_path / "runaway"))
    _, served = score_artifact(folder, "repurchase", inputs.examples, x[SERVING_HISTORY])
    np.testing.assert_allclose(served, orders, rtol=1e-5)


def test_wide_members_train_apart_and_export_their_mean(prepared, tmp_path) -> None:
    """Members start and end apart (own initialisation, own loss), the head serves the mean of
    their logits (the wide path included), and the L2 penalty counts every head kernel."""
    _, inputs, backbone, x = prepared
    config = head_config(members=3, wide=True, l2=1e-3, frozen_epochs=2, tuned_epochs=0, patience=5)
    y = inputs.examples["label_churn"].to_numpy(float)
    train, valid = np.flatnonzero(inputs.split == data.TRAIN), np.flatnonzero(inputs.split == data.VALID)
    mean, std = profile_scaling(x["profile"][train])
    head = CustomerHead(backbone.query_tower, mean, std, config, counts=False)
    fit_head(head, take(x, train), Labels(y[train]), take(x, valid), Labels(y[valid]), config)
    assert np.abs(head.wide_logit.kernel.numpy()).sum() > 0  # the wide path learned (starts at 0)
    kernels = [m.logit_layer.kernel.numpy() for m in head.members]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])
    expected = sum(float(np.square(k).sum()) for k in [head.wide_logit.kernel.numpy(), *kernels])
    expected += sum(float(np.square(m.hidden[0].kernel.numpy()).sum()) for m in head.members)
    assert float(head.penalty()) == pytest.approx(1e-3 * expected, rel=1e-4)
    live = predict_head(head, x)
    assert live[MEMBER_LOGITS].shape == (len(y), 3)
    np.testing.assert_allclose(live[LOGIT], live[MEMBER_LOGITS].mean(axis=1), atol=1e-5)
    platt = Platt(1.2, 0.1)
    folder = export_task_head("churn", head, platt, backbone, str(tmp_path / "members"))
    p, orders = score_artifact(folder, "churn", inputs.examples, x[SERVING_HISTORY])
    np.testing.assert_allclose(p, platt(live[LOGIT]), atol=1e-5)
    assert orders is None
