"""A model that steps aside (issue #23): the champion's card says why, and a rerun that steps aside
leaves nothing of an earlier run in the day's model folder that could be taken for its own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import nightly, stages, storage
from ecom_tasks.errors import NotEnoughDataError
from ecom_tasks.publish import card, evaluation, outputs
from tests.test_nightly import _young_shop

DAY, CHAMPION_DAY = "2024-03-31", "2024-03-20"
YOUNG = (
    f"churn not trained on ds={DAY}: needs 90 days of history after the first purchase for its labels "
    "(91 days in all), the shop has 50"
)


def _champion(root: str, ds: str) -> Path:
    """A published churn champion trained on ``ds``: its folder with a card, and the outputs pointer."""
    folder = Path(nightly.model_folder(root, "churn", ds))
    folder.mkdir(parents=True)
    content = [("Status", ["Gate: **BLESSED**"], None)]
    (folder / "model_card.md").write_text(card.to_markdown(f"Model card: churn (ds={ds})", content))
    (folder / "model_card.html").write_text(card.to_html(f"Model card: churn (ds={ds})", content))
    (folder / "model.pkl").write_bytes(b"champion")
    pointer = {"models": {"churn": {"version": "3", "registered_name": "ecom_churn", "ds": ds}}, "tables": {}}
    storage.write_json(pointer, outputs.pointer_uri(root))
    return folder


def _earlier_run(root: str, ds: str) -> Path:
    """What an earlier run of ``ds`` left: a candidate, its metrics, a blessing and a card."""
    folder = Path(nightly.model_folder(root, "churn", ds))
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.json", "blessing.json", "_run.json"):
        (folder / name).write_text(json.dumps({"from": "the earlier run"}))
    (folder / "model_card.md").write_text("# Model card: churn\n")
    (folder / "model.pkl").write_bytes(b"earlier")
    return folder


def test_the_champions_card_shows_why_a_later_night_did_not_train_and_a_trained_rerun_clears_it(
    data_root: str, monkeypatch
) -> None:
    folder = _champion(data_root, CHAMPION_DAY)
    _young_shop(data_root, 50)
    with pytest.raises(NotEnoughDataError):
        nightly.train(data_root, DAY, "churn", {})
    md, page = (folder / "model_card.md").read_text(), (folder / "model_card.html").read_text()
    assert (
        f"# Model card: churn (ds={CHAMPION_DAY})\n\n<!-- ecom:not-trained -->\n> **Latest night: {YOUNG}."
        in md
    )
    assert "This version stays the champion." in md and "## Status" in md
    assert f"<strong>Latest night: {YOUNG}. This version stays the champion.</strong>" in page
    assert page.index("</h1>") < page.index("Latest night") < page.index("<h2>Status</h2>")

    with pytest.raises(NotEnoughDataError):  # the same night again: one note, not two
        nightly.train(data_root, DAY, "churn", {})
    assert (folder / "model_card.md").read_text().count("Latest night") == 1

    # More history (or a fix): the rerun trains, and the card no longer says it did not.
    _young_shop(data_root, 120)
    monkeypatch.setattr("ecom_tasks.publish.stage.champion_info", lambda root, model: None)
    monkeypatch.setattr(stages.ModelStage, "train_function", lambda self: lambda *a: {"ok": True})
    assert nightly.train(data_root, DAY, "churn", {})["ok"]
    assert "Latest night" not in (folder / "model_card.md").read_text()
    assert "Latest night" not in (folder / "model_card.html").read_text()
    assert (folder / "model_card.md").read_text() == card.to_markdown(
        f"Model card: churn (ds={CHAMPION_DAY})", [("Status", ["Gate: **BLESSED**"], None)]
    )


def test_a_rerun_that_steps_aside_moves_an_earlier_runs_files_out_of_the_folder(data_root: str) -> None:
    folder = _earlier_run(data_root, DAY)
    _young_shop(data_root, 50)  # e.g. its first days were retracted: the rerun has 50 days
    with pytest.raises(NotEnoughDataError):
        nightly.train(data_root, DAY, "churn", {})
    assert sorted(p.name for p in folder.iterdir()) == ["skipped.json"]
    (moved,) = (Path(data_root) / "superseded" / "models" / "churn" / f"ds={DAY}").iterdir()
    assert {"metrics.json", "blessing.json", "_run.json", "model.pkl", "model_card.md"} <= {
        p.name for p in moved.iterdir()
    }
    record = json.loads((moved / "record.json").read_text())
    assert record["reason"] == YOUNG and record["model"] == "churn"
    with pytest.raises(NotEnoughDataError):  # again: nothing more to move
        nightly.train(data_root, DAY, "churn", {})
    assert len(list(moved.parent.iterdir())) == 1


def test_a_rerun_that_steps_aside_keeps_the_champions_own_folder(data_root: str) -> None:
    folder = _champion(data_root, DAY)  # the champion was trained on this very day
    _young_shop(data_root, 50)
    with pytest.raises(NotEnoughDataError):
        nightly.train(data_root, DAY, "churn", {})
    assert (folder / "model.pkl").read_bytes() == b"champion"  # where warm starts and the page find it
    assert "Latest night" in (folder / "model_card.md").read_text()
    assert not (Path(data_root) / "superseded").exists()


def test_a_gate_that_steps_aside_drops_an_earlier_blessing_of_the_day(data_root: str) -> None:
    folder = _earlier_run(data_root, DAY)
    evaluation.write(str(folder), pd.DataFrame({"churn_roc_auc": [1.0, 0.0, 1.0]}))  # this run: 3 customers
    with pytest.raises(NotEnoughDataError, match="3 test customers in its test window"):
        nightly.gate(data_root, DAY, "churn", {})
    assert not (folder / "blessing.json").exists() and not (folder / "model_card.md").exists()
    assert (folder / "model.pkl").exists() and nightly.read_skip(data_root, "churn", DAY)["step"] == "gate"
