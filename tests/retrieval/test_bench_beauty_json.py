"""``bench/bench_retrieval_beauty.py --json PATH`` on a tiny generated sequence file (no real data)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
KEYS = {"hr_at_10", "ndcg_at_10", "hr_at_20", "ndcg_at_20", "train_seconds", "best_epoch"}


def _bench_module(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCH))  # the bench imports retrieval_tutorial from its folder
    spec = importlib.util.spec_from_file_location(
        "bench_retrieval_beauty", BENCH / "bench_retrieval_beauty.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sequences(path: Path, n_users: int = 40, n_items: int = 15) -> None:
    # Beauty.txt's shape: "user item item ...", oldest first; each user walks the catalogue.
    rng = np.random.default_rng(0)
    lines = []
    for u in range(n_users):
        start, length = int(rng.integers(n_items)), int(rng.integers(5, 9))
        lines.append(" ".join([f"u{u}"] + [f"i{(start + t) % n_items}" for t in range(length)]))
    path.write_text("\n".join(lines) + "\n")


def test_json_holds_the_headline_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench_module(monkeypatch)
    seqs, out_path = tmp_path / "seqs.txt", tmp_path / "figures.json"
    _sequences(seqs)
    out = bench.main(
        ["--data", str(seqs), "--json", str(out_path), "--epochs", "2", "--skip-tutorial", "--skip-serving"]
    )
    figures = json.loads(out_path.read_text())
    metrics = KEYS - {"train_seconds", "best_epoch"}
    assert set(figures) == KEYS | {f"{p}{k}" for k in metrics for p in ("itemknn_", "val_", "val_itemknn_")}
    assert figures["val_ndcg_at_10"] == out["validation"]["ndcg_at_10"]
    assert figures["hr_at_10"] == out["model"]["hr_at_10"]
    assert figures["itemknn_ndcg_at_20"] == out["itemknn_ndcg_at_20"]
    assert figures["val_itemknn_hr_at_10"] == out["validation"]["itemknn_hr_at_10"]
    assert figures["best_epoch"] == out["model_training"]["best_epoch"] in (0, 1, 2)
    assert figures["train_seconds"] > 0
    for key in KEYS - {"train_seconds", "best_epoch"}:
        assert 0.0 <= figures[key] <= 1.0 and 0.0 <= figures[f"itemknn_{key}"] <= 1.0
    # 15 items and walks shorter than the catalogue: the target is never an excluded earlier item
    # and every item left fits in the top 20, so any ranking's HR@20 is 1.
    assert figures["hr_at_20"] == 1.0
    assert figures["itemknn_hr_at_20"] == 1.0
    assert figures["val_hr_at_20"] == figures["val_itemknn_hr_at_20"] == 1.0
