"""The assistant's nightly train function (the registry's contract, :mod:`ecom_tasks.stages`).

Reads the configured support data (none configured: the stage steps aside with the reason), splits
it, pretrains and fine-tunes the intent network against its baselines (:mod:`.train`), and writes
into ``{root}/models/assistant/ds=D/``: the selected model with its threshold, slot gazetteer,
answer templates and the data's licence notices (``assistant/``), ``metrics.json``,
``evaluation.parquet`` (one row per test message: the gate's paired bootstrap), the champion's
figures on the same test messages, and ``history.json`` (the threshold trade-off, timings).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, remote, storage
from ecom_tasks.assistant import data, metrics, slots, templates, train
from ecom_tasks.assistant.config import ENV_SUPPORT_DATA, OOS, AssistantConfig
from ecom_tasks.assistant.model import Assistant, load, save
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation

log = logging.getLogger(__name__)

PER_MESSAGE = ("intent_accuracy", "oos_recall")  # the mean metrics the gate can resample
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


def _titles(root: str, ds: str) -> list[str]:
    """The shop's item titles as of ``ds`` (pretraining text); none when the snapshot is missing."""
    uri = storage.partition_uri(root, catalog.VALIDATED, contract.ITEMS, ds)
    if storage.read_manifest(uri) is None:
        return []
    frame = storage.read_partition(uri, columns=[contract.TITLE, contract.CATEGORY])
    text = frame[contract.TITLE].astype(str) + " " + frame[contract.CATEGORY].fillna("").astype(str)
    return sorted(set(text.str.strip()))


def _notices(folder: str) -> dict[str, bytes]:
    out = {catalog.NOTICE_FILE: NOTICE.encode()}
    for name in data.NOTICES:
        content = remote.read_uri(str(Path(folder) / name))
        if content is not None:
            out[name] = content
    return out


def _p95_ms(assistant: Assistant, texts: list[str]) -> float:
    """95th percentile of the time to understand one message, one at a time (ms)."""
    times = []
    for text in texts:
        started = time.perf_counter()
        assistant.understand(text)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 95)) if times else float("nan")


