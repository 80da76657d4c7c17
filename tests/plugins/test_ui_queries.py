"""Units of the UI queries (ecom_tasks.ui): input checks, the index and cache, safe file serving,
charts, and customer lookups on small hand-written roots (no MLflow)."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from ecom_tasks import contract, storage
from ecom_tasks.contract import ITEM_ID, TITLE, USER_ID
from ecom_tasks.features import columns as fc
from ecom_tasks.features.stage import PROFILES
from ecom_tasks.publish import outputs
from ecom_tasks.publish import tables as out
from ecom_tasks.publish.config import CHURN_SCORES, RECOMMENDATIONS, PublishConfig
from ecom_tasks.ui import charts, customers, inputs, quality
from ecom_tasks.ui.cache import Indexed, TableCache
from ecom_tasks.ui.config import UIConfig
from ecom_tasks.ui.files import safe_file

DS = "2024-02-02"
SCRIPT = "<script>alert(1)</script>"


# ------------------------------------------------------------------------------------------ inputs
@pytest.mark.parametrize("raw", ["u1", " 17850 ", "a.b_c:d@e-f", "x" * 64])
def test_well_formed_customer_ids_pass(raw: str) -> None:
    assert inputs.customer_id(raw) == raw.strip()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", "enter a customer id"),
        (None, "enter a customer id"),
        ("x" * 65, "at most 64 characters"),
        (SCRIPT, "letters, digits"),
        ("a b", "letters, digits"),
        ("-x", "starting with a letter or digit"),
        ("u1'; DROP", "letters, digits"),
    ],
)
def test_malformed_customer_ids_are_refused_without_echo(raw: str | None, expected: str) -> None:
    with pytest.raises(inputs.BadInput, match=expected) as info:
        inputs.customer_id(raw)
    assert info.value.param == "customer"
    if raw:
        assert raw not in str(info.value)


def test_logical_dates() -> None:
    assert inputs.logical_date("2024-02-29") == dt.date(2024, 2, 29)
    with pytest.raises(inputs.BadInput, match="ds: not a valid calendar date"):
        inputs.logical_date("2023-02-29")
    for bad in ("2024-1-1", "yesterday", "2024-01-01T00:00", SCRIPT, ""):
        with pytest.raises(inputs.BadInput, match="YYYY-MM-DD"):
            inputs.logical_date(bad)


def test_config_refuses_bad_values() -> None:
    with pytest.raises(ValueError, match=r"UIConfig\.top_k: must be a positive integer"):
        UIConfig(top_k=0)
    with pytest.raises(ValueError, match=r"UIConfig\.id_pattern: not a regular expression"):
        UIConfig(id_pattern="[")


# ------------------------------------------------------------------------------------ index, cache
def test_index_keeps_each_keys_rows_together_in_order() -> None:
    frame = pd.DataFrame({USER_ID: ["b", "a", "b", None, "a", "b"], out.RANK: [3, 2, 1, 1, 1, 2]})
    idx = Indexed.build(frame, USER_ID, [out.RANK])
    assert idx.rows("b")[out.RANK].tolist() == [1, 2, 3]
    assert idx.rows("a")[out.RANK].tolist() == [1, 2]
    assert idx.rows("b", limit=2)[out.RANK].tolist() == [1, 2]
    assert idx.rows("nobody").empty and "nobody" not in idx and len(idx) == 2
    assert [r[out.RANK] for r in idx.records("b", limit=2)] == [1, 2] and idx.records("nobody") == []


def test_cache_reloads_when_the_partition_content_changes(data_root: str) -> None:
    uri = storage.partition_uri(data_root, "outputs", CHURN_SCORES, DS)
    storage.write_partition(pd.DataFrame({USER_ID: ["a"], out.CHURN_RISK: [0.1]}), uri, source="t")
    cache = TableCache()
    first = cache.partition(uri, USER_ID)
    assert cache.partition(uri, USER_ID) is first  # same content hash: not read again
    storage.write_partition(pd.DataFrame({USER_ID: ["a"], out.CHURN_RISK: [0.7]}), uri, source="t")
    assert cache.partition(uri, USER_ID).rows("a")[out.CHURN_RISK].item() == 0.7
    assert cache.partition(storage.partition_uri(data_root, "outputs", "nothing", DS), USER_ID) is None


def test_cache_keeps_the_most_recently_used_entries() -> None:
    cache = TableCache(max_entries=2)
    built = []
    for key in ("a", "b", "a", "c", "a", "b"):
        cache.memo(key, 1, lambda key=key: built.append(key) or key)
    assert built == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came


# ------------------------------------------------------------------------------------------- files
def test_safe_file_stays_inside_its_folder(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    (site / "sub" / "page.html").write_text("ok")
    (tmp_path / "secret.txt").write_text("no")
    os.symlink(tmp_path / "secret.txt", site / "link.txt")
    assert safe_file(site, "sub/page.html") == (site / "sub" / "page.html").resolve()
    for bad in ("../secret.txt", "sub/../../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "sub",
                "missing.html", "", "a\x00b"):  # fmt: skip
        assert safe_file(site, bad) is None, bad


# ------------------------------------------------------------------------------------------ charts
def test_charts_escape_text_and_say_when_empty() -> None:
    svg = charts.line_chart(["2024-01-01", SCRIPT], {SCRIPT: [0.1, 0.2]}, f"title {SCRIPT}")
    assert "<script" not in svg and "&lt;script&gt;" in svg and svg.count("<circle") == 2
    assert "no data" in charts.line_chart([], {}, "empty")
    assert "no data" in charts.bar_chart([("sessions", 0.0)], "funnel")
    bars = charts.bar_chart([("sessions", 10.0), ("purchased", 2.5)], "funnel")
    assert "25.0% of sessions" in bars
    heat = charts.heatmap(["2024-01"], [0, 1], [[1.0, None]], "cohorts")
    assert heat.count("<rect") == 1 and ">100<" in heat


def test_charts_write_plain_numbers_and_percentages() -> None:
    bars = charts.bar_chart([("sessions", 25_913.0), ("viewed", 25_631.0)], "funnel")
    assert "25,913" in bars and "25,631 (98.9% of sessions)" in bars and "e+0" not in bars
    width = int(bars.split("width='", 1)[1].split("'", 1)[0])
    assert 120 + (width - 120 - 230) + 6 + 6.5 * len("25,631 (98.9% of sessions)") <= width  # not clipped
    share = charts.line_chart(["d1", "d2"], {"conversion": [0.0456, 0.05]}, "conversion", percent=True)
    assert "4.6%" in share and "0.0456" not in share
    one = charts.line_chart(["2024-01-12"], {"ROC AUC": [0.8]}, "by night")
    assert "height='40'" in one and "2024-01-12: 0.8 (one point so far)" in one  # no large empty box
    title = "Monthly cohort retention (% of the cohort buying n months later)"
    heat = charts.heatmap(["2024-01"], [0, 1], [[1.0, 0.5]], title)
    assert int(heat.split("width='", 1)[1].split("'", 1)[0]) >= 6.6 * len(title)  # the title fits


def test_labels_give_plain_words_and_units() -> None:
    from ecom_tasks.ui import labels

    assert labels.metric_label("churn_roc_auc") == "ROC AUC (0.5 = chance, 1 = perfect)"
    assert labels.metric_value("churn_ece", 0.0456) == "4.6%"
    assert labels.metric_value("test_customers", 181.0) == "181"
    assert labels.metric_label("recall_at_20") == "recall in the top 20"
    assert labels.metric_value("recall_at_20", 0.438) == "43.8%"
    assert labels.metric_label("valid_repurchase_roc_auc").endswith("validation split")
    assert labels.metric_label("some_new_metric_at_5") == "some new metric in the top 5"  # readable fallback
    assert labels.metric_value("some_new_metric_at_5", 181.0) == "181.00"
    assert labels.model_name("gbdt") == "gradient-boosted trees"
    assert labels.is_baseline("gbdt", ["rfm_logreg", "gbdt"]) and not labels.is_baseline("head", ["gbdt"])
    assert labels.is_baseline("retrieval_order", ["retrieval_"]) and not labels.is_baseline(
        "ranking_head", ["retrieval_"]
    )
    window = {"ds": "2024-06-30", "start": "2024-06-30T00:00:00+00:00", "end": "2024-07-01T00:00:00+00:00",
              "holdout_start": "2024-06-24T00:00:00+00:00"}  # fmt: skip
    assert labels.data_window(window) == (
        "all data up to the end of 30 Jun 2024 (UTC); from 24 Jun 2024 on held out for testing"
    )
    assert labels.timestamp("2024-06-30T14:05:00+02:00") == "30 Jun 2024, 12:05 UTC"


# ------------------------------------------------------------------------------ customer lookups
def _publish_tables(root: str, ds: str = DS) -> None:
    """Profiles, churn scores and recommendations for ``ds``, pointed at as the publish stage does."""
    day = dt.date.fromisoformat(ds)
    profiles = pd.DataFrame({USER_ID: ["u1", "u2"], fc.SEGMENT: ["champions", "at_risk"],
                             fc.FREQUENCY: [5, 1], fc.MONETARY: [120.0, 9.5]})  # fmt: skip
    storage.write_partition(profiles, storage.partition_uri(root, "features", PROFILES, day), source="t")
    reasons = json.dumps(
        [{out.REASON_FEATURE: fc.RECENCY_DAYS, out.REASON_VALUE: 80, out.REASON_EFFECT: 0.3}]
    )
    churn = pd.DataFrame(
        {USER_ID: ["u1", "u3"], out.CHURN_RISK: [0.2, 0.9], fc.SEGMENT: ["champions", "lost"]}
    )
    churn[out.CHURN_REASONS] = [reasons, "not json"]
    recs = pd.DataFrame({USER_ID: ["u1", "u1", "u1"], out.RANK: [2, 1, 3], ITEM_ID: ["i2", "i1", "i3"],
                         out.SCORE: [0.5, 0.9, 0.1]})  # fmt: skip
    items = pd.DataFrame({ITEM_ID: ["i1", "i2"], TITLE: ["Mug", SCRIPT]})
    outputs.write_output(root, CHURN_SCORES, ds, churn, source="t")
    outputs.write_output(root, RECOMMENDATIONS, ds, outputs.with_item_titles(recs, items), source="t")
    cfg = PublishConfig()
    for model in ("churn", "ranking"):
        outputs.move_pointer(root, cfg.model(model), "1", ds, require_outputs=True)
    events = contract.conform(
        pd.DataFrame(
            [("e1", "2024-02-01T10:00Z", "u1", "s1", "i1", contract.PURCHASE, 2, 3.0, "o1", "GB"),
             ("e2", "2024-02-02T09:00Z", "u1", "s2", "i2", contract.PURCHASE, 1, 5.0, "o2", "GB"),
             ("e3", "2024-02-02T11:00Z", "u1", "s3", "i2", contract.RETURN, -1, 5.0, "o2", "GB"),
             ("e4", "2024-02-02T12:00Z", "u1", "s3", "i3", contract.VIEW, 1, 1.0, None, "GB")],
            columns=contract.columns(contract.EVENTS),
        ),
        contract.EVENTS,
    )  # fmt: skip
    for d in (dt.date(2024, 2, 1), day):
        part = events[events[contract.TS].dt.date == d].reset_index(drop=True)
        storage.write_partition(
            part, storage.partition_uri(root, "validated", contract.EVENTS, d), source="t"
        )


def test_lookup_gathers_profile_scores_reasons_recommendations_and_purchases(data_root: str) -> None:
    _publish_tables(data_root)
    found = customers.lookup_customer(data_root, "u1")
    assert found["ds"] == DS and found["segment"] == "champions"
    assert found["profile"][fc.MONETARY] == 120.0
    assert found["churn"][out.CHURN_RISK] == 0.2 and found["churn"]["version"] == "1"
    assert found["churn"]["reasons"] == [{"feature": fc.RECENCY_DAYS, "value": 80, "effect": 0.3}]
    # u1 returned i2 on 2024-02-02: never recommended to them, whatever the table says.
    assert [r[ITEM_ID] for r in found["recommendations"]] == ["i1", "i3"]
    assert found["repurchase"] is None  # not published: shown as absent, not an error
    # Purchases and returns only, newest first, across both validated days.
    assert [(p[contract.ORDER_ID], p[contract.EVENT_TYPE]) for p in found["purchases"]] == [
        ("o2", contract.RETURN), ("o2", contract.PURCHASE), ("o1", contract.PURCHASE)
    ]  # fmt: skip


def test_lookup_of_a_customer_only_in_the_scores_and_bad_reasons(data_root: str) -> None:
    _publish_tables(data_root)
    found = customers.lookup_customer(data_root, "u3")
    assert found["profile"] is None and found["segment"] == "lost"
    assert found["churn"]["reasons"] == []  # unreadable reasons are logged, not fatal


def test_lookup_refuses_unknown_customers_and_days(data_root: str) -> None:
    _publish_tables(data_root)
    with pytest.raises(
        inputs.NotFound, match=r"customer 'u404' is not in the customer profiles of ds=2024-02-02"
    ):
        customers.lookup_customer(data_root, "u404")
    with pytest.raises(inputs.NotFound, match="no customer profiles for ds=2024-02-01"):
        customers.lookup_customer(data_root, "u1", dt.date(2024, 2, 1))


def test_lookup_on_an_empty_root_says_nothing_is_published(data_root: str) -> None:
    with pytest.raises(inputs.NotFound, match="nothing is published yet"):
        customers.lookup_customer(data_root, "u1")


def test_quality_of_an_empty_root_and_of_an_unknown_day(data_root: str) -> None:
    assert quality.data_quality(data_root)["ds"] is None
    with pytest.raises(inputs.NotFound, match="no validation summary for ds=2024-02-02"):
        quality.data_quality(data_root, dt.date(2024, 2, 2))
    with pytest.raises(inputs.NotFound, match="no behaviour report for ds=2024-02-02"):
        quality.report_file(data_root, dt.date(2024, 2, 2))
    assert quality.funnel(data_root, None, TableCache())["days"] == []
