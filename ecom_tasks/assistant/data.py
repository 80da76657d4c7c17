"""The assistant's support data: customer messages with their intents, and out-of-scope questions.

``support_data`` names a folder (one ``*.csv`` in the Bitext format and one ``*.json`` of
out-of-scope questions in CLINC150's format) or a CSV file (its out-of-scope JSON beside it, if any).
The CSV needs ``instruction`` and ``intent``; the Bitext slot columns (``entity_type``,
``entity_value``, ``start_offset``, ``end_offset``) and ``response`` are used when present.
:func:`split` makes a deterministic train / validation / test split, stratified by intent.
"""

from __future__ import annotations

import io
import json
import logging
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ecom_tasks import catalog, remote
from ecom_tasks.assistant.config import OOS
from ecom_tasks.errors import NotEnoughDataError, SourceError

log = logging.getLogger(__name__)

TEXT, INTENT = "instruction", "intent"
ENTITY_TYPE, ENTITY_VALUE, START, END = "entity_type", "entity_value", "start_offset", "end_offset"
RESPONSE = "response"
SPLIT = "split"
TRAIN, VALID, TEST = "train", "valid", "test"
WORDS = re.compile(r"[a-z0-9]+")
MIN_PER_INTENT = 10  # fewer examples of an intent than this cannot be split and judged
# Licence notices that travel with anything derived from the data (models, templates).
NOTICES = ("LICENSE-CDLA-Sharing-1.0.txt", "LICENSE-CLINC150-CC-BY-3.0.txt", "PROVENANCE.md")


@dataclass(frozen=True)
class SupportData:
    """Messages (``instruction``, ``intent`` (``oos`` for out of scope), slots, responses) and where from."""

    frame: pd.DataFrame
    csv: str
    oos: str | None
    folder: str


def _files(path: str) -> tuple[str, str | None]:
    p = Path(path)
    if p.is_dir():
        csvs, jsons = sorted(p.glob("*.csv")), sorted(p.glob("*.json"))
        if len(csvs) != 1:
            raise SourceError(path, f"support_data: expected one *.csv of messages, found {len(csvs)}")
        return str(csvs[0]), str(jsons[0]) if len(jsons) == 1 else None
    if not p.exists():
        raise SourceError(path, "support_data: no such file or folder")
    jsons = sorted(p.parent.glob("*.json"))
    return str(p), str(jsons[0]) if len(jsons) == 1 else None


def read_oos(path: str) -> pd.DataFrame:
    """Out-of-scope questions: a JSON object whose values are lists of ``[text, label]`` pairs."""
    raw = json.loads(remote.read_uri(path) or b"{}")
    if not isinstance(raw, dict):
        raise SourceError(path, "expected a JSON object whose values are lists of [text, label] pairs")
    texts = [str(pair[0]) for pairs in raw.values() for pair in pairs if pair and str(pair[0]).strip()]
    return pd.DataFrame({TEXT: texts, INTENT: OOS})


def read_messages(path: str) -> pd.DataFrame:
    """The CSV of messages; :class:`SourceError` naming the column when one is missing."""
    data = remote.read_uri(path)
    if data is None:
        raise SourceError(path, "support_data: cannot read the file")
    frame = pd.read_csv(io.BytesIO(data), dtype={ENTITY_VALUE: "string"})
    for column in (TEXT, INTENT):
        if column not in frame.columns:
            raise SourceError(
                path, "missing column (the support CSV needs instruction and intent)", column=column
            )
    frame = frame[frame[TEXT].notna() & frame[INTENT].notna()].copy()
    frame[TEXT] = frame[TEXT].astype(str)
    frame[INTENT] = frame[INTENT].astype(str).str.strip()
    return frame


def from_files(csv: str, oos: str | None) -> SupportData:
    """The messages of ``csv`` and of the out-of-scope JSON ``oos`` together (a text once: the first)."""
    frames = [read_messages(csv)] + ([read_oos(oos)] if oos else [])
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(TEXT, keep="first").reset_index(drop=True)
    return SupportData(frame=frame, csv=csv, oos=oos, folder=str(Path(csv).parent))


def load(path: str) -> SupportData:
    """The support data at ``path`` (folder or CSV), in-scope and out-of-scope messages together."""
    support = from_files(*_files(path))
    frame = support.frame
    counts = check_counts(frame, support.csv)
    log.info("support data: %d messages in %d intents, %d out of scope (%s)", int(counts.sum()),
             len(counts), int((frame[INTENT] == OOS).sum()), path)  # fmt: skip
    return support


