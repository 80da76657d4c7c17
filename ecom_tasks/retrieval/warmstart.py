"""Saving trained weights and warm-starting a new model from them.

Weights are stored by variable name (layers carry explicit names) in ``weights.npz`` beside the
vocabularies they were trained with. A warm start copies every weight whose name and shape match
and, for embedding tables keyed by a vocabulary (items, users, categories, title tokens), copies
row by row where the old and new vocabularies share a key; keys new tonight keep their fresh
initial rows. Optimizer state is not carried over.
"""

from __future__ import annotations

import io
import logging

import fsspec
import numpy as np
import tensorflow as tf

from ecom_tasks.retrieval.data import Vocabularies
from ecom_tasks.retrieval.towers import VOCAB_TABLES

log = logging.getLogger(__name__)


def weight_arrays(model: tf.keras.Model) -> dict[str, np.ndarray]:
    """``{variable name: value}`` of the model's trainable weights (names must be unique)."""
    out: dict[str, np.ndarray] = {}
    for w in model.trainable_weights:
        if w.name in out:
            raise ValueError(f"two trainable weights share the name {w.name!r}; name the layers uniquely")
        out[w.name] = w.numpy()
    return out


def save_weights(model: tf.keras.Model, uri: str) -> str:
    """Write the trainable weights to ``uri`` (an ``.npz``) and return it."""
    buf = io.BytesIO()
    np.savez(buf, **{name.replace("/", "|"): value for name, value in weight_arrays(model).items()})
    with fsspec.open(uri, "wb") as fh:
        fh.write(buf.getvalue())
    return uri


def load_weights(uri: str) -> dict[str, np.ndarray]:
    """Read weights written by :func:`save_weights`."""
    with fsspec.open(uri, "rb") as fh, np.load(io.BytesIO(fh.read())) as npz:
        return {name.replace("|", "/"): npz[name] for name in npz.files}


def _layer_of(name: str) -> str:
    return name.split("/", 1)[0]


def warm_start(
    model: tf.keras.Model,
    old_weights: dict[str, np.ndarray],
    old_vocabs: Vocabularies,
    new_vocabs: Vocabularies,
) -> dict[str, int]:
    """Copy ``old_weights`` into ``model`` where names, shapes or vocabulary keys match.

    Returns:
        Counts: ``copied_weights`` (whole tensors), ``mapped_tables``, ``reused_rows`` (vocabulary
        rows copied), ``fresh_rows`` (new keys), ``skipped_weights`` (no match).
    """
    stats = dict.fromkeys(
        ("copied_weights", "mapped_tables", "reused_rows", "fresh_rows", "skipped_weights"), 0
    )
    for var in model.trainable_weights:
        old = old_weights.get(var.name)
        role = VOCAB_TABLES.get(_layer_of(var.name))
        if old is None:
            stats["skipped_weights"] += 1
            continue
        if role is not None and old.shape[1:] == tuple(var.shape[1:]):
            old_rows = {key: i for i, key in enumerate(getattr(old_vocabs, role))}
            new_keys = getattr(new_vocabs, role)
            pairs = [
                (i, old_rows[key])
                for i, key in enumerate(new_keys)
                if key in old_rows and old_rows[key] < len(old)
            ]
            value = var.numpy()
            if pairs:
                new_idx, old_idx = (np.array(p) for p in zip(*pairs, strict=True))
                value[new_idx] = old[old_idx]
                var.assign(value)
            stats["mapped_tables"] += 1
            stats["reused_rows"] += len(pairs)
            stats["fresh_rows"] += len(new_keys) - len(pairs)
        elif old.shape == tuple(var.shape):
            var.assign(old)
            stats["copied_weights"] += 1
        else:
            stats["skipped_weights"] += 1
            log.warning(
                "warm start: %s has shape %s, the saved one %s; left fresh", var.name, var.shape, old.shape
            )
    log.info("warm start: %s", stats)
    return stats
