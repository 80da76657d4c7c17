"""The assistant's baseline: TF-IDF over words and character n-grams, and logistic regression.

Out of scope is decided apart from the intent (:class:`ScopedIntents`): a scope detector over the
message's content words (English stop words removed) gives P(out of scope), and the intent model,
trained on the in-scope messages only, shares the rest. With out of scope as one more intent class,
the question words of the out-of-scope questions ("where is ...", "how many ...") outweighed the one
shop word of a short message: "where is my order" was rejected (see bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union

SCOPE_C = 10.0  # the scope detector's inverse regularisation


class ScopedIntents:
    """Intent probabilities ``(1 - P(oos)) * P(intent | in scope)``, and ``P(oos)`` for ``oos``."""

    def __init__(self, intents, scope, oos: str) -> None:
        self.intents, self.scope, self.oos = intents, scope, oos
        self.classes_ = np.asarray([*intents.classes_, oos], dtype=object)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """One row per message, columns in :attr:`classes_` order."""
        away = self.scope.predict_proba(texts)[:, 1]
        return np.column_stack([self.intents.predict_proba(texts) * (1.0 - away)[:, None], away])


def _intent_model(texts: list[str], labels: list[str], seed: int):
    features = make_union(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
        TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2),
    )
    model = make_pipeline(features, LogisticRegression(C=20.0, max_iter=2000, random_state=seed))
    return model.fit(texts, labels)


def tfidf_logreg(texts: list[str], labels: list[str], seed: int, oos: str = "oos"):
    """Fit TF-IDF (words, and character 2-5-grams within words) + logistic regression on the in-scope
    messages and, when there are out-of-scope ones, the scope detector (:class:`ScopedIntents`)."""
    away = np.asarray(labels, dtype=object) == oos
    if not away.any():
        return _intent_model(texts, labels, seed)
    inside = [t for t, a in zip(texts, away, strict=True) if not a]
    intents = _intent_model(inside, [lb for lb, a in zip(labels, away, strict=True) if not a], seed)
    scope = make_pipeline(
        TfidfVectorizer(sublinear_tf=True, stop_words=sorted(ENGLISH_STOP_WORDS)),
        LogisticRegression(C=SCOPE_C, max_iter=2000, class_weight="balanced", random_state=seed),
    )
    return ScopedIntents(intents, scope.fit(texts, away.astype(int)), oos)
