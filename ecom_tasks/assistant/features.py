"""Hashed word and character n-gram ids of a message: the encoder's input, robust to typos.

A misspelt word ("shiping") still shares most of its character 3- to 5-grams with the right one,
and digits are folded to ``#`` so an order number's shape, not its value, is what the model sees.
Pure Python and NumPy: serving needs no TensorFlow.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

import numpy as np

WORD = re.compile(r"[a-z0-9#]+")
NGRAMS = (3, 4, 5)
MAX_WORD = 20  # longer "words" (URLs, noise) contribute their first characters only


def tokens(text: str) -> list[str]:
    """The message's features: each word and each character n-gram of ``<word>``."""
    words = WORD.findall(re.sub(r"\d", "#", text.lower()))
    out: list[str] = []
    for word in words:
        out.append(f"w:{word}")
        padded = f"<{word[:MAX_WORD]}>"
        for n in NGRAMS:
            out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def ids(text: str, buckets: int, max_ids: int) -> np.ndarray:
    """The message's hashed feature ids in ``1 .. buckets-1`` (0 is padding), at most ``max_ids``."""
    found = [zlib.crc32(t.encode()) % (buckets - 1) + 1 for t in tokens(text)[:max_ids]]
    return np.asarray(found, dtype=np.int32)


def id_matrix(texts: Iterable[str], buckets: int, max_ids: int) -> np.ndarray:
    """One padded row of ids per message: shape ``(n, max_ids)``."""
    rows = [ids(t, buckets, max_ids) for t in texts]
    out = np.zeros((len(rows), max_ids), dtype=np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
