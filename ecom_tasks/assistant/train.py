"""Training the assistant's intent models on one split: the pretrained network and its baselines.

Three models see the same train split: the network pretrained on the shop's own text then
fine-tuned (``pretrained``), the same network without pretraining (``nopretrain``) and TF-IDF +
logistic regression (``tfidf``). Each gets its own rejection threshold on the validation split;
the one with the best validation macro F1 (then accuracy) is selected and published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks.assistant import baselines, features, metrics, network
from ecom_tasks.assistant.config import OOS, AssistantConfig
from ecom_tasks.assistant.data import INTENT, TEST, TEXT, TRAIN, VALID

log = logging.getLogger(__name__)

PRETRAINED, NOPRETRAIN, TFIDF = "pretrained", "nopretrain", "tfidf"
MODELS = (PRETRAINED, NOPRETRAIN, TFIDF)
LABELS = {PRETRAINED: "pretrained network", NOPRETRAIN: "network without pretraining", TFIDF: "TF-IDF + LR"}


@dataclass
class Candidate:
    """One trained model: its probabilities on validation and test, threshold and figures."""

    name: str
    predict: Callable[[list[str]], np.ndarray]
    artifact: Any  # network weights (dict of arrays) or the fitted scikit-learn pipeline
    threshold: float = 0.0
    tradeoff: list[dict[str, float]] = field(default_factory=list)
    valid: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    test_predicted: np.ndarray | None = None
    seconds: float = 0.0


@dataclass
class Trained:
    labels: list[str]
    candidates: dict[str, Candidate]
    selected: str
    selection: str
    pretrain_losses: list[float]


def _network_predict(weights: dict[str, np.ndarray], config: AssistantConfig) -> Callable:
    return lambda texts: network.forward(weights, features.id_matrix(texts, config.buckets, config.max_ids))


def _fit_network(pretrain_texts: list[str] | None, x, valid, n: int, config: AssistantConfig) -> tuple:
    import tf_keras as keras

    keras.utils.set_random_seed(config.seed)
    encoder = network.build_encoder(config)
    losses: list[float] = []
    if pretrain_texts is not None:
        losses = network.pretrain(
            encoder, features.id_matrix(pretrain_texts, config.buckets, config.max_ids), config
        )
    return network.fine_tune(encoder, x, valid, n, config), losses


def _judge(
    candidate: Candidate, labels: list[str], parts: dict[str, pd.DataFrame], config: AssistantConfig
) -> None:
    valid_probs = candidate.predict(parts[VALID][TEXT].tolist())
    truth_valid = parts[VALID][INTENT].to_numpy()
    candidate.tradeoff = metrics.tradeoff(valid_probs, labels, truth_valid, OOS)
    candidate.threshold = metrics.choose_threshold(candidate.tradeoff, config.max_in_scope_rejected)
    predicted, _ = metrics.decide(valid_probs, labels, candidate.threshold, OOS)
    candidate.valid = metrics.scores(truth_valid, predicted, OOS)
    test_probs = candidate.predict(parts[TEST][TEXT].tolist())
    candidate.test_predicted, _ = metrics.decide(test_probs, labels, candidate.threshold, OOS)
    candidate.test = metrics.scores(parts[TEST][INTENT].to_numpy(), candidate.test_predicted, OOS)


def train_models(
    frame: pd.DataFrame, split: np.ndarray, titles: list[str], config: AssistantConfig
) -> Trained:
    """Train the three models on ``split``'s train rows; judge and select on its validation rows.

    Args:
        frame: messages with ``instruction`` and ``intent`` (``oos`` for out of scope).
        titles: the shop's item titles (pretraining text besides the train messages).
    """
    parts = {name: frame[split == name] for name in (TRAIN, VALID, TEST)}
    labels = sorted(frame[INTENT].unique())
    index = {label: i for i, label in enumerate(labels)}

    def xy(part: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        ids = features.id_matrix(part[TEXT].tolist(), config.buckets, config.max_ids)
        return ids, part[INTENT].map(index).to_numpy(np.int32)

    x, valid = xy(parts[TRAIN]), xy(parts[VALID])
    candidates: dict[str, Candidate] = {}
    started = time.perf_counter()
    # Self-supervised text: the train messages (never validation or test) and the shop's titles.
    pretrain_texts = parts[TRAIN][TEXT].tolist() + list(titles)[: config.max_titles]
    weights, losses = _fit_network(pretrain_texts, x, valid, len(labels), config)
    candidates[PRETRAINED] = Candidate(PRETRAINED, _network_predict(weights, config), weights)
    candidates[PRETRAINED].seconds = time.perf_counter() - started
    started = time.perf_counter()
    weights, _ = _fit_network(None, x, valid, len(labels), config)
    candidates[NOPRETRAIN] = Candidate(NOPRETRAIN, _network_predict(weights, config), weights)
    candidates[NOPRETRAIN].seconds = time.perf_counter() - started
    started = time.perf_counter()
    pipeline = baselines.tfidf_logreg(parts[TRAIN][TEXT].tolist(), parts[TRAIN][INTENT].tolist(), config.seed)
    order = [list(pipeline.classes_).index(label) for label in labels]
    candidates[TFIDF] = Candidate(TFIDF, lambda texts: pipeline.predict_proba(texts)[:, order], pipeline)
    candidates[TFIDF].seconds = time.perf_counter() - started
    for candidate in candidates.values():
        _judge(candidate, labels, parts, config)
    selected = max(MODELS, key=lambda m: (round(candidates[m].valid["intent_macro_f1"], 6),
                                          round(candidates[m].valid["intent_accuracy"], 6)))  # fmt: skip
    selection = f"{LABELS[selected]} selected: validation macro F1 " + ", ".join(
        f"{LABELS[m]} {candidates[m].valid['intent_macro_f1']:.4f}" for m in MODELS
    )
    log.info("assistant: %s", selection)
    return Trained(labels, candidates, selected, selection, losses)
