"""Configuration of the assistant stage: where its support data is, and how its models train.

Defaults live here in one place. The support data is a run parameter (``support_data``) or, when the
run does not set it, the environment (``$ECOM_SUPPORT_DATA``); without either the stage steps aside.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecom_tasks import catalog
from ecom_tasks.errors import ConfigError

ENV_SUPPORT_DATA = "ECOM_SUPPORT_DATA"
ENV_SHOP_CONFIG = "ECOM_ASSISTANT_SHOP"
ENV_PROBE = "ECOM_ASSISTANT_PROBE"
# Common customer phrasings written for the project, with their intents: measured every night
# (probe_accuracy), never trained on and never used to choose a threshold or a model.
DEFAULT_PROBE = str(Path(__file__).resolve().parents[2] / "tests" / "assistant" / "probe.csv")
# Everyday phrasings written for the project (not the probe's, checked by tests/assistant): the built-in
# support log every shop starts from, added to the training messages like the shop's own log. Public
# data (Bitext) has no short "where is my order"; without these the network sent it out of scope.
DEFAULT_EXAMPLES = str(Path(__file__).resolve().parents[2] / "config" / "assistant-support-examples.csv")
# The shop's facts the answers quote (name, delivery times, refund policy, contact hours).
DEFAULT_SHOP_CONFIG = str(Path(__file__).resolve().parents[2] / "config" / "assistant-shop.yaml")
OOS = "oos"  # the label of an out-of-scope message (CLINC150's)
NAME = catalog.ASSISTANT


@dataclass(frozen=True)
class AssistantConfig:
    """How the assistant is trained. ``support_data`` None: the stage is skipped with the reason."""

    support_data: str | None = None
    # Names, sizes and modification times of the support files: part of the training fingerprint, so
    # changed support data is trained on again (the data root's inputs do not cover it).
    support_stamp: str = ""
    # The shop's own support log: a landing folder's ds=D/support_log.* files (instruction, intent) of the
    # days up to the run's day, added to the training messages. Set when the run's source is a landing.
    support_log: str | None = None
    support_examples: str | None = DEFAULT_EXAMPLES  # built-in support log (instruction, intent); None: none
    probe: str | None = DEFAULT_PROBE  # probe CSV (instruction, intent); None or absent: no probe figures
    seed: int = 42
    valid_share: float = 0.2
    test_share: float = 0.2
    buckets: int = 2**15  # hashed word and character n-gram ids (0 is padding)
    max_ids: int = 200  # n-gram ids kept per message
    embedding_dim: int = 64
    hidden_dim: int = 128
    pretrain_epochs: int = 8
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    temperature: float = 0.1  # contrastive pretraining's softmax temperature
    id_dropout: float = 0.25  # share of n-gram ids dropped from each view when pretraining
    max_in_scope_rejected: float = 0.03  # the threshold keeps at most this share of in-scope rejected
    max_titles: int = 20_000  # item titles used for pretraining

    def __post_init__(self) -> None:
        if not 0 < self.valid_share < 0.5 or not 0 < self.test_share < 0.5:
            raise ConfigError("assistant: valid_share and test_share must lie in (0, 0.5)")
        if self.epochs < 1 or self.pretrain_epochs < 1:
            raise ConfigError("epochs: the assistant needs at least one epoch")

    @classmethod
    def from_run(cls, run: Any) -> AssistantConfig:
        """The run's ``support_data`` (else ``$ECOM_SUPPORT_DATA``); ``epochs`` caps both phases."""
        support = getattr(run, "support_data", None) or os.environ.get(ENV_SUPPORT_DATA) or None
        epochs = getattr(run, "epochs", None)
        base = cls()
        landing = getattr(run, "source", None) == catalog.LANDING
        return cls(
            support_data=support,
            support_stamp=";".join((stamp(support), stamp(DEFAULT_EXAMPLES))) if support else "",
            support_log=getattr(run, "source_path", None) if landing else None,
            probe=os.environ.get(ENV_PROBE) or DEFAULT_PROBE,
            seed=run.seed,
            epochs=min(base.epochs, epochs) if epochs else base.epochs,
            pretrain_epochs=min(base.pretrain_epochs, epochs) if epochs else base.pretrain_epochs,
        )


def stamp(path: str) -> str:
    """``name:size:mtime`` of the support file(s) at a local ``path``; empty for a remote or missing one."""
    p = Path(path)
    if "://" in path or not p.exists():
        return ""
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    return ";".join(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)


def shop_config_path() -> str:
    """The shop configuration file the answers quote (``$ECOM_ASSISTANT_SHOP`` or the repo's)."""
    return os.environ.get(ENV_SHOP_CONFIG) or DEFAULT_SHOP_CONFIG
