"""The assistant's nightly train function (the registry's contract, :mod:`ecom_tasks.stages`).

Reads the configured support data (none configured: the stage steps aside with the reason), splits
it, pretrains and fine-tunes the intent network against its baselines (:mod:`.train`), and writes
into ``{root}/models/assistant/ds=D/``: the selected model with its threshold, slot gazetteer,
answer templates and the data's licence notices (``assistant/``), ``metrics.json``,
``evaluation.parquet`` (one row per test message: the gate's paired bootstrap), the champion's
figures on the same test messages, and ``history.json`` (the threshold trade-off, timings); and the
output table ``outputs/assistant_intents`` (:mod:`.intents`), published with the model.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from ecom_tasks import catalog, contract, remote, storage
from ecom_tasks.assistant import build, data, intents, metrics
from ecom_tasks.assistant.config import ENV_SUPPORT_DATA, OOS, AssistantConfig
from ecom_tasks.assistant.model import load
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import champion as champions
from ecom_tasks.publish import evaluation
from ecom_tasks.publish.outputs import write_output

log = logging.getLogger(__name__)

PER_MESSAGE = ("intent_accuracy", "oos_recall")  # the mean metrics the gate can resample


def _titles(root: str, ds: str) -> list[str]:
    """The shop's item titles as of ``ds`` (pretraining text); none when the snapshot is missing."""
    uri = storage.partition_uri(root, catalog.VALIDATED, contract.ITEMS, ds)
    if storage.read_manifest(uri) is None:
        return []
    frame = storage.read_partition(uri, columns=[contract.TITLE, contract.CATEGORY])
    text = frame[contract.TITLE].astype(str) + " " + frame[contract.CATEGORY].fillna("").astype(str)
    return sorted(set(text.str.strip()))


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
    titles = _titles(root, ds)
    out = storage.partition_uri(root, catalog.MODELS, catalog.ASSISTANT, ds)
    built = build.fit(support, config, ds, titles, out)
    trained, split, metric_values = built.trained, built.split, built.metrics
    test_rows = built.frame[split == data.TEST]
    chosen = trained.candidates[trained.selected]

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
    remote.write_uri(f"{out}/{catalog.NOTICE_FILE}", build.NOTICE.encode())
    table = intents.catalogue(built.frame, split, chosen.test_predicted, built.spec, trained.selected)
    output = write_output(root, catalog.ASSISTANT_INTENTS, ds, table, source="assistant.intents")
    storage.write_json(metric_values, f"{out}/{catalog.METRICS_FILE}")
    storage.write_json(built.assistant.smoke_input(), f"{out}/{catalog.SMOKE_INPUT_FILE}")
    history = {
        "ds": ds,
        "support_data": config.support_data,
        "messages": {part: int((split == part).sum()) for part in (data.TRAIN, data.VALID, data.TEST)},
        "support_log": config.support_log,
        "support_log_messages": built.logged,
        "support_examples": config.support_examples,
        "support_example_messages": built.examples,
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
    keep = ("intent_accuracy", "intent_macro_f1", "oos_recall")
    return {"ds": ds, "model_uri": out, "artifact_uri": built.artifact, "selected": trained.selected,
            "output_uri": output,
            "seconds": history["seconds"]} | {k: metric_values[k] for k in keep}  # fmt: skip


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
