"""A young shop (50 days: less than the heads' 90-day label horizon) gets a green night (issue #23).

One ``airflow dags test`` of the built-in shop: retrieval and ranking train (and publish), churn and
repurchase step aside in seconds with the reason, and the run summary says why."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest

from .conftest import AirflowEnv, make_airflow_env

pytestmark = pytest.mark.slow
START = "2024-01-01"
DS = "2024-02-19"  # the shop's 50th day
YOUNG_SHOP = {
    "synthetic_users": 300,
    "synthetic_items": 80,
    "synthetic_start_date": START,
    "seed": 7,
    "epochs": 2,
}


@pytest.fixture(scope="module")
def young_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[AirflowEnv, subprocess.CompletedProcess[str]]:
    env = make_airflow_env(tmp_path_factory.mktemp("young"))
    return env, env.dags_test(DS, YOUNG_SHOP)


def test_a_young_shop_gets_a_green_night_and_its_heads_step_aside(young_run) -> None:
    from ecom_tasks import nightly

    env, proc = young_run
    assert proc.returncode == 0, (proc.stdout[-6000:], proc.stderr[-6000:])
    log = proc.stdout + proc.stderr
    root = str(env.data_root)
    assert (dt.date.fromisoformat(DS) - dt.date.fromisoformat(START)).days + 1 == 50
    for head in ("churn", "repurchase"):
        reason = (
            f"{head} not trained on ds={DS}: needs 90 days of history after the first purchase for its "
            "labels (91 days in all), the shop has 50"
        )
        assert nightly.read_skip(root, head, DS) == {
            "model": head,
            "ds": DS,
            "step": "train",
            "reason": reason,
        }
        assert reason in log  # the skipped task says why
        assert not (env.data_root / "models" / head / f"ds={DS}" / "blessing.json").exists()
    for model in ("retrieval", "ranking"):
        folder = env.data_root / "models" / model / f"ds={DS}"
        assert nightly.read_skip(root, model, DS) is None, model
        assert json.loads((folder / "blessing.json").read_text())["blessed"] is True, model
    summary = subprocess.run(
        [sys.executable, "-m", "ecom_tasks.cli", "summary", "--ds", DS, "--root", root],
        env=env.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary.returncode == 0, summary.stderr[-3000:]
    assert f"not trained: churn not trained on ds={DS}: needs 90 days" in summary.stdout, summary.stdout
