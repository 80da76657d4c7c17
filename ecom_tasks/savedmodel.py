"""Writing a TensorFlow SavedModel the way every training stage needs it: fast and atomically.

- Keras layer traces are skipped: consumers load the signatures only, and tracing every layer's
  ``call`` for Keras metadata made exports ~3x slower and loads ~2x slower here. The switch is a
  tf-keras internal (the one behind ``Model.save(save_traces=False)``); without it the export is
  just slower and complete.
- The model is written to a temporary folder beside its destination and swapped in, so a crash or a
  rerun never leaves a half-written SavedModel where a reader (or the registry) would load it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Mapping
from typing import Any


def without_keras_traces() -> contextlib.AbstractContextManager:
    """A context in which ``tf.saved_model.save`` skips tf-keras's per-layer traces."""
    try:
        from tf_keras.src.saving.legacy.saved_model import utils
    except ImportError:  # pragma: no cover - a tf-keras without it saves the slow way
        return contextlib.nullcontext()
    return utils.keras_option_scope(save_traces=False, in_tf_saved_model_scope=True)


def replace_dir(tmp: str, final: str) -> None:
    """Swap the folder ``tmp`` in at ``final`` (same file system), removing what was there."""
    old = f"{final}.old-{uuid.uuid4().hex}"
    if os.path.exists(final):
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def save(module: Any, final: str, signatures: Mapping[str, Any]) -> str:
    """Save ``module`` with ``signatures`` as a SavedModel at the folder ``final``; return it.

    ``final`` may be on an object store: TensorFlow then writes a local folder that is uploaded.
    """
    from ecom_tasks import remote

    with remote.staged_path(final) as local:
        _save_local(module, local, signatures)
    return final


def _save_local(module: Any, final: str, signatures: Mapping[str, Any]) -> str:
    import tensorflow as tf

    parent, name = os.path.split(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    try:
        with without_keras_traces():
            tf.saved_model.save(module, tmp, signatures=dict(signatures))
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
