"""``ecom assistant``: train an assistant on support data, evaluate one on a test set, ask one.

::

    ecom assistant train --data CSV [--out-of-scope JSON] --out DIR [--epochs N] [--seed 42]
    ecom assistant evaluate [--model DIR] --data CSV [--out-of-scope JSON] [--json OUT] [--root ROOT]
    ecom assistant ask "where is my order" [--customer ID] [--json] [--root ROOT]

``train`` fits the nightly stage's three models on the CSV (Bitext format: ``instruction`` and
``intent`` at least) and the out-of-scope questions (CLINC150's JSON: an object whose values are lists
of ``[text, label]`` pairs), publishes nothing, and writes the selected model into ``DIR/assistant/``
with ``DIR/metrics.json``. ``evaluate`` judges a trained model (``DIR`` from ``train``, a published
model folder, or without ``--model`` the registry's champion) on every message of the CSV and JSON:
``intent_accuracy``, ``intent_macro_f1``, ``oos_recall``, ``in_scope_rejected``, ``slot_f1``, ``p95_ms``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

KEYS = ("intent_accuracy", "intent_macro_f1", "oos_recall", "oos_precision", "in_scope_rejected", "slot_f1",
        "p95_ms")  # fmt: skip
LABELS = {
    "intent_accuracy": "in-scope messages answered with the right intent",
    "intent_macro_f1": "macro F1 over the intents",
    "oos_recall": "out-of-scope messages rejected",
    "oos_precision": "rejected messages that were out of scope",
    "in_scope_rejected": "in-scope messages rejected",
    "slot_f1": "slot exact-match F1",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``assistant train``, ``assistant evaluate`` and ``assistant ask`` to ``subparsers``."""
    from ecom_tasks.assistant.config import AssistantConfig

    parser = subparsers.add_parser("assistant", help="the customer-service assistant: train, evaluate, ask")
    actions = parser.add_subparsers(dest="assistant_command", required=True)
    train = actions.add_parser("train", help="train on a support CSV (and out-of-scope JSON) into a folder")
    train.add_argument("--out", required=True, help="folder for the model (DIR/assistant) and metrics.json")
    train.add_argument("--epochs", type=int, default=AssistantConfig.epochs, help="fine-tuning epochs")
    train.add_argument("--pretrain-epochs", type=int, default=AssistantConfig.pretrain_epochs)
    train.add_argument("--seed", type=int, default=AssistantConfig.seed)
    train.add_argument("--no-examples", action="store_true", help="leave the built-in examples out")
    evaluate = actions.add_parser("evaluate", help="judge a trained or the published model on a test set")
    evaluate.add_argument("--model", default=None, help="a trained folder (default: the registry's champion)")
    evaluate.add_argument("--json", default=None, help="write the figures to this JSON file")
    evaluate.add_argument("--root", default=None, help="data root of the champion (default: $ECOM_DATA_ROOT)")
    for sub in (train, evaluate):
        sub.add_argument("--data", required=True, help="CSV of messages: instruction, intent (Bitext format)")
        sub.add_argument("--out-of-scope", default=None, help="JSON of out-of-scope questions (CLINC150)")
    ask = actions.add_parser("ask", help="ask the published assistant (the same as `ecom ask`)")
    ask.add_argument("message", help="the customer's message")
    ask.add_argument("--customer", default=None, help="the customer's id (their orders, returns, picks)")
    ask.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    ask.add_argument("--root", default=None, help="data root (default: $ECOM_DATA_ROOT)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run ``assistant train`` or ``evaluate``; 0 when it worked, 1 with the reason on stderr when not
    (``assistant ask`` is :func:`ecom_tasks.cli.run_ask`)."""
    from ecom_tasks.errors import EcomError

    try:
        return _train(args) if args.assistant_command == "train" else _evaluate(args)
    except (EcomError, FileNotFoundError) as exc:
        sys.stderr.write(f"ecom assistant {args.assistant_command}: {exc}\n")
        return 1


def read(csv: str, oos: str | None) -> Any:
    """The messages of ``csv`` and ``oos`` as one :class:`~ecom_tasks.assistant.data.SupportData`."""
    from ecom_tasks.assistant import data

    return data.from_files(csv, oos)


def _train(args: argparse.Namespace) -> int:
    from ecom_tasks.assistant import build, data
    from ecom_tasks.assistant.config import AssistantConfig

    support = read(args.data, args.out_of_scope)
    data.check_counts(support.frame, args.data)
    config = AssistantConfig(support_data=args.data, epochs=args.epochs, pretrain_epochs=args.pretrain_epochs,
                             seed=args.seed)  # fmt: skip
    if args.no_examples:
        config = dataclasses.replace(config, support_examples=None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    built = build.fit(support, config, None, [], str(out))
    (out / "metrics.json").write_text(json.dumps(built.metrics, indent=1, sort_keys=True))
    _print(f"trained ({built.trained.selection}); test split of {built.metrics['test_messages']} messages",
           built.metrics)  # fmt: skip
    sys.stdout.write(f"model: {built.artifact}\nmetrics: {out / 'metrics.json'}\n")
    return 0


def evaluate(assistant: Any, frame: Any) -> dict[str, float]:
    """The figures of ``assistant`` on every message of ``frame`` (``instruction``, ``intent``)."""
    from ecom_tasks.assistant import build, data, metrics
    from ecom_tasks.assistant.config import OOS

    texts = frame[data.TEXT].tolist()
    predicted = assistant.predict({"text": texts})
    figures = metrics.scores(frame[data.INTENT].to_numpy(), predicted, OOS)
    figures["slot_f1"] = build.slot_f1(frame, assistant.spec["gazetteer"])
    figures["p95_ms"] = build.p95_ms(assistant, texts[:500])
    figures["messages"] = len(frame)
    return build.json_safe(figures)


def _evaluate(args: argparse.Namespace) -> int:
    from ecom_tasks import catalog, storage
    from ecom_tasks.assistant.answers import champion
    from ecom_tasks.assistant.model import load

    if args.model:
        folder = Path(args.model)
        inner = folder / catalog.ASSISTANT_DIR  # a trained or model folder, or its assistant/ itself
        assistant, which = load(str(inner if inner.is_dir() else folder)), str(folder)
    else:
        assistant, which = champion(storage.data_root(args.root)), "the published champion"
    figures = evaluate(assistant, read(args.data, args.out_of_scope).frame)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, sort_keys=True))
    _print(f"{which} on {figures['messages']} messages of {args.data}", figures)
    return 0


def _print(title: str, figures: dict[str, Any]) -> None:
    out = sys.stdout
    out.write(f"{title}:\n")
    for key in KEYS:
        value = figures.get(key)
        if key == "p95_ms":
            shown = "-" if value is None else f"{value:.2f} ms"
            out.write(f"  {'time to understand one message, 95th percentile':<50} {shown}\n")
        else:
            out.write(f"  {LABELS[key]:<50} {'-' if value is None else f'{100 * value:.1f} %'}\n")
