"""The assistant's baseline: TF-IDF over words and character n-grams, and logistic regression."""

from __future__ import annotations

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union


def tfidf_logreg(texts: list[str], labels: list[str], seed: int):  # -> sklearn Pipeline
    """Fit TF-IDF (words, and character 2-5-grams within words) + logistic regression."""
    features = make_union(
        TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
        TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2),
    )
    model = make_pipeline(features, LogisticRegression(C=20.0, max_iter=2000, random_state=seed))
    return model.fit(texts, labels)
