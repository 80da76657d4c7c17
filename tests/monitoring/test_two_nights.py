"""Two nights on a small published shop: realized hit rate of night A's lists, drift, a planted drop."""

from __future__ import annotations

import json
import math

import pytest

from ecom_tasks import catalog, storage
from ecom_tasks.monitoring.stage import monitor
from ecom_tasks.ui import labels
from tests.monitoring.shop import CONFIG, A, B, C, read_row


def _alerts(root: str) -> list[dict]:
    path = f"{root}/{catalog.ALERTS_FILE}"
    with open(path) as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_night_b_judges_night_a_lists_against_b_purchases(nights) -> None:
    root, runs = nights
    row = read_row(root, catalog.RANKING, B)
    assert row["published_ds"] == A and row["version"] == "1" and row["users_judged"] == 3
    # u00 hit i8 at rank 1; u02 bought i7, i8 and had i7 at rank 2; u05 missed.
    assert row["hit_rate_at_20"] == pytest.approx(2 / 3)
    assert row["recall_at_20"] == pytest.approx((1 + 0.5 + 0) / 3)
    g2 = 1 / math.log2(3)
    assert row["ranking_ndcg_at_10"] == pytest.approx((1 + g2 / (1 + g2)) / 3)
    assert 0 <= row["popularity_hit_rate_at_20"] <= 1
    assert runs["b"]["realized"][catalog.RANKING]["recall_at_20"] == row["recall_at_20"]


def test_churn_scores_are_judged_once_their_window_closed(nights) -> None:
    root, _ = nights
    row = read_row(root, catalog.CHURN, B)
    assert row["published_ds"] == A and row["window_start"] == B and row["window_end"] == B
    assert row["churn_roc_auc"] == 1.0 and row["churn_ece"] == pytest.approx(0.05)


def test_the_point_in_time_partition_not_the_latest(nights) -> None:
    root, _ = nights
    # B's lists are published now; judging B again still uses what was current after A's night.
    again = monitor(root, B, CONFIG)
    assert again["realized"][catalog.RANKING]["published_ds"] == A
    assert read_row(root, catalog.RANKING, C)["published_ds"] == B


def test_drift_per_feature_worst_first(nights) -> None:
    root, runs = nights
    table = storage.read_partition(storage.partition_uri(root, catalog.MONITORING, catalog.DRIFT, B))
    assert set(table["kind"]) == {"feature", "score"} and (table["reference_ds"] == A).all()
    assert "recency_days" in set(table["name"]) and "churn_risk" in set(table["name"])
    psi = table["psi"].dropna().tolist()
    assert psi == sorted(psi, reverse=True) and runs["b"]["drift"]["rows"] == len(table)


def test_the_planted_drop_is_alerted_once(nights) -> None:
    root, runs = nights
    row = read_row(root, catalog.RANKING, C)
    assert row["recall_at_20"] == 0.0 and row["popularity_recall_at_20"] > 0
    texts = [a["text"] for a in _alerts(root) if a["kind"] == "monitoring" and a.get("model") == "ranking"]
    assert len(texts) == 1 and f"ds={C}" in texts[0]
    assert "recall in the top 20: 0.0% below the retrieval gate's minimum 2.0%" in texts[0]
    assert "NDCG in the top 10 (0-1): 0.000 below the ranking gate's minimum 0.010" in texts[0]
    # Night B judged good lists and calibrated scores: only drift (the tiny shop moves a lot in a day).
    assert runs["b"]["alerts"] and all(
        "drift (PSI above 0.25, KS p below 0.05)" in t for t in runs["b"]["alerts"]
    )
    monitor(root, C, CONFIG)  # a rerun that changes nothing sends nothing again
    assert len([a for a in _alerts(root) if a.get("model") == "ranking"]) == 1


