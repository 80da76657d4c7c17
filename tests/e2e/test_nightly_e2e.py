"""End to end: the real ecom_nightly DAG run through Airflow on a small synthetic shop."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ecom_tasks import catalog, stages, storage
from ecom_tasks import contract as c
from ecom_tasks.ui import labels
from tests.toy_stage.entry import STAGE as TOY_STAGE

from .conftest import NIGHTLY_CONF, RUN_DS, SMALL_SHOP

pytestmark = pytest.mark.slow
# Every model ecom_nightly trains, gates and publishes: the registry's, and the toy model the
# harness registers through $ECOM_MODEL_STAGES (the assistant only where support data is configured).
CONFIGURED = {catalog.ASSISTANT: "support_data" in NIGHTLY_CONF}
PUBLISHED_MODELS = (
    *(stage.name for stage in stages.STAGES if CONFIGURED.get(stage.name, True)),
    TOY_STAGE.name,
)


def _manifests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob(storage.MANIFEST))}


def test_run_landed_every_day_of_history(nightly_run):
    env, proc = nightly_run
    assert "ecom_nightly" in proc.stdout + proc.stderr
    root = str(env.data_root)
    first, last = dt.date.fromisoformat(SMALL_SHOP["synthetic_start_date"]), dt.date.fromisoformat(RUN_DS)
    expected = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    for table in c.TABLES:
        assert storage.list_partitions(root, "raw", table) == expected, table
    events = storage.read_partition(storage.partition_uri(root, "raw", c.EVENTS, RUN_DS))
    assert len(events) > 0
    assert set(events[c.TS].dt.date.astype(str)) == {RUN_DS}
    summary = json.loads((env.data_root / "ingest" / "summary" / f"ds={RUN_DS}" / "summary.json").read_text())
    assert summary["rows"]["events"] == len(events)
    assert summary["days_in_source"] == len(expected)


def _versions(env, monkeypatch) -> dict[str, list[str]]:
    from ecom_tasks.publish import tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", env.env["MLFLOW_TRACKING_URI"])
    client = tracking.configure(str(env.data_root))
    return {
        m: sorted(v.version for v in client.search_model_versions(f"name='ecom_{m}'"))
        for m in PUBLISHED_MODELS
    }


def test_rerun_changes_nothing(nightly_run, monkeypatch):
    env, _ = nightly_run
    before, versions = _manifests(env.data_root), _versions(env, monkeypatch)
    assert all(len(v) == 1 for v in versions.values()), versions  # the first run registered each once
    proc = env.dags_test(RUN_DS, NIGHTLY_CONF)
    assert proc.returncode == 0, proc.stderr[-4000:]
    after = _manifests(env.data_root)
    assert after == before  # same content, same manifests: nothing was rewritten or duplicated
    assert _versions(env, monkeypatch) == versions  # and no model version registered twice


def test_every_landed_day_was_validated_and_features_built(nightly_run):
    env, _ = nightly_run
    root = str(env.data_root)
    assert storage.list_partitions(root, "validated", c.EVENTS) == storage.list_partitions(
        root, "raw", c.EVENTS
    )
    summary = json.loads(
        (env.data_root / "validation" / "summary" / f"ds={RUN_DS}" / "summary.json").read_text()
    )
    assert summary["passed"] is True
    profiles = storage.read_partition(storage.partition_uri(root, "features", "customer_profiles", RUN_DS))
    assert len(profiles) > 0 and not profiles.select_dtypes("number").isna().any().any()
    assert (env.data_root / "reports" / "behaviour" / f"ds={RUN_DS}" / "report.html").stat().st_size > 10_000
    assert (
        storage.read_manifest(
            storage.partition_uri(root, "features", "training_interactions", RUN_DS)
        ).row_count
        > 0
    )


def test_models_were_trained_gated_and_published(nightly_run, monkeypatch):
    from ecom_tasks.publish import outputs
    from ecom_tasks.publish.config import PublishConfig
    from ecom_tasks.publish.stage import champion_info

    env, _ = nightly_run
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env.env["MLFLOW_TRACKING_URI"])
    monkeypatch.setenv(stages.ENV, env.env[stages.ENV])
    root = str(env.data_root)
    config = PublishConfig()
    for model in PUBLISHED_MODELS:
        folder = env.data_root / "models" / model / f"ds={RUN_DS}"
        metrics = json.loads((folder / "metrics.json").read_text())
        blessing = json.loads((folder / "blessing.json").read_text())
        assert blessing["blessed"] is True, blessing
        for check in blessing["checks"]:  # every check names its value, bound and outcome
            assert {"name", "value", "threshold", "outcome"} <= set(check), check
        card = (folder / "model_card.md").read_text()
        assert RUN_DS in card
        for name, value in metrics.items():  # the card shows the logged figures, in their units
            if isinstance(value, float) and name in blessing["metrics"] and not name.startswith("finetuned_"):
                assert f"| {labels.metric_value(name, value)} |" in card, name
        champion = champion_info(root, model, config)
        assert champion is not None and champion["ds"] == RUN_DS, (model, champion)
        pointer = outputs.read_pointer(root)
        assert pointer["models"][model]["version"] == champion["version"]
        for table in config.model(model).output_tables:  # its batch outputs, pointed at
            assert pointer["tables"][table]["ds"] == RUN_DS and pointer["tables"][table]["model"] == model
            manifest = storage.read_manifest(outputs.output_uri(root, table, RUN_DS))
            assert manifest is not None and manifest.row_count > 0, table


def test_the_toy_model_ran_in_its_own_group_outside_the_tensorflow_pool(nightly_run):
    env, proc = nightly_run
    log = proc.stdout + proc.stderr
    for task in (TOY_STAGE.task_id, f"gate_{TOY_STAGE.name}", f"publish_{TOY_STAGE.name}"):
        assert task in log, task
    folder = env.data_root / "models" / TOY_STAGE.name / f"ds={RUN_DS}"
    checks = {c["name"]: c for c in json.loads((folder / "blessing.json").read_text())["checks"]}
    assert checks["beats_baselines:basket_value_mae"]["comparator"] == "<="  # lower is better


def test_the_forecast_was_backtested_gated_on_its_declared_metrics_and_reported(nightly_run):
    env, proc = nightly_run
    log = proc.stdout + proc.stderr
    for task in ("train_forecast", "gate_forecast", "publish_forecast"):
        assert task in log, task
    folder = env.data_root / "models" / "forecast" / f"ds={RUN_DS}"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["items_evaluated"] >= 20 and labels.model_name(metrics["selected"]) in metrics["selection"]
    for baseline in ("snaive_", "ets_", "intermittent_"):
        if metrics["selected"] != baseline.rstrip("_"):
            assert f"{baseline}wape" in metrics and f"{baseline}coverage_80" in metrics, baseline
    checks = {c["name"]: c for c in json.loads((folder / "blessing.json").read_text())["checks"]}
    gated = {c["metric"] for c in checks.values() if c.get("metric")}
    assert {"wape", "coverage_80_gap"} <= gated, checks
    # the inventory plan is checked on the test window: its coverage and the expected demand's bias
    assert 0 <= metrics["inventory_coverage"] <= 1 and 0 <= metrics["median_sum_inventory_coverage"] <= 1
    assert abs(metrics["mean_bias"]) < 1, metrics["mean_bias"]
    assert (folder / "evaluation.parquet").exists() and (folder / "model" / "forecast.parquet").exists()
    history = json.loads((folder / "history.json").read_text())
    assert history["seconds"]["total"] < 60, history["seconds"]  # well under a minute on this shop
    report = env.data_root / "reports" / "forecast" / f"ds={RUN_DS}"
    assert (report / "index.html").exists() and (report / "top_items.png").exists()


def test_retrieval_never_serves_what_a_customer_returned(nightly_run):
    from ecom_tasks.retrieval import exclusions, export
    from ecom_tasks.retrieval.backbone import load_backbone

    env, _ = nightly_run
    root, day = str(env.data_root), dt.date.fromisoformat(RUN_DS)
    folder = env.data_root / "models" / catalog.RETRIEVAL / f"ds={RUN_DS}"
    backbone = load_backbone(str(folder))
    returns = exclusions.read_returns(root, day)
    known = set(backbone.vocabs.users) & set(returns[c.USER_ID].astype(str))
    assert known, "the small shop's customers return items: some of them are in the model"
    users = sorted(known)[:20]
    returned = exclusions.returned_ids(returns, users)
    loaded = export.load_recommender(str(folder / catalog.SAVED_MODEL_DIR))
    k = len(backbone.item_ids)  # the whole catalogue: every servable item is listed
    served, _ = export.recommend(
        loaded, users, [[] for _ in users], k, num_features=len(backbone.feature_columns)
    )
    for user, items, listed in zip(users, returned, served, strict=True):
        kept = set(backbone.item_ids) & set(items)
        assert kept and not kept & set(listed), user
