"""``ecom assistant train`` and ``ecom assistant evaluate`` on a tiny generated support set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecom_tasks.assistant import cli
from ecom_tasks.assistant.model import Assistant
from ecom_tasks.cli import main

ITEMS = ("mug", "lamp", "bag", "candle", "clock", "vase", "plate", "towel", "chair", "rug", "jar", "bowl")
PHRASES = {
    "track_order": ("where is my {} order", "track the {} I ordered", "has my {} shipped"),
    "get_refund": ("I want a refund for the {}", "money back for my {}", "refund the {} please"),
    "cancel_order": ("cancel the {} order", "I no longer want the {}", "stop my {} order"),
}
OOS = ("what is the weather in {}", "who is the president of {}", "how far is {} from the sea")
PLACES = (
    "paris",
    "peru",
    "oslo",
    "kenya",
    "chile",
    "rome",
    "texas",
    "japan",
    "cairo",
    "lima",
    "bern",
    "nepal",
)


def _write(folder: Path, part: int) -> tuple[Path, Path]:
    """A Bitext-format CSV (three intents) and a CLINC150-format JSON; ``part`` picks the phrasing."""
    rows = [
        (phrases[i % len(phrases)].format(item) + ("" if part == 0 else " now"), intent)
        for intent, phrases in PHRASES.items()
        for i, item in enumerate(ITEMS)
    ]
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "support.csv"
    pd.DataFrame(rows, columns=["instruction", "intent"]).to_csv(csv, index=False)
    oos = folder / "oos.json"
    texts = [[OOS[i % 3].format(p) + ("" if part == 0 else " now"), "oos"] for i, p in enumerate(PLACES)]
    oos.write_text(json.dumps({"oos": texts}))
    return csv, oos


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("cli")
    csv, oos = _write(base / "train", 0)
    out = base / "model"
    args = ["assistant", "train", "--data", str(csv), "--out-of-scope", str(oos), "--out", str(out)]
    assert main([*args, "--epochs", "3", "--pretrain-epochs", "1", "--no-examples"]) == 0
    return base, out, csv


def test_train_writes_a_model_folder_and_its_metrics(trained, capsys):
    _, out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selected"] in ("pretrained", "nopretrain", "tfidf") and metrics["test_messages"] > 0
    for prefix in ("", "tfidf_", "nopretrain_", "pretrained_"):
        assert 0.0 <= metrics[f"{prefix}intent_accuracy"] <= 1.0
    assert metrics["support_example_messages"] == 0  # --no-examples
    spec = json.loads((out / "assistant" / "assistant.json").read_text())
    assert spec["labels"] == ["cancel_order", "get_refund", "oos", "track_order"] and spec["ds"] is None


def test_evaluate_prints_and_writes_the_figures_of_a_trained_model(trained, capsys):
    base, out, _ = trained
    csv, oos = _write(base / "test", 1)
    report = base / "figures.json"
    args = ["assistant", "evaluate", "--model", str(out), "--data", str(csv), "--out-of-scope", str(oos)]
    assert main([*args, "--json", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert figures["messages"] == 48
    for key in ("intent_accuracy", "intent_macro_f1", "oos_recall", "in_scope_rejected"):
        assert 0.0 <= figures[key] <= 1.0, key
    assert figures["intent_accuracy"] >= 0.6 and figures["p95_ms"] > 0
    assert figures["slot_f1"] is None  # the CSV has no slot columns: no slot figure, not a perfect one
    printed = capsys.readouterr().out
    assert f"{out} on 48 messages of {csv}:" in printed and "slot exact-match F1" in printed
    assert (
        f"in-scope messages answered with the right intent   {100 * figures['intent_accuracy']:.1f} %"
        in printed
    )
    # The assistant/ folder itself works too, and without --json nothing is written.
    assert main(["assistant", "evaluate", "--model", str(out / "assistant"), "--data", str(csv)]) == 0


def test_evaluate_without_a_model_uses_the_champion_and_says_when_there_is_none(trained, tmp_path, capsys):
    _, _, csv = trained
    assert main(["assistant", "evaluate", "--data", str(csv), "--root", str(tmp_path)]) == 1
    assert "no assistant is published" in capsys.readouterr().err


def test_bad_input_is_refused_with_the_reason(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("text,label\nhi,greet\n")
    out = str(tmp_path / "out")
    assert main(["assistant", "train", "--data", str(tmp_path / "bad.csv"), "--out", out]) == 1
    assert "instruction" in capsys.readouterr().err
    (tmp_path / "few.csv").write_text("instruction,intent\nhi,greet\nbye,leave\n")
    assert main(["assistant", "train", "--data", str(tmp_path / "few.csv"), "--out", out]) == 1
    assert "at least 2 intents with 10 messages" in capsys.readouterr().err


class _Fixed(Assistant):
    """Decides each message as told."""

    def __init__(self, decided: list[str]) -> None:
        super().__init__({"labels": [], "threshold": 0.5, "gazetteer": {}, "templates": {}})
        self.decided = decided

    def predict(self, model_input) -> np.ndarray:
        return np.asarray(self.decided, dtype=object)

    def understand(self, text: str) -> dict:
        return {}


def test_the_figures_are_counted_as_the_issue_defines_them():
    frame = pd.DataFrame(
        {"instruction": ["a", "b", "c", "d", "e"], "intent": ["refund", "refund", "track", "oos", "oos"]}
    )
    figures = cli.evaluate(_Fixed(["refund", "oos", "track", "oos", "refund"]), frame)
    # in scope: a right, b rejected, c right -> 2/3 right, 1/3 rejected; out of scope: d rejected, e not
    assert figures["intent_accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert figures["in_scope_rejected"] == pytest.approx(1 / 3, abs=1e-6)
    assert figures["oos_recall"] == 0.5 and figures["oos_precision"] == 0.5
    # F1: refund tp 1, fp 1 (e), fn 1 (b) -> 0.5; track 1.0
    assert figures["intent_macro_f1"] == pytest.approx(0.75, abs=1e-6) and figures["messages"] == 5


def test_readmes_assistant_commands_parse_and_name_the_real_files(monkeypatch):
    from tests.conftest import SHARED_DATA
    from tests.readme import commands

    found = [c.argv for c in commands() if c.argv[:2] == ("ecom", "assistant")]
    assert {argv[2] for argv in found} == {"train", "evaluate"}
    parsed = []
    monkeypatch.setattr(cli, "run", lambda args: parsed.append(args) or 0)
    for argv in found:
        assert main(list(argv[1:])) == 0, argv
    assert [a.assistant_command for a in parsed] == [argv[2] for argv in found]
    train = next(a for a in parsed if a.assistant_command == "train")
    for path in (train.data, train.out_of_scope):
        assert path.startswith("../shared/data/customer-service/"), path
        if SHARED_DATA.is_dir():
            assert (SHARED_DATA / path.removeprefix("../shared/data/")).is_file(), path
