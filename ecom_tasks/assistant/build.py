"""Fitting one assistant and writing it: shared by the nightly stage and ``ecom assistant train``.

:func:`fit` splits the support data, adds the built-in examples and the shop's support log to the
training messages, trains the intent models (:mod:`.train`), saves the selected one with its
threshold, slot gazetteer, answer templates and the data's licence notices into ``{folder}/assistant/``,
and returns its figures on the test split (the keys of ``metrics.json``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote
from ecom_tasks.assistant import data, metrics, slots, templates, train
from ecom_tasks.assistant.config import OOS, AssistantConfig
from ecom_tasks.assistant.model import Assistant, load, save

NOTICE = """# Notice

This assistant was trained on, and its answer templates are derived from, two public data sets:

- Bitext, "Customer Service Tagged Training Dataset for LLM-based Chatbots" (a subset), under the
  Community Data License Agreement - Sharing, Version 1.0 (LICENSE-CDLA-Sharing-1.0.txt). The answer
  templates in assistant.json are derived from its model answers and stay under that licence.
- CLINC150 out-of-scope questions (Larson et al., "An Evaluation Dataset for Intent Classification and
  Out-of-Scope Prediction", EMNLP 2019), under Creative Commons Attribution 3.0
  (LICENSE-CLINC150-CC-BY-3.0.txt).

See PROVENANCE.md for the sources and the changes made to them.
"""


@dataclass
class Built:
    """A fitted and saved assistant: the models, the split it was judged on, and its figures."""

    trained: train.Trained
    frame: pd.DataFrame
    split: np.ndarray
    assistant: Assistant
    artifact: str
    spec: dict[str, Any]  # what assistant.json holds
    metrics: dict[str, Any]  # JSON-safe: NaN is None
    examples: int  # built-in example messages added to training
    logged: int  # support-log messages added to training


def notices(folder: str) -> dict[str, bytes]:
    """The notice and the licence texts found beside the support data (they travel with the model)."""
    out = {catalog.NOTICE_FILE: NOTICE.encode()}
    for name in data.NOTICES:
        content = remote.read_uri(str(Path(folder) / name))
        if content is not None:
            out[name] = content
    return out


def p95_ms(assistant: Assistant, texts: list[str]) -> float:
    """95th percentile of the time to understand one message, one at a time (ms)."""
    times = []
    for text in texts:
        started = time.perf_counter()
        assistant.understand(text)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 95)) if times else float("nan")


def with_support_log(
    frame: pd.DataFrame, split: np.ndarray, config: AssistantConfig, ds: str
) -> tuple[pd.DataFrame, np.ndarray, int, int]:
    """The built-in support examples and the shop's own support log (days up to ``ds``) added to the
    training messages only (:func:`data.add_to_training`: never a validation, test or probe message).
    Returns frame, split, and the numbers of example and log messages added."""
    probe = probe_texts(config)
    examples = data.read_messages(config.support_examples) if config.support_examples else None
    if examples is not None:  # only the intents this shop's support data has (the log may add its own)
        examples = examples[examples[data.INTENT].isin(set(frame[data.INTENT]))]
    added = []
    logged = data.read_support_log(config.support_log, ds) if config.support_log and ds else None
    for extra in (examples, logged):
        count = 0
        if extra is not None:
            frame, split, count = data.add_to_training(frame, split, extra, probe)
        added.append(count)
    return frame, split, added[0], added[1]


def probe_texts(config: AssistantConfig) -> list[str]:
    """The probe's messages (held out of training); none when no probe file is configured or there."""
    if not config.probe or remote.read_uri(config.probe) is None:
        return []
    return data.read_messages(config.probe)[data.TEXT].tolist()


def probe_figures(trained: train.Trained, config: AssistantConfig) -> dict[str, float]:
    """``probe_accuracy`` of the selected model and of each candidate on the probe file: common
    customer phrasings held out from training, threshold and model choice (measured, never tuned on)."""
    if not config.probe or remote.read_uri(config.probe) is None:
        return {}
    probe = data.read_messages(config.probe)
    texts, truth = probe[data.TEXT].tolist(), probe[data.INTENT].to_numpy()
    out = {
        f"{name}_probe_accuracy": metrics.probe_accuracy(
            c.predict(texts), trained.labels, c.threshold, truth, OOS
        )
        for name, c in trained.candidates.items()
    }
    return {"probe_accuracy": out[f"{trained.selected}_probe_accuracy"], "probe_messages": len(probe)} | out


def json_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Floats rounded to 6 places, NaN as None (no rejection at all leaves oos_precision undefined)."""
    return {
        k: (None if not math.isfinite(v) else round(v, 6)) if isinstance(v, float) else v
        for k, v in values.items()
    }


def slot_f1(frame: pd.DataFrame, gazetteer: dict[str, str]) -> float:
    """Exact-match slot F1 on the in-scope messages of ``frame`` (its Bitext slot columns); NaN when it
    has no slot columns (nothing to judge: an F1 of "no slots, none found" would read as perfect)."""
    if data.ENTITY_TYPE not in frame.columns:
        return float("nan")
    inside = frame[frame[data.INTENT] != OOS]
    return slots.f1(slots.gold(inside), [slots.extract(t, gazetteer) for t in inside[data.TEXT]])


def fit(
    support: data.SupportData, config: AssistantConfig, ds: str | None, titles: list[str], folder: str
) -> Built:
    """Train on ``support`` (see the module docstring) and save the selected model under ``folder``."""
    frame = support.frame.reset_index(drop=True)
    split = data.split(frame, config.seed, config.valid_share, config.test_share)
    # Without a day (``ecom assistant train``) there is no support log to read up to it.
    frame, split, examples, logged = with_support_log(frame, split, config, ds or "")
    trained = train.train_models(frame, split, titles, config)
    train_rows, test_rows = frame[split == data.TRAIN], frame[split == data.TEST]
    words = slots.gazetteer(train_rows)
    chosen = trained.candidates[trained.selected]
    spec = {
        "selected": trained.selected,
        "labels": trained.labels,
        "threshold": chosen.threshold,
        "buckets": config.buckets,
        "max_ids": config.max_ids,
        "gazetteer": words,
        "templates": templates.derive(train_rows),
        "ds": ds,
    }
    artifact = save(f"{folder}/{catalog.ASSISTANT_DIR}", spec, chosen.artifact, notices(support.folder))
    assistant = load(artifact)
    result: dict[str, Any] = dict(chosen.test)
    result |= {"slot_f1": slot_f1(test_rows, words)}
    result |= {"p95_ms": p95_ms(assistant, test_rows[data.TEXT].tolist()[:200])}
    result |= {"threshold": chosen.threshold, "selected": trained.selected, "selection": trained.selection}
    result |= {f"valid_{k}": v for k, v in chosen.valid.items()}
    for name, candidate in trained.candidates.items():
        result |= {f"{name}_{k}": v for k, v in candidate.test.items()}
        result |= {f"{name}_valid_{k}": v for k, v in candidate.valid.items()}
        result[f"{name}_threshold"] = candidate.threshold
        result[f"{name}_train_seconds"] = round(candidate.seconds, 3)
    result["test_messages"] = len(test_rows)
    result["support_log_messages"] = logged
    result["support_example_messages"] = examples
    result |= probe_figures(trained, config)
    return Built(trained, frame, split, assistant, artifact, spec, json_safe(result), examples, logged)