def test_drift_beyond_the_bound_is_alerted_naming_the_worst(nights) -> None:
    root, runs = nights
    drift = [a for a in _alerts(root) if a.get("model") == catalog.DRIFT]
    assert {a["ds"] for a in drift} == {B, C} and all(a["kind"] == "monitoring" for a in drift)
    worst = runs["c"]["drift"]["worst"]
    said = labels.field(worst["name"])[0]  # in plain words: "churn risk", not churn_risk
    assert f"{said} (PSI {worst['psi']:.2f})" in runs["c"]["drift"]["alert"] and "_" not in said


def test_nothing_published_before_skips_with_the_reason(nights) -> None:
    from ecom_tasks.errors import NotEnoughDataError

    root, _ = nights
    with pytest.raises(NotEnoughDataError, match="nothing published before"):
        monitor(root, A, CONFIG)


def test_forecasts_are_judged_by_horizon_as_the_units_arrive(nights) -> None:
    root, runs = nights
    row = read_row(root, catalog.FORECAST, B)
    # A's forecast for B (horizon 1): |1-1| + |4-5| + |2-4| + 0 + 0 = 3 over 10 units; i8's 4 is
    # outside [1, 3].
    assert row["published_ds"] == A and row["forecasts_judged"] == 1 and row["item_days"] == 5
    assert row["wape"] == pytest.approx(0.3) and row["wape_days_1_7"] == pytest.approx(0.3)
    assert math.isnan(row["wape_days_8_14"]) and row["coverage_80"] == pytest.approx(0.8)
    assert row["unforecast_units"] == 0
    assert catalog.FORECAST not in {a.get("model") for a in _alerts(root) if a.get("ds") == B}
    # Night C: A's forecast at horizon 2 (errors 0, 4, 2, 2, 1 on 4 units) and B's planted over-forecast
    # at horizon 1 (errors 8, 7, 8 on 4 units): 32 / 8; 2 of 8 item-days inside their interval; i4's
    # 3 units were forecast by nobody.
    row = read_row(root, catalog.FORECAST, C)
    assert row["published_ds"] == B and row["forecasts_judged"] == 2 and row["item_days"] == 8
    assert row["wape"] == pytest.approx(4.0) and row["coverage_80"] == pytest.approx(0.25)
    assert row["coverage_80_gap"] == pytest.approx(0.55) and row["unforecast_units"] == 3
    assert runs["c"]["realized"][catalog.FORECAST]["wape"] == pytest.approx(4.0)


def test_a_forecast_worse_than_its_gate_is_alerted(nights) -> None:
    root, _ = nights
    texts = [a["text"] for a in _alerts(root) if a.get("model") == catalog.FORECAST]
    assert len(texts) == 1 and f"ds={C}" in texts[0]
    assert "lower is better): 400.0% above the forecast gate's maximum 200.0%" in texts[0]
    assert "from 80% (lower is better): 55.0% above the forecast gate's maximum 10.0%" in texts[0]


def test_the_hand_over_rate_by_reason_and_its_alert(nights) -> None:
    root, _ = nights
    row = read_row(root, catalog.ASSISTANT, B)
    assert row["messages"] == 5 and row["handover_rate"] == pytest.approx(0.2)
    assert row["handover_low_confidence_rate"] == pytest.approx(0.2)
    row = read_row(root, catalog.ASSISTANT, C)
    assert row["handed_over"] == 3 and row["handover_rate"] == pytest.approx(0.6)
    for reason in ("out_of_scope", "human_asked", "unknown_order"):
        assert row[f"handover_{reason}_rate"] == pytest.approx(0.2)
    assert row["handover_low_confidence_rate"] == 0 and row["handover_other_rate"] == 0
    texts = [a["text"] for a in _alerts(root) if a.get("model") == catalog.ASSISTANT]
    assert len(texts) == 1 and f"ds={C}" in texts[0]
    assert "messages handed over to a person: 60.0% above the configured bound 40.0%" in texts[0]
