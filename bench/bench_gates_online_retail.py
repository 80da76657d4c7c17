"""The default gates on a real year: README's Online Retail II command, then a planted degraded challenger.

1. Runs README's "Running on your own data" command exactly (``airflow dags test ecom_nightly
   2010-12-09 -c '{"source": "online_retail", "source_path": ...}'``) in a fresh Airflow home and
   data root, with the production gate defaults (no ``ECOM_GATE_CONFIG``), and prints each model's
   gate: blessed or not, and every comparison with its value, bound, bootstrap interval and decision.
2. Plants, for each model, a degraded challenger of the next day: the published candidate becomes
   the champion (its per-example results as the champion's), and the challenger's per-example
   results are made clearly worse (scores shuffled across customers for ROC AUC; half of every
   user's recall/NDCG for the ranking metrics). The gate must block it, naming the check and the
   interval.

Nothing is asserted; the figures go to bench/RESULTS.md. Needs ../shared/data (ECOM_SHARED_DATA).

Usage: python bench/bench_gates_online_retail.py [--root /tmp/gates] [--skip-run]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("ECOM_SHARED_DATA", ROOT.parent / "shared" / "data"))
SOURCE = SHARED / "online-retail-ii" / "online_retail_II_2009-2010.csv.gz"
DS, NEXT = "2010-12-09", "2010-12-10"


def _env(home: Path, data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ECOM_"))}
    env |= {
        "ECOM_PROJECT": str(ROOT), "AIRFLOW_HOME": str(home), "ECOM_DATA_ROOT": str(data),
        "MLFLOW_TRACKING_URI": f"sqlite:///{data}/mlflow/mlflow.db",
    }  # fmt: skip
    return env


def run_readme_command(base: Path) -> tuple[Path, float]:
    home, data = base / "airflow_home", base / "data"
    shutil.rmtree(base, ignore_errors=True)
    home.mkdir(parents=True)
    data.mkdir()
    env = _env(home, data)
    prefix = f"source {ROOT}/scripts/env.sh && "
    for command in ("airflow db migrate", "airflow pools set tensorflow 1 'one TensorFlow task'"):
        subprocess.run(["bash", "-c", prefix + command], env=env, check=True, capture_output=True)
    conf = json.dumps({"source": "online_retail", "source_path": str(SOURCE)})
    started = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-c", prefix + f"airflow dags test ecom_nightly {DS} -c '{conf}'"],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    (base / "dags-test.log").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    print(f"README command: exit {proc.returncode} in {seconds:.0f} s (log: {base / 'dags-test.log'})")
    return data, seconds


def describe(blessing: dict) -> None:
    state = "BLESSED" if blessing["blessed"] else f"BLOCKED {blessing['failing']}"
    print(f"  {blessing['model']:<11} {state}")
    for c in blessing["checks"]:
        if c["name"].startswith(("no_regression", "beats_baselines")):
            interval = c.get("interval")
            shown = f"[{interval[0]:+.4f}, {interval[1]:+.4f}]" if interval else "-"
            head = f"    {c['outcome']:<5} {c['name']:<40} {c['value']!s:<22}"
            print(f"{head} gain interval {shown}: {c['detail']}")


def plant_degraded(data: Path, model: str) -> dict | None:
    """A degraded challenger of ``model`` for NEXT, against the published candidate as champion."""
    import pandas as pd

    from ecom_tasks.publish import evaluation
    from ecom_tasks.publish.gate import GateConfig
    from ecom_tasks.publish.stage import gate_model

    src, dst = data / "models" / model / f"ds={DS}", data / "models" / model / f"ds={NEXT}"
    frame = evaluation.read(str(src))
    if frame is None or not (src / "blessing.json").exists():
        print(f"  {model}: no per-example results or no blessing; skipped")
        return None
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("blessing.json", "model_card.*", "_run.json"))
    metrics = json.loads((src / "metrics.json").read_text())
    rng = np.random.default_rng(0)
    degraded = frame.copy()
    others = (*GateConfig().for_model(model).baselines, "champion_", "finetuned_", "head_", "@")
    for column in [c for c in frame.columns if not c.startswith(others)]:  # the candidate's own
        degraded[evaluation.CHAMPION_PREFIX + column] = frame[column]
        if column.endswith(evaluation.SCORE):
            degraded[column] = rng.permutation(frame[column].to_numpy())
        else:
            degraded[column] = frame[column] * 0.5
    champion = {}
    everyone = np.arange(len(degraded))
    for metric, value in list(metrics.items()):
        mine = evaluation.sampler(degraded, metric)
        if isinstance(value, bool) or not isinstance(value, int | float) or mine is None:
            continue
        champion[metric], metrics[metric] = value, mine(everyone)
    (dst / "metrics.json").write_text(json.dumps(metrics))
    (dst / "champion_metrics.json").write_text(json.dumps(champion))
    evaluation.write(str(dst), pd.DataFrame(degraded))
    result = gate_model(str(data), NEXT, model)
    return json.loads(Path(result["blessing_uri"]).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default="/tmp/bench-gates", help="scratch folder (recreated)")
    parser.add_argument("--skip-run", action="store_true", help="reuse the data root of an earlier run")
    args = parser.parse_args()
    if not SOURCE.exists():
        sys.exit(f"{SOURCE}: not found (set ECOM_SHARED_DATA)")
    base = Path(args.root)
    data = base / "data" if args.skip_run else run_readme_command(base)[0]
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{data}/mlflow/mlflow.db"
    from ecom_tasks import stages

    print(f"\nDefault gates on {DS} (production thresholds, no gate file):")
    for model in stages.names():
        path = data / "models" / model / f"ds={DS}" / "blessing.json"
        if path.exists():
            describe(json.loads(path.read_text()))
        else:
            print(f"  {model:<11} no blessing (its training or gate did not run)")
    print(f"\nPlanted degraded challengers for {NEXT} (the published model as champion):")
    for model in stages.names():
        blessing = plant_degraded(data, model)
        if blessing is not None:
            describe(blessing)


if __name__ == "__main__":
    main()
