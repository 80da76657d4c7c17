"""The ranking stage on the tiny shop: the planted signal, the freeze schedule, the output table,
the exported re-ranker, honest selection with champion scoring, and bad input."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ecom_tasks import storage
from ecom_tasks.contract import EVENT_TYPE, ITEM_ID, PURCHASE, TITLE, TS, USER_ID, VIEW
from ecom_tasks.errors import ConfigError, ContractError
from ecom_tasks.features import stage as feature_stage
from ecom_tasks.publish import evaluation
from ecom_tasks.publish.gate import GateConfig, evaluate_gate, split_metrics
from ecom_tasks.publish.tables import MODEL_VERSION, RANK, RETRIEVAL_RANK, SCORE
from ecom_tasks.ranking import core, data, export, outputs, train
from ecom_tasks.ranking.config import (
    CHAMPION_METRICS_FILE,
    HISTORY_FILE,
    SAVED_MODEL_DIR,
    SELECTED_HEAD,
    SELECTED_RETRIEVAL,
    SERVING_FEATURES,
    FreezeSchedule,
)
from ecom_tasks.ranking.model import build_head
from ecom_tasks.ranking.stage import champion_metrics, fine_tune_ranking, profiles_reader
from ecom_tasks.retrieval.backbone import load_backbone
from tests.ranking.conftest import DS, N_PREMIUM, ranking_config

END = pd.Timestamp(DS, tz="UTC") + pd.Timedelta(days=1)
METRIC_NAMES = {
    "ranking_ndcg_at_10",
    "ranking_recall_at_10",
    "retrieval_ndcg_at_10",
    "retrieval_recall_at_10",
}


@pytest.fixture(scope="module")
def first(shop_root: str) -> dict:
    return fine_tune_ranking(shop_root, DS, ranking_config())


@pytest.fixture(scope="module")
def backbone(shop_root: str):
    return load_backbone(storage.partition_uri(shop_root, "models", "retrieval", DS))


@pytest.fixture(scope="module")
def interactions(shop_root: str) -> pd.DataFrame:
    return storage.read_partition(
        storage.partition_uri(shop_root, "features", feature_stage.INTERACTIONS, DS)
    )


@pytest.fixture(scope="module")
def table(first: dict) -> pd.DataFrame:
    return storage.read_partition(first["recommendations_uri"])


def test_the_head_learns_the_planted_signal_and_beats_the_retrieval_order(first: dict) -> None:
    metrics = storage.read_json(first["metrics_uri"])
    assert set(metrics) >= METRIC_NAMES
    assert metrics["selected"] == SELECTED_HEAD and first["selected"] == SELECTED_HEAD
    assert metrics["ranking_ndcg_at_10"] > metrics["retrieval_ndcg_at_10"] + 0.03
    assert metrics["ranking_ndcg_at_10"] == metrics["head_ndcg_at_10"]
    assert metrics["valid_head_ndcg_at_10"] > metrics["valid_retrieval_ndcg_at_10"]  # chosen on validation
    # the gate's naming of the baseline's value of a candidate metric ("<prefix><metric>")
    assert metrics["retrieval_ranking_ndcg_at_10"] == metrics["retrieval_ndcg_at_10"]
    assert first["eval_users"] > 50 and first["train_seconds"] > 0
    candidate, baselines = split_metrics(metrics, ("retrieval_",))
    verdict = evaluate_gate("ranking", candidate, None, baselines, GateConfig(), ds=DS, champion_ds=None)
    assert verdict.blessed, verdict.checks  # the gate finds the retrieval baseline's value


def test_the_towers_stay_frozen_then_fine_tune(first: dict) -> None:
    history = storage.read_json(f"{first['model_uri']}/{HISTORY_FILE}")
    epochs = history["epochs"][1:]
    frozen = [e for e in epochs if e["phase"] == "frozen"]
    unfrozen = [e for e in epochs if e["phase"] == "unfrozen"]
    assert len(frozen) == 5 and len(unfrozen) == 1
    assert all(e["tower_change"] == 0.0 for e in frozen)
    assert unfrozen[0]["tower_change"] > 0 and unfrozen[0]["learning_rate"] < frozen[0]["learning_rate"]
    assert frozen[-1]["loss"] < frozen[0]["loss"]


def test_recommendations_hold_one_ranked_list_per_known_user(first: dict, table: pd.DataFrame) -> None:
    assert list(table.columns) == [USER_ID, RANK, ITEM_ID, SCORE, RETRIEVAL_RANK, TITLE, MODEL_VERSION]
    assert table[USER_ID].nunique() == 120 == first["recommendation_users"]
    for _, rows in table.groupby(USER_ID):
        assert rows[RANK].tolist() == [1, 2, 3, 4, 5]
        assert rows[ITEM_ID].is_unique
        assert (np.diff(rows[SCORE].to_numpy()) <= 1e-7).all()
    assert table[RETRIEVAL_RANK].between(1, 16).all() and table[TITLE].notna().all()
    assert table[MODEL_VERSION].nunique() == 1 and SELECTED_HEAD in table[MODEL_VERSION].iloc[0]
    premium = table[ITEM_ID].isin([f"i{i}" for i in range(N_PREMIUM)])
    assert premium[table[RANK] == 1].mean() > 0.9  # the head puts what people buy first


def test_the_saved_re_ranker_scores_like_the_table(
    shop_root: str, first: dict, table, backbone, interactions
) -> None:
    users = sorted(table[USER_ID].unique())[:4]
    profiles = profiles_reader(shop_root, backbone)(END)  # as of the end of ds, as the table
    lists = data.candidate_lists(backbone, interactions, profiles, users, END, None, candidates=16)
    scores = export.load_scorer(first["saved_model_uri"])(lists)
    top = outputs.top_lists(lists, scores, 5, "v")
    expected = table[table[USER_ID].isin(users)]
    assert top[ITEM_ID].tolist() == expected[ITEM_ID].tolist()
    np.testing.assert_allclose(top[SCORE], expected[SCORE], rtol=1e-5)


def test_honest_selection_publishes_the_identity_and_scores_the_champion(
    shop_root: str, first: dict, tmp_path
) -> None:
    root = str(tmp_path / "data")
    shutil.copytree(shop_root, root)
    config = ranking_config(min_improvement=1.0, schedule=FreezeSchedule(frozen_epochs=1, unfrozen_epochs=0))
    run = fine_tune_ranking(root, DS, config, champion_uri=first["model_uri"])
    metrics = storage.read_json(run["metrics_uri"])
    assert metrics["selected"] == SELECTED_RETRIEVAL and "does not beat" in metrics["selection"]
    assert metrics["ranking_ndcg_at_10"] == metrics["retrieval_ndcg_at_10"]
    assert metrics["head_ndcg_at_10"] is not None  # what the head did is recorded, not hidden
    champion = storage.read_json(f"{run['model_uri']}/{CHAMPION_METRICS_FILE}")
    assert set(champion) == {"ranking_ndcg_at_10", "ranking_recall_at_10"}
    # the champion (the first run's head) on the same held-out lists scores what it scored then
    first_metrics = storage.read_json(first["metrics_uri"])
    assert champion["ranking_ndcg_at_10"] == pytest.approx(first_metrics["ranking_ndcg_at_10"], abs=1e-4)
    # The gate's bootstrap resamples the evaluation users: on all of them, the recorded figures.
    frame = evaluation.read(run["model_uri"])
    users = np.arange(len(frame))
    assert len(frame) == run["eval_users"]
    for prefix, expected in [("", metrics), ("retrieval_", metrics), ("champion_", champion)]:
        value = evaluation.sampler(frame, "ranking_ndcg_at_10", prefix)(users)
        key = "ranking_ndcg_at_10" if prefix != "retrieval_" else "retrieval_ranking_ndcg_at_10"
        assert value == pytest.approx(expected[key], abs=1e-6), prefix
    published = storage.read_partition(run["recommendations_uri"])
    assert (published[RANK] == published[RETRIEVAL_RANK]).all()  # the retrieval order itself
    np.testing.assert_allclose(published[SCORE], 1.0 / published[RANK])


def test_already_bought_items_can_be_excluded(backbone, interactions, shop_root: str) -> None:
    items = storage.read_partition(
        storage.partition_uri(shop_root, "features", feature_stage.ITEM_FEATURES, DS)
    )
    config = ranking_config(exclude_purchased=True)
    frame = outputs.recommendations(
        backbone, interactions, items, None, core.identity_scores, config, end=END, model_version="v"
    )
    bought = interactions[interactions[EVENT_TYPE] == PURCHASE]
    pairs = set(zip(bought[USER_ID].astype(str), bought[ITEM_ID].astype(str), strict=True))
    assert len(frame) and not any(p in pairs for p in zip(frame[USER_ID], frame[ITEM_ID], strict=True))


def test_returned_items_are_never_recommended(backbone, interactions, shop_root: str) -> None:
    items = storage.read_partition(
        storage.partition_uri(shop_root, "features", feature_stage.ITEM_FEATURES, DS)
    )
    config = ranking_config()
    plain = outputs.recommendations(
        backbone, interactions, items, None, core.identity_scores, config, end=END, model_version="v"
    )
    firsts = plain[plain[RANK] == 1].head(5)
    returned = {str(u): {str(i)} for u, i in zip(firsts[USER_ID], firsts[ITEM_ID], strict=True)}
    frame = outputs.recommendations(
        backbone, interactions, items, None, core.identity_scores, config, end=END, model_version="v",
        returned=returned,
    )  # fmt: skip
    pairs = set(zip(frame[USER_ID].astype(str), frame[ITEM_ID].astype(str), strict=True))
    assert returned and not any((u, i) in pairs for u, its in returned.items() for i in its)
    for user in returned:  # the list is still full and ranked 1..k
        ranks = frame.loc[frame[USER_ID] == user, RANK].tolist()
        assert ranks == list(range(1, len(ranks) + 1)) and len(ranks) == (plain[USER_ID] == user).sum()


def test_returned_before_reads_return_lines_up_to_the_day(data_root: str) -> None:
    import datetime as dt

    from ecom_tasks.contract import EVENTS, RETURN

    day1, day2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
    for day, rows in ((day1, [("u1", "i1", RETURN), ("u1", "i2", PURCHASE)]), (day2, [("u2", "i3", RETURN)])):
        frame = pd.DataFrame(rows, columns=[USER_ID, ITEM_ID, EVENT_TYPE])
        frame[TS] = pd.Timestamp(day, tz="UTC")  # a validated line has its time (the contract)
        storage.write_partition(frame, storage.partition_uri(data_root, "validated", EVENTS, day), source="t")
    assert outputs.returned_before(data_root, day1) == {"u1": {"i1"}}  # not the day after
    assert outputs.returned_before(data_root, day2) == {"u1": {"i1"}, "u2": {"i3"}}
    assert outputs.exclusions(np.array(["u1", "u3"]), [["i9"], []], {"u1": {"i1"}}) == [["i1", "i9"], []]


def test_missing_inputs_are_named(data_root: str, shop_root: str) -> None:
    with pytest.raises(FileNotFoundError, match=r"models/retrieval/ds=2024-01-30.*pretrain_retrieval"):
        fine_tune_ranking(data_root, DS, ranking_config())
    shutil.copytree(f"{shop_root}/models/retrieval", f"{data_root}/models/retrieval")
    with pytest.raises(FileNotFoundError, match=r"features/training_interactions/ds=2024-01-30"):
        fine_tune_ranking(data_root, DS, ranking_config())
    with pytest.raises(ConfigError, match="eval_days: 6 leaves no training days"):
        fine_tune_ranking(shop_root, DS, ranking_config(eval_days=6))
    with pytest.raises(ConfigError, match=f"champion_uri: {data_root} holds no {SAVED_MODEL_DIR}"):
        fine_tune_ranking(shop_root, DS, ranking_config(), champion_uri=data_root)  # before training
    with pytest.raises(ConfigError, match=f"champion_uri: {data_root} holds no {SAVED_MODEL_DIR}"):
        champion_metrics(data_root, None, None)
    with pytest.raises(ContractError, match=r"missing column\(s\) \['ts'\]"):
        data.check_interactions(pd.DataFrame({USER_ID: ["u"], ITEM_ID: ["i"]}))


def test_no_positives_is_an_error_naming_the_window(backbone, interactions) -> None:
    start, cut = END - pd.Timedelta(days=6), END - pd.Timedelta(days=3)
    views_only = interactions.copy()
    in_window = (views_only[TS] >= start) & (views_only[TS] < cut)
    views_only.loc[in_window, EVENT_TYPE] = VIEW
    kwargs = {"train_cutoff": start, "eval_cutoff": cut, "end": END}
    with pytest.raises(core.RankingDataError, match=r"no positives: none of the .* training users bought"):
        core.train_and_evaluate(backbone, views_only, None, lambda ts: None, ranking_config(), **kwargs)
    before = interactions[interactions[TS] < start]
    with pytest.raises(core.RankingDataError, match="no training lists"):
        core.train_and_evaluate(backbone, before, None, lambda ts: None, ranking_config(), **kwargs)


def test_the_publish_wrapper_serves_the_artifact_with_its_derived_smoke_query(first: dict) -> None:
    from types import SimpleNamespace

    from ecom_tasks.publish.pyfunc_model import ArtifactModel

    wrapper = ArtifactModel()
    context = SimpleNamespace(
        model_config={"flavor": "tensorflow"}, artifacts={"model": first["saved_model_uri"]}
    )
    wrapper.load_context(context)
    answer = wrapper.predict(None, wrapper.smoke_input())
    assert answer["scores"].shape == (1, 1) and np.isfinite(answer["scores"]).all()


def test_the_untrained_head_ranks_exactly_in_the_retrieval_order(backbone, interactions) -> None:
    """The MLP corrects a retrieval-rank prior and starts at zero: before any step the head is the
    retrieval order (a freshly initialised MLP ranked far below it on a small shop)."""
    users = sorted(interactions[USER_ID].astype(str).unique())[:20]
    lists = data.candidate_lists(backbone, interactions, None, users, END, None, candidates=16)
    prices = np.full(len(backbone.vocabs.items), 3.0)
    head = build_head(backbone, ranking_config(), prices, lists.inputs[SERVING_FEATURES], base_rate=0.02)
    scores = train.predict(head, lists)
    order = np.argsort(-scores, axis=1, kind="stable")
    np.testing.assert_array_equal(np.take_along_axis(lists.item_ids, order, axis=1), lists.item_ids)
    assert np.all(np.diff(scores, axis=1) < 0)  # strictly decreasing with the retrieval rank
    assert 0.005 < scores[:, 0].mean() < 0.1  # near the training lists' purchase rate, not 0.5


def test_profiles_reader_takes_the_latest_profiles_including_training_profiles(tmp_path, caplog) -> None:
    """A first run or a backfill has no customer_profiles of the backbone's last training day, only
    build_training_data's training_profiles as of it: the ranking head trains on those (it read
    an older partition or none, then served with today's: a train/serve skew)."""
    root = str(tmp_path / "data")
    ds = pd.Timestamp("2024-03-10").date()

    def profiles(value: float) -> pd.DataFrame:
        return pd.DataFrame({USER_ID: ["u1"], "recency_days": [value]})

    def write(table: str, day: str, value: float, extra: dict | None = None) -> None:
        uri = storage.partition_uri(root, "features", table, pd.Timestamp(day).date())
        storage.write_partition(profiles(value), uri, source="test", extra=extra)

    write(feature_stage.PROFILES, "2024-02-20", 1.0)
    write(feature_stage.PROFILES, "2024-03-05", 4.0)
    write(feature_stage.PROFILES, "2024-03-10", 3.0)
    write(feature_stage.TRAINING_PROFILES, "2024-03-10", 2.0, {"as_of": "2024-03-03"})
    read = profiles_reader(root, SimpleNamespace(feature_columns=["recency_days"]), ds)

    def value(day: str) -> float | None:
        frame = read(pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1))  # the end of ``day``
        return None if frame is None else float(frame["recency_days"].iloc[0])

    assert value("2024-03-10") == 3.0  # that day's own partition
    assert value("2024-03-03") == 2.0  # the backbone's last training day: training_profiles
    assert value("2024-03-05") == 4.0
    with caplog.at_level("WARNING"):
        assert value("2024-03-04") == 2.0  # nothing of that day: the latest earlier one, logged
        assert value("2024-03-01") == 1.0
    assert "2024-02-20" in caplog.text and "1 days older" in caplog.text
    assert value("2024-02-01") is None
    no_features = profiles_reader(root, SimpleNamespace(feature_columns=[]), ds)
    assert no_features(pd.Timestamp("2024-03-11", tz="UTC")) is None