def check_counts(frame: pd.DataFrame, csv: str) -> pd.Series:
    """Messages per in-scope intent; :class:`NotEnoughDataError` when too few to split and judge."""
    counts = frame[frame[INTENT] != OOS][INTENT].value_counts()
    if len(counts) < 2 or counts.min() < MIN_PER_INTENT:
        raise NotEnoughDataError(
            f"the assistant needs at least 2 intents with {MIN_PER_INTENT} messages each; {csv} has "
            f"{len(counts)} intent(s), the smallest with {int(counts.min()) if len(counts) else 0}"
        )
    return counts


def read_support_log(folder: str, ds: str) -> pd.DataFrame:
    """The shop's own support log: ``{folder}/ds=D/support_log.{csv,csv.gz,parquet}`` (columns ``instruction``
    and ``intent``) of every landing day D up to ``ds`` (point in time: never a later day), concatenated;
    empty when no day has one."""
    from ecom_tasks.sources import _io
    from ecom_tasks.sources.landing import DAY_PREFIX, LANDING_FORMATS, landing_days

    frames = []
    for day in landing_days(folder):
        if day.isoformat() > ds:
            break
        day_folder = f"{folder.rstrip('/')}/{DAY_PREFIX}{day}"
        for name in remote.glob_names(day_folder, f"{catalog.SUPPORT_LOG}.*"):
            file = f"{day_folder}/{name}"
            # The landing folder's own decoders: its formats, Latin-1 fallback, errors naming the file.
            parquet = _io.file_format(file, LANDING_FORMATS) == _io.PARQUET
            raw = _io.read_parquet(file) if parquet else _io.read_csv(file, dtype="str")
            frames.append(_log_frame(raw, file))
    if not frames:
        return pd.DataFrame({TEXT: pd.Series(dtype=str), INTENT: pd.Series(dtype=str)})
    log.info("support log: %d messages from %d day(s) up to %s (%s)", sum(map(len, frames)), len(frames), ds,
             folder)  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def _log_frame(raw: pd.DataFrame, file: str) -> pd.DataFrame:
    for column in (TEXT, INTENT):
        if column not in raw.columns:
            raise SourceError(
                file, "missing column (the support log needs instruction and intent)", column=column
            )
    frame = raw[raw[TEXT].notna() & raw[INTENT].notna()][[TEXT, INTENT]].astype(str)
    frame[INTENT] = frame[INTENT].str.strip()
    return frame[frame[TEXT].str.strip() != ""].reset_index(drop=True)


def normalized(text: str) -> str:
    """Lower case, words only, "'s" read as "is": two phrasings that differ only so are one message."""
    return " ".join(WORDS.findall(re.sub(r"'s\b", " is", str(text).lower())))


def add_to_training(
    frame: pd.DataFrame, split_of: np.ndarray, extra: pd.DataFrame, held_out: Iterable[str] = ()
) -> tuple[pd.DataFrame, np.ndarray, int]:
    """``extra`` messages (``instruction``, ``intent``) appended as training rows only, so validation and
    test stay the public split's. A message that is (once normalized) in validation, test or ``held_out``
    (the probe) is left out: nothing held out is ever trained on. Returns frame, split and rows added."""
    kept = frame[split_of != TRAIN][TEXT].tolist() + list(held_out)
    barred = {normalized(t) for t in kept} | {normalized(t) for t in frame[TEXT]}
    extra = extra[[TEXT, INTENT]].drop_duplicates(TEXT)
    extra = extra[~extra[TEXT].map(normalized).isin(barred)]
    if extra.empty:
        return frame, split_of, 0
    frame = pd.concat([frame, extra], ignore_index=True)
    return frame, np.concatenate([split_of, np.full(len(extra), TRAIN, dtype=object)]), len(extra)


def split(frame: pd.DataFrame, seed: int, valid_share: float, test_share: float) -> np.ndarray:
    """``train`` / ``valid`` / ``test`` per row, stratified by intent, the same for every run.

    Within each intent the messages are ordered by a seeded hash of their text (not by file order),
    so the split of a message depends only on its intent, its text and the seed.
    """
    out = np.full(len(frame), TRAIN, dtype=object)
    keys = np.array([zlib.crc32(f"{seed}:{t}".encode()) for t in frame[TEXT]], dtype=np.int64)
    for _, rows in frame.groupby(INTENT, sort=True).indices.items():
        order = rows[np.lexsort((frame[TEXT].to_numpy()[rows], keys[rows]))]
        n_test = round(len(order) * test_share)
        n_valid = round(len(order) * valid_share)
        out[order[:n_test]] = TEST
        out[order[n_test : n_test + n_valid]] = VALID
    return out
