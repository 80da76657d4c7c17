"""Product questions: search the shop's catalogue (titles and categories) with TF-IDF.

"do you sell lunch bags in red?" is matched against every item's title and category with character
n-gram TF-IDF (robust to plurals and typos); items above a similarity floor come back with prices.
The index of a day's items snapshot is built once and kept while that snapshot is unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np

from ecom_tasks import catalog, contract, storage

MIN_SIMILARITY = 0.2
# Words of the question that are not about the product.
FILLER = re.compile(
    r"\b(do|does|you|your|sell|have|has|got|stock|carry|any|some|is|are|there|a|an|the|in|i|im|am|"
    r"looking|for|want|to|buy|need|what|price|of|how|much|cost|costs|please|can|get|which|items?|products?)\b",
    re.I,
)
_indexes: dict[tuple[str, str], tuple[Any, Any, Any]] = {}


def _index(root: str, day: dt.date) -> tuple[Any, Any, Any] | None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    uri = storage.partition_uri(root, catalog.VALIDATED, contract.ITEMS, day)
    manifest = storage.read_manifest(uri)
    if manifest is None:
        return None
    key = (uri, manifest.content_hash)
    if key not in _indexes:
        items = storage.read_partition(uri, columns=[contract.ITEM_ID, contract.TITLE, contract.CATEGORY,
                                                     contract.PRICE])  # fmt: skip
        items = items.drop_duplicates(contract.ITEM_ID).reset_index(drop=True)
        text = (
            items[contract.TITLE].fillna("").astype(str)
            + " "
            + items[contract.CATEGORY].fillna("").astype(str)
        )
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True)
        _indexes.clear()  # one snapshot at a time
        _indexes[key] = (vectorizer, vectorizer.fit_transform(text.str.lower()), items)
    return _indexes[key]


def search(root: str, day: dt.date, question: str, k: int = 5) -> list[dict[str, Any]]:
    """Up to ``k`` items matching ``question`` as of ``day``: id, title, category, price, similarity."""
    found = _index(root, day)
    query = FILLER.sub(" ", question.lower())
    query = re.sub(r"[^\w\s-]", " ", query).strip()
    if found is None or not query:
        return []
    vectorizer, matrix, items = found
    sims = (matrix @ vectorizer.transform([query]).T).toarray().ravel()
    order = [i for i in np.argsort(-sims, kind="stable")[:k] if sims[i] >= MIN_SIMILARITY]
    return [
        {
            "item_id": str(items[contract.ITEM_ID].iloc[i]),
            "title": str(items[contract.TITLE].iloc[i]),
            "category": None
            if items[contract.CATEGORY].isna().iloc[i]
            else str(items[contract.CATEGORY].iloc[i]),
            "price": round(float(items[contract.PRICE].iloc[i]), 2),
            "similarity": round(float(sims[i]), 3),
        }
        for i in order
    ]