def train_assistant(root: str, ds: str, config: AssistantConfig, champion_uri: str | None) -> dict[str, Any]:
    """Train, judge and write the assistant candidate for ``ds`` (see the module docstring).

    Raises:
        NotEnoughDataError: no support data is configured, or it has too few messages per intent.
    """
    started = time.perf_counter()
    if not config.support_data:
        raise NotEnoughDataError(
            "no support data is configured: set the run parameter support_data (or "
            f"${ENV_SUPPORT_DATA}) to a folder with the support CSV (instruction, intent) and an "
            "out-of-scope JSON"
        )
    support = data.load(config.support_data)
    frame = support.frame.reset_index(drop=True)
    split = data.split(frame, config.seed, config.valid_share, config.test_share)
    frame, split, logged = _with_support_log(frame, split, config, ds)
    titles = _titles(root, ds)
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
    out = storage.partition_uri(root, catalog.MODELS, catalog.ASSISTANT, ds)
    artifact = save(f"{out}/{catalog.ASSISTANT_DIR}", spec, chosen.artifact, _notices(support.folder))
    assistant = load(artifact)

    inside = test_rows[test_rows[data.INTENT] != OOS]
    slot_f1 = slots.f1(slots.gold(inside), [slots.extract(t, words) for t in inside[data.TEXT]])
    result: dict[str, Any] = dict(chosen.test)
    result |= {"slot_f1": slot_f1, "p95_ms": _p95_ms(assistant, test_rows[data.TEXT].tolist()[:200])}
    result |= {"threshold": chosen.threshold, "selected": trained.selected, "selection": trained.selection}
    result |= {f"valid_{k}": v for k, v in chosen.valid.items()}
    for name, candidate in trained.candidates.items():
        result |= {f"{name}_{k}": v for k, v in candidate.test.items()}
        result |= {f"{name}_valid_{k}": v for k, v in candidate.valid.items()}
        result[f"{name}_threshold"] = candidate.threshold
        result[f"{name}_train_seconds"] = round(candidate.seconds, 3)
    result["test_messages"] = len(test_rows)
    result["support_log_messages"] = logged
    result |= _probe(trained, config)
    # No rejection at all leaves oos_precision undefined: null in JSON, not NaN.
    metric_values = {
        k: (None if not math.isfinite(v) else round(v, 6)) if isinstance(v, float) else v
        for k, v in result.items()
    }

    truth = test_rows[data.INTENT].to_numpy()
    columns = {"": chosen.test_predicted} | {f"{n}_": c.test_predicted for n, c in trained.candidates.items()}
    champion_predicted: list[np.ndarray] = []

    def score(uri: str) -> dict[str, float]:
        predicted = load(f"{uri}/{catalog.ASSISTANT_DIR}").predict({"text": test_rows[data.TEXT].tolist()})
        champion_predicted.append(predicted)
        return metrics.scores(truth, predicted, OOS)

    champions.record(out, champions.evaluate(champion_uri, score))
    if champion_predicted:
        columns[evaluation.CHAMPION_PREFIX] = champion_predicted[0]
    evaluation.write(out, per_message(truth, columns))
    # The notice also beside the candidate, where the model card names it.
    remote.write_uri(f"{out}/{catalog.NOTICE_FILE}", NOTICE.encode())
    storage.write_json(metric_values, f"{out}/{catalog.METRICS_FILE}")
    storage.write_json(assistant.smoke_input(), f"{out}/{catalog.SMOKE_INPUT_FILE}")
    history = {
        "ds": ds,
        "support_data": config.support_data,
        "messages": {part: int((split == part).sum()) for part in (data.TRAIN, data.VALID, data.TEST)},
        "support_log": config.support_log,
        "support_log_messages": logged,
        "item_titles": len(titles),
        "pretrain_losses": trained.pretrain_losses,
        "tradeoff": {name: c.tradeoff for name, c in trained.candidates.items()},
        "selection": trained.selection,
        "seconds": round(time.perf_counter() - started, 3),
    }
    storage.write_json(history, f"{out}/{catalog.HISTORY_FILE}")
    log.info(
        "assistant for %s: %s",
        ds,
        {
            k: v
            for k, v in metric_values.items()
            if not k.startswith(("tfidf_valid", "nopretrain_valid", "pretrained_valid"))
        },
    )
    return {"ds": ds, "model_uri": out, "artifact_uri": artifact, "selected": trained.selected,
            "intent_accuracy": result["intent_accuracy"], "intent_macro_f1": result["intent_macro_f1"],
            "oos_recall": result["oos_recall"], "seconds": history["seconds"]}  # fmt: skip


def _with_support_log(
    frame: pd.DataFrame, split: np.ndarray, config: AssistantConfig, ds: str
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """The shop's own support log (days up to ``ds``) added to the training messages only, so the
    validation and test figures stay those of the public split; messages also in them are left out."""
    if not config.support_log:
        return frame, split, 0
    extra = data.read_support_log(config.support_log, ds)
    held_out = set(frame[split != data.TRAIN][data.TEXT])
    extra = extra[~extra[data.TEXT].isin(held_out)].drop_duplicates(data.TEXT)
    if extra.empty:
        return frame, split, 0
    frame = pd.concat([frame, extra], ignore_index=True)
    return frame, np.concatenate([split, np.full(len(extra), data.TRAIN, dtype=object)]), len(extra)


def _probe(trained: train.Trained, config: AssistantConfig) -> dict[str, float]:
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


def per_message(truth: np.ndarray, predicted: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per test message: 1/0 per model for ``intent_accuracy`` (in-scope messages, else NaN)
    and ``oos_recall`` (out-of-scope messages, else NaN)."""
    inside = truth != OOS
    frame = {}
    for prefix, values in predicted.items():
        right = (np.asarray(values, dtype=object) == truth).astype(np.float64)
        frame[f"{prefix}intent_accuracy"] = np.where(inside, right, np.nan)
        frame[f"{prefix}oos_recall"] = np.where(
            inside, np.nan, (np.asarray(values) == OOS).astype(np.float64)
        )
    return pd.DataFrame(frame)
